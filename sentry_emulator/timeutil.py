"""Instants as integer microseconds since the Unix epoch (UTC), and Sentry-style ISO-8601 text.

Sentry prints dates with 0, 3 or 6 fractional digits and a ``Z``. An instant stored here is
always quantized to the precision it is printed with, so the printed text and the value
used for filtering and sorting are the same instant.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

US = 1_000_000
_STEP = {0: US, 3: 1_000, 6: 1}


def now_us() -> int:
    return time.time_ns() // 1_000


def quantize(us: int, digits: int) -> int:
    """Round ``us`` down to the precision of ``digits`` fractional digits."""
    step = _STEP[digits]
    return us - (us % step)


def fmt(us: int, digits: int = 6) -> str:
    """Format an instant as Sentry does: ``2024-05-21T11:26:16[.190|.190281]Z``."""
    sec, frac = divmod(us, US)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
    if digits == 0:
        return base + "Z"
    if digits == 3:
        return f"{base}.{frac // 1000:03d}Z"
    return f"{base}.{frac:06d}Z"


_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_iso(text: str) -> int:
    """Parse ISO-8601 (``Z``, offset or naive = UTC; 0-6 fraction digits) to microseconds.

    Raises ValueError on anything else.
    """
    s = text.strip()
    if not s:
        raise ValueError("empty date")
    if _DATE_ONLY.match(s):
        s += "T00:00:00"
    dt = datetime.fromisoformat(s)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    delta = dt - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * US + delta.microseconds


_PERIOD = re.compile(r"^(\d+)([smhdw])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def parse_period(text: str) -> int:
    """``24h``/``14d``/``30m``/``2w``/``10s`` to microseconds. Raises ValueError."""
    m = _PERIOD.match(text.strip())
    if not m:
        raise ValueError(f"Invalid statsPeriod: {text!r}")
    return int(m.group(1)) * _UNIT[m.group(2)] * US
