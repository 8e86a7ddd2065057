"""Many requests, one transaction: the deliveries that arrive while a commit is in flight are
kept together in the next one.

A commit costs one fsync (a millisecond to several on ordinary disks) whatever it holds, and in
PostgreSQL the feed's order lock lets one transaction commit at a time. Committing each request
alone would cap a receiver at one fsync per delivery; here requests wait on a future while one
thread writes batches, so throughput grows with load and each request is answered only once its
own batch has committed.

Each request waits on a future of its own event loop; once a batch has committed, the thread
hands the loop every answer of the batch in one call (one wake-up of the loop per batch, not one
per request).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from source_sentry.webhooks.store import Incoming, Recorded, Store, StoreError
from source_sentry.webhooks.store.base import Extension

MAX_BATCH = 500
log = logging.getLogger("source_sentry.webhooks")


_Answer = tuple["asyncio.Future[Recorded]", "Recorded | StoreError"]


@dataclass
class _Pending:
    incoming: Incoming
    future: asyncio.Future[Recorded]


class Committer:
    def __init__(
        self,
        store: Store,
        retry_window_ms: int,
        extend: Extension | None = None,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self._store = store
        self._retry_window_ms = retry_window_ms
        self._extend = extend
        self._on_batch = on_batch
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="webhooks-committer", daemon=True)
        self._thread.start()

    async def record(self, incoming: Incoming) -> Recorded:
        future: asyncio.Future[Recorded] = asyncio.get_running_loop().create_future()
        self._queue.put(_Pending(incoming, future))
        return await future

    def stop(self) -> None:
        """Commit what is queued, then end the thread."""
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stopping = False
            while len(batch) < MAX_BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            self._commit(batch)
            if stopping:
                return

    def _commit(self, batch: list[_Pending]) -> None:
        try:
            results = self._store.record_batch(
                [p.incoming for p in batch], self._retry_window_ms, self._extend
            )
        except Exception as error:  # noqa: BLE001 - every waiting request must get an answer
            if len(batch) > 1:
                # One delivery the store refuses must not fail the others with it.
                for pending in batch:
                    self._commit([pending])
                return
            log.error("Could not keep a delivery: %s", error)
            failure = error if isinstance(error, StoreError) else StoreError(str(error))
            _answer(batch, [failure])
            return
        if self._on_batch is not None:
            self._on_batch(len(batch))
        _answer(batch, results)


def _answer(batch: list[_Pending], outcomes: Sequence[Recorded | StoreError]) -> None:
    """Hand each waiting request its outcome, in one call per event loop (a receiver has one)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Answer]] = {}
    for pending, outcome in zip(batch, outcomes, strict=True):
        by_loop.setdefault(pending.future.get_loop(), []).append((pending.future, outcome))
    for loop, answers in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle, answers)
        except RuntimeError:
            # The loop has closed (its requests are gone); what they sent is committed.
            pass


def _settle(answers: list[_Answer]) -> None:
    """In the loop: a request whose client went away has cancelled its future; what it sent is
    committed all the same."""
    for future, outcome in answers:
        if future.done():
            continue
        if isinstance(outcome, StoreError):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)
