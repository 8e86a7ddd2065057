"""The committer: many requests, one transaction, and no request left without an answer."""

from __future__ import annotations

import asyncio
import hashlib
import threading

import pytest

from source_sentry.webhooks.committer import Committer
from source_sentry.webhooks.envelope import read_envelope
from source_sentry.webhooks.store import Incoming, StoreError
from source_sentry.webhooks.store.sqlite import SqliteStore
from tools.receiver import issue_body


def incoming(issue: str) -> Incoming:
    body = issue_body("created", issue, "unresolved")
    return Incoming(None, None, 0, body, hashlib.sha256(body).hexdigest(), read_envelope("issue", body))


class GatedStore(SqliteStore):
    """SQLite whose writes wait for the test to open the gate, counting transactions."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.batches: list[int] = []

    def record_batch(self, batch, retry_window_ms, extend=None):
        self.entered.set()
        self.gate.wait(10)
        self.batches.append(len(batch))
        return super().record_batch(batch, retry_window_ms, extend)


def test_given_requests_waiting_while_a_commit_runs_when_committed_then_one_transaction_holds_them(tmp_path):
    store = GatedStore(str(tmp_path / "d.sqlite3"))
    committer = Committer(store, 3_600_000)

    async def scenario():
        first = asyncio.ensure_future(committer.record(incoming("0")))
        assert await asyncio.to_thread(store.entered.wait, 10)  # the thread holds the first at the gate
        rest = [asyncio.ensure_future(committer.record(incoming(str(n)))) for n in range(1, 6)]
        await asyncio.sleep(0.1)
        store.gate.set()
        return await first, await asyncio.gather(*rest)

    first, rest = asyncio.run(scenario())
    committer.stop()
    assert store.batches == [1, 5]
    assert [r.seq for r in [first, *rest]] == [1, 2, 3, 4, 5, 6]


def test_given_one_delivery_the_store_refuses_when_batched_then_only_it_fails(tmp_path):
    store = SqliteStore(str(tmp_path / "d.sqlite3"))

    def refuse_issue_bad(conn, seq):
        if conn.execute("SELECT issue_id FROM deliveries WHERE seq = ?", (seq,)).fetchone()[0] == "bad":
            raise RuntimeError("refused")

    gate, entered = threading.Event(), threading.Event()
    original = store.record_batch

    def gated(batch, window, extend=None):
        entered.set()
        gate.wait(10)
        return original(batch, window, extend)

    store.record_batch = gated  # type: ignore[method-assign]
    committer = Committer(store, 3_600_000, extend=refuse_issue_bad)

    async def scenario():
        head = asyncio.ensure_future(committer.record(incoming("head")))
        assert await asyncio.to_thread(entered.wait, 10)
        batch = [asyncio.ensure_future(committer.record(incoming(i))) for i in ("a", "bad", "b")]
        await asyncio.sleep(0.1)
        gate.set()
        await head
        return await asyncio.gather(*batch, return_exceptions=True)

    a, bad, b = asyncio.run(scenario())
    committer.stop()
    assert isinstance(bad, StoreError)
    assert not a.duplicate
    assert not b.duplicate
    assert [e["issue_id"] for e in store.feed(0, 10)] == ["head", "a", "b"]


def test_given_request_cancelled_while_queued_when_committed_then_the_thread_still_serves_others(tmp_path):
    store = GatedStore(str(tmp_path / "d.sqlite3"))
    committer = Committer(store, 3_600_000)

    async def scenario():
        gone = asyncio.ensure_future(committer.record(incoming("gone")))
        await asyncio.sleep(0.1)
        gone.cancel()
        store.gate.set()
        with pytest.raises(asyncio.CancelledError):
            await gone
        return await asyncio.wait_for(committer.record(incoming("next")), 10)

    after = asyncio.run(scenario())
    committer.stop()
    assert after.seq == 2
    assert [e["issue_id"] for e in store.feed(0, 10)] == ["gone", "next"]
