"""Many requests, one transaction: the deliveries that arrive while a commit is in flight are
kept together in the next one.

A commit costs one fsync (a millisecond to several on ordinary disks) whatever it holds, and in
PostgreSQL the feed's order lock lets one transaction commit at a time. Committing each request
alone would cap a receiver at one fsync per delivery; here requests wait on a future while one
thread writes batches, so throughput grows with load and each request is answered only once its
own batch has committed.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass

from source_sentry.webhooks.store import Incoming, Recorded, Store, StoreError
from source_sentry.webhooks.store.base import Extension

MAX_BATCH = 500
log = logging.getLogger("source_sentry.webhooks")


@dataclass
class _Pending:
    incoming: Incoming
    future: Future[Recorded]


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
        future: Future[Recorded] = Future()
        self._queue.put(_Pending(incoming, future))
        return await asyncio.wrap_future(future)

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
            _settle(batch[0].future, failure)
            return
        if self._on_batch is not None:
            self._on_batch(len(batch))
        for pending, result in zip(batch, results, strict=True):
            _settle(pending.future, result)


def _settle(future: Future[Recorded], outcome: Recorded | StoreError) -> None:
    """A request whose client went away has cancelled its future; what it sent is committed all
    the same, and the thread must live on for the others."""
    try:
        if isinstance(outcome, StoreError):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)
    except InvalidStateError:
        pass
