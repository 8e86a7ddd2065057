"""Sentry's per-endpoint rate limits: fixed windows aligned to the epoch, plus a concurrency cap.

As Sentry's middleware does: every request counts against the window, rejected ones included; the
window is checked first, and only a request within it is checked for concurrency (and, when
allowed, takes a slot). The headers then say which limit refused a 429: a window 429 has
`Remaining: 0` and no `ConcurrentRemaining` (the concurrency was not looked at); a concurrency 429
has `ConcurrentRemaining: 0` and what is left of the window. The slot is freed when the answer is
ready, before it is sent (see server.py)."""

from __future__ import annotations

import math
import threading
import time

# category -> (requests per window, window seconds, concurrent requests)
SENTRY_LIMITS: dict[str, tuple[int, float, int]] = {
    "events": (60, 60.0, 1),
    "issues": (5, 1.0, 25),
    "releases": (40, 1.0, 25),
    "default": (40, 1.0, 25),
}


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


class RateLimiter:
    """``mode`` is ``"sentry"``, ``"none"`` or a dict of overrides on top of the sentry limits:
    ``{"events": (5, 2.0)}`` or ``{"events": (5, 2.0, 1)}`` (limit, window seconds[, concurrent])."""

    def __init__(self, mode: str | dict = "sentry") -> None:
        self.enabled = mode != "none"
        self.limits = dict(SENTRY_LIMITS)
        if isinstance(mode, dict):
            for cat, val in mode.items():
                if cat not in self.limits:
                    raise ValueError(f"unknown rate-limit category {cat!r}; one of {sorted(self.limits)}")
                limit, window, *rest = val
                conc = rest[0] if rest else self.limits[cat][2]
                self.limits[cat] = (int(limit), float(window), int(conc))
        elif mode not in ("sentry", "none"):
            raise ValueError(f"rate_limits must be 'sentry', 'none' or a dict, not {mode!r}")
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, str], tuple[int, int]] = {}  # (cat, key) -> (bucket, count)
        self._inflight: dict[tuple[str, str], int] = {}

    def headers_for(self, cat: str, remaining: int, reset: int, conc_remaining: int | None) -> dict[str, str]:
        """``conc_remaining`` None: the concurrency was not checked (a window 429), and Sentry then
        leaves `ConcurrentRemaining` out."""
        limit, _window, conc = self.limits[cat]
        headers = {
            "X-Sentry-Rate-Limit-Limit": str(limit),
            "X-Sentry-Rate-Limit-Remaining": str(max(0, remaining)),
            "X-Sentry-Rate-Limit-Reset": str(reset),
            "X-Sentry-Rate-Limit-ConcurrentLimit": str(conc),
        }
        if conc_remaining is not None:
            headers["X-Sentry-Rate-Limit-ConcurrentRemaining"] = str(max(0, conc_remaining))
        return headers

    def next_reset(self, cat: str, now: float | None = None) -> int:
        _limit, window, _conc = self.limits[cat]
        now = time.time() if now is None else now
        return math.ceil((math.floor(now / window) + 1) * window)

    def enter(self, cat: str, key: str) -> tuple[dict[str, str], str | None]:
        """Count one request. Returns (headers, 429 message); no message: the request may go on."""
        limit, window, conc = self.limits[cat]
        now = time.time()
        bucket = math.floor(now / window)
        reset = math.ceil((bucket + 1) * window)
        with self._lock:
            b, count = self._windows.get((cat, key), (bucket, 0))
            if b != bucket:
                count = 0
            count += 1
            self._windows[(cat, key)] = (bucket, count)
            inflight = self._inflight.get((cat, key), 0)
            if count > limit:
                msg = (
                    f"You are attempting to use this endpoint too frequently. Limit is {limit} "
                    f"requests in {_num(window)} seconds"
                )
                return self.headers_for(cat, 0, reset, None), msg
            if inflight >= conc:
                msg = (
                    "You are attempting to go above the allowed concurrency for this endpoint. "
                    f"Concurrency limit is {conc}"
                )
                return self.headers_for(cat, limit - count, reset, 0), msg
            self._inflight[(cat, key)] = inflight + 1
            return self.headers_for(cat, limit - count, reset, conc - inflight - 1), None

    def leave(self, cat: str, key: str) -> None:
        with self._lock:
            self._inflight[(cat, key)] = max(0, self._inflight.get((cat, key), 1) - 1)
