"""When to try a failed delivery again: the schedule's next delay with jitter, never sooner than
the target's `Retry-After`, and never after the schedule's last step (then it is dead)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

# Jitter: ±20% spreads the retries of many deliveries that failed together (an outage) so they
# do not all return in the same second.
JITTER = 0.2
MAX_RETRY_AFTER_SECONDS = 86_400.0


def next_delay(
    failures: int, schedule: Sequence[float], retry_after: float | None, rng: random.Random
) -> float | None:
    """Seconds until the next attempt after `failures` failed ones, or None when none is left."""
    if failures > len(schedule):
        return None
    delay = schedule[failures - 1] * rng.uniform(1 - JITTER, 1 + JITTER)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER_SECONDS))
    return delay


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds from now: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
