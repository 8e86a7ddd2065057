"""kill -9 (and a graceful SIGTERM) of the receiver while a load generator sends: every delivery
answered 2xx is in the feed after the restart. Small on purpose (a few hundred deliveries);
`make bench` measures load."""

from __future__ import annotations

import asyncio
import signal

import httpx
import pytest

from tools.receiver import ReceiverProcess, headers, issue_body, read_feed

CONCURRENCY = 6
KILL_AFTER = 60  # answers
SENT_AT_MOST = 300


async def _load(receiver: ReceiverProcess, signum: int) -> tuple[set[str], int]:
    """Send until the receiver is gone; returns the issue ids answered 2xx and how many failed."""
    answered: set[str] = set()
    failures = 0
    numbers = iter(range(SENT_AT_MOST))

    async def sender(client: httpx.AsyncClient) -> None:
        nonlocal failures
        for n in numbers:
            body = issue_body("created", f"k{n}", "unresolved")
            try:
                answer = await client.post("/sentry/webhook", content=body, headers=headers(body, "issue"))
            except httpx.TransportError:
                failures += 1
                continue
            if answer.status_code == 200:
                answered.add(f"k{n}")
                if len(answered) == KILL_AFTER:
                    # With the other senders' requests in flight.
                    receiver.process.send_signal(signum)

    async with httpx.AsyncClient(base_url=receiver.base_url, timeout=5) as client:
        await asyncio.gather(*(sender(client) for _ in range(CONCURRENCY)))
    return answered, failures


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM], ids=["kill -9", "SIGTERM"])
def test_given_signal_under_load_when_restarted_then_every_delivery_answered_2xx_is_in_the_feed(
    database, tmp_path, signum
):
    receiver = _signalled_under_load(tmp_path, database, signum)
    if signum == signal.SIGTERM:
        assert "Stopped: every delivery answered is committed" in receiver.log_text()


def test_given_sqlite_synchronous_normal_when_killed_under_load_then_every_delivery_answered_2xx_is_kept(
    tmp_path,
):
    """`normal` gives up the fsync per commit, not what a killed process has written."""
    _signalled_under_load(
        tmp_path, str(tmp_path / "normal.sqlite3"), signal.SIGKILL, sqlite_synchronous="normal"
    )


def _signalled_under_load(tmp_path, database: str, signum: int, **settings) -> ReceiverProcess:
    receiver = ReceiverProcess(tmp_path, database, **settings).start()
    try:
        answered, failures = asyncio.run(_load(receiver, signum))
        receiver.process.wait(30)
    finally:
        receiver.kill()
    # SIGTERM: uvicorn drains, the app commits what is queued, and the process exits 0.
    assert receiver.process.returncode == (-9 if signum == signal.SIGKILL else 0), receiver.log_text()[-2000:]
    assert len(answered) >= KILL_AFTER
    assert failures > 0, "the load generator never met the stopped receiver"
    with ReceiverProcess(tmp_path, database, **settings) as restarted:
        kept = {entry["issue_id"] for entry in read_feed(restarted.base_url)}
    lost = answered - kept
    assert lost == set(), f"{len(lost)} deliveries answered 2xx are missing after the restart"
    return receiver
