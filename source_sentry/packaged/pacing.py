"""Concurrency pacing for the packaged connector: at most as many requests in flight to one
endpoint as Sentry allows (`X-Sentry-Rate-Limit-ConcurrentLimit`), so that num_workers > 1 does
not earn concurrency 429s on sentry.io's events endpoint (one request in flight per user).

The manifest's `api_budget` (an HTTPAPIBudget of fixed windows) paces the count per window from
`Remaining`/`Reset` but cannot hold a request back while another is in flight; this wraps it and
adds one pool of slots per budget policy (each policy matches one endpoint, the unit Sentry limits).
The CDK calls `acquire_call` before each request and `update_from_response` after its answer, on
the same thread (`LimiterMixin.send`): a slot is taken in the first and given back in the second.

- Until an answer of the endpoint has said its limit, one request goes at a time: the first
  answer tells the limit, and the others wait only for it.
- An answer of 2xx without `ConcurrentLimit` (self-hosted Sentry usually sends no rate-limit
  headers) lifts the cap for that endpoint; an error answer without it (a proxy's 502) changes
  nothing.
- A request that raises (a reset connection) gets no answer: the thread's slot is given back when
  that thread sends its next request (the CDK retries on the same thread), and any slot held past
  `stale_after` seconds is taken back, so a lost slot can delay others but never stall the sync.

The Cloud manifest has no such pacing: there, a concurrency 429 is retried by the error handler's
backoff (about a second), which is correct, only slower.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
from airbyte_cdk.sources.streams.call_rate import AbstractAPIBudget, AbstractCallRatePolicy, APIBudget

CONCURRENT_LIMIT_HEADER = "X-Sentry-Rate-Limit-ConcurrentLimit"

UNLIMITED = -1  # the server said nothing about concurrency on a good answer: no cap


@dataclass
class _Pool:
    limit: int | None = None  # None: not told yet (one at a time); UNLIMITED: no cap
    answered: bool = False  # any answer came, whether it told the limit or not
    in_flight: dict[int, float] = field(default_factory=dict)  # thread ident -> since (clock)

    def has_room(self) -> bool:
        if self.limit == UNLIMITED:
            return True
        return len(self.in_flight) < (self.limit or 1)


class ConcurrencyPacedBudget(APIBudget):
    """`inner`'s window pacing, plus a cap on requests in flight per policy (see the module)."""

    def __init__(
        self,
        inner: AbstractAPIBudget,
        *,
        stale_after: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(policies=[])
        self._inner = inner
        self._stale_after = stale_after
        self._clock = clock
        self._cond = threading.Condition()
        self._pools: dict[int, _Pool] = {}  # id(policy) -> its pool
        self._holding: dict[int, int] = {}  # thread ident -> id(policy) of the slot it holds

    @property
    def inner(self) -> AbstractAPIBudget:
        return self._inner

    def get_matching_policy(self, request: Any) -> AbstractCallRatePolicy | None:
        return self._inner.get_matching_policy(request)

    def acquire_call(self, request: Any, block: bool = True, timeout: float | None = None) -> None:
        policy = self._inner.get_matching_policy(request)
        if policy is not None:
            self._take_slot(id(policy))
        try:
            self._inner.acquire_call(request, block=block, timeout=timeout)
        except BaseException:
            self._give_back()
            raise

    def update_from_response(self, request: Any, response: Any) -> None:
        try:
            self._inner.update_from_response(request, response)
            policy = self._inner.get_matching_policy(request)
            if policy is not None and isinstance(response, requests.Response):
                self._learn(id(policy), response)
        finally:
            self._give_back()

    def in_flight(self, request: Any) -> int:
        """Requests in flight to `request`'s endpoint (for tests and logs)."""
        policy = self._inner.get_matching_policy(request)
        with self._cond:
            pool = self._pools.get(id(policy)) if policy is not None else None
            return len(pool.in_flight) if pool else 0

    def limit(self, request: Any) -> int | None:
        """The cap learnt for `request`'s endpoint: None (not told yet), UNLIMITED or a count."""
        policy = self._inner.get_matching_policy(request)
        with self._cond:
            pool = self._pools.get(id(policy)) if policy is not None else None
            return pool.limit if pool else None

    def wait_for_limit(self, request: Any, timeout: float) -> int | None:
        """The cap for `request`'s endpoint once it has answered (UNLIMITED when a good answer said
        nothing); None if no budget policy matches it, if its answers so far did not tell (an
        error without the header), or if none came within `timeout` seconds."""
        policy = self._inner.get_matching_policy(request)
        if policy is None:
            return None
        deadline = self._clock() + timeout
        with self._cond:
            pool = self._pools.setdefault(id(policy), _Pool())
            while pool.limit is None and not pool.answered:
                left = deadline - self._clock()
                if left <= 0:
                    return None
                self._cond.wait(timeout=left)
            return pool.limit

    def _take_slot(self, key: int) -> None:
        me = threading.get_ident()
        with self._cond:
            # A slot this thread still holds is left from a request that raised instead of being
            # answered: this thread sends one request at a time, so it is free now.
            self._release_locked(me)
            pool = self._pools.setdefault(key, _Pool())
            while not pool.has_room():
                self._reclaim_stale_locked(pool)
                if pool.has_room():
                    break
                self._cond.wait(timeout=self._wait_for(pool))
            pool.in_flight[me] = self._clock()
            self._holding[me] = key

    def _wait_for(self, pool: _Pool) -> float:
        oldest = min(pool.in_flight.values(), default=self._clock())
        return max(0.01, oldest + self._stale_after - self._clock())

    def _reclaim_stale_locked(self, pool: _Pool) -> None:
        now = self._clock()
        for ident, since in list(pool.in_flight.items()):
            if now - since >= self._stale_after:
                del pool.in_flight[ident]
                self._holding.pop(ident, None)

    def _learn(self, key: int, response: requests.Response) -> None:
        told = response.headers.get(CONCURRENT_LIMIT_HEADER)
        with self._cond:
            pool = self._pools.setdefault(key, _Pool())
            pool.answered = True
            if told is not None:
                try:
                    pool.limit = max(1, int(told))
                except ValueError:
                    return
            elif response.ok:
                pool.limit = UNLIMITED
            self._cond.notify_all()

    def _give_back(self) -> None:
        with self._cond:
            self._release_locked(threading.get_ident())

    def _release_locked(self, ident: int) -> None:
        key = self._holding.pop(ident, None)
        if key is None:
            return
        pool = self._pools.get(key)
        if pool is not None:
            pool.in_flight.pop(ident, None)
        self._cond.notify_all()
