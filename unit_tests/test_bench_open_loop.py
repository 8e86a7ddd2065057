"""The bench's open loop sends each delivery when it is due, however many are still waiting for an
answer: the server's slowness shows as latency, never as a generator holding deliveries back."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from aiohttp import web

from tools.bench import webhooks
from tools.postgres import free_port

ANSWER_AFTER_S = 0.25


@pytest.fixture
def slow_server() -> Iterator[tuple[str, list[int]]]:
    """A server answering every POST after ANSWER_AFTER_S; also counts the most requests it held
    at once."""
    held = [0, 0]  # now, most

    async def answer(request: web.Request) -> web.Response:
        await request.read()
        held[0] += 1
        held[1] = max(held[1], held[0])
        await asyncio.sleep(ANSWER_AFTER_S)
        held[0] -= 1
        return web.json_response({"seq": 1, "duplicate": False})

    loop = asyncio.new_event_loop()
    app = web.Application()
    app.router.add_post("/sentry/webhook", answer)
    runner = web.AppRunner(app, access_log=None)
    port = free_port()
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}", held
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def test_given_a_server_holding_more_requests_than_the_closed_loop_keeps_then_each_is_sent_when_due(
    slow_server: tuple[str, list[int]],
) -> None:
    base_url, held = slow_server
    rate = 400.0  # 100 in flight at 0.25 s each: more than CONNECTIONS
    assert rate * ANSWER_AFTER_S > webhooks.CONNECTIONS
    result = webhooks._worker(base_url, "open-loop-", rate, 1.0)
    assert result["errors"] == 0
    assert len(result["answered"]) == 400
    # Capped at CONNECTIONS (128 answers a second here), the last deliveries would have waited
    # about 2 s for a free connection on top of the server's 0.25 s (measured: 2.35 s in all).
    assert max(result["latencies"]) < ANSWER_AFTER_S + 0.75
    assert held[1] > webhooks.CONNECTIONS
