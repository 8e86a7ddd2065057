"""Numbers in the receiver's settings, read one way whichever setting and wherever from: a JSON
number in the settings file, or text (in the environment, or quoted in the file).

A problem names the setting, says what is wrong with the value and what to give:
`retention_days: 0 is out of range; give a whole number from 1 to 3650.`
"""

from __future__ import annotations

import math
import re
from typing import Any

WHOLE = re.compile(r"[+-]?[0-9]+")
# ASCII digits only: Python's int() and float() also take other scripts' digits and "1_000".
DECIMAL = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")


class NumberError(ValueError):
    """A number setting the operator must fix; the message says which and how."""


def whole_number(name: str, value: Any, low: int, high: int) -> int:
    return int(_bounded(name, value, low, high, whole=True))


def number(name: str, value: Any, low: float, high: float) -> float:
    return _bounded(name, value, low, high, whole=False)


def _bounded(name: str, value: Any, low: float, high: float, whole: bool) -> float:
    kind = "a whole number" if whole else "a number"
    parsed = _parse(value, whole)
    if parsed is None:
        problem = f"{_shown(value)} is not {kind}"
    elif not low <= parsed <= high:
        problem = f"{_shown(value, quoted=False)} is out of range"
    else:
        return parsed
    raise NumberError(f"{name}: {problem}; give {kind} from {_plain(low)} to {_plain(high)}.")


def _parse(value: Any, whole: bool) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) and not whole else None
    if isinstance(value, str):
        text = value.strip()
        if whole:
            if not WHOLE.fullmatch(text):
                return None
            # int() refuses text of thousands of digits; any that long is out of range anyway.
            return int(text) if len(text) <= 30 else math.copysign(math.inf, -1 if text[0] == "-" else 1)
        if DECIMAL.fullmatch(text):
            parsed = float(text)
            return parsed if math.isfinite(parsed) else None
    return None


def _shown(value: Any, quoted: bool = True) -> str:
    """The value as given (text quoted, so that an empty one shows), cut short if long."""
    text = value.strip() if isinstance(value, str) else value
    shown = repr(text) if quoted or not isinstance(text, str) else text
    return shown if len(shown) <= 40 else shown[:37] + "..."


def _plain(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else str(bound)
