"""What a fault rule or a spent rate limit does to an API answer (the rules themselves are
parsed and picked in ``faults``; the windows are counted in ``ratelimit``)."""

from __future__ import annotations

import json
import math
import time

from .data import _hex32
from .faults import Rule
from .ratelimit import RateLimiter
from .request import FORBIDDEN, NOT_FOUND
from .wire import Exchange

_HTML_TITLES = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Temporarily Unavailable",
    504: "Gateway Time-out",
}
STATUS_BODIES = {
    400: {"detail": "Bad request"},
    401: {"detail": "Invalid token"},
    403: FORBIDDEN,
    404: NOT_FOUND,
    409: {"detail": "Could not create the release it conflicts with existing data"},
    410: {"detail": "This API endpoint is deprecated and temporarily unavailable."},
    502: {"detail": "Bad Gateway"},
    503: {"detail": "Service Unavailable"},
    504: {"detail": "Gateway Timeout"},
}
_BODY_FAULTS = ("truncated", "incomplete", "malformed")


def _nginx_page(code: int) -> bytes:
    title = f"{code} {_HTML_TITLES.get(code, 'Error')}"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1>"
        f"</center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    ).encode()


def _deferred(rule: Rule) -> bool:
    """A 409 on release_create lets the handler create the release, as the racing request
    would have; only then is the client answered 409."""
    return rule.action[:3] == "409" and "release_create" in rule.target


def answer_before(out: Exchange, rule: Rule, limiter: RateLimiter, cat: str, seed: int) -> bool:
    """Answer in place of the handler if ``rule`` says so (or reset the connection); True if
    answered. ``slow`` and the body faults act later."""
    action = rule.action
    if action == "reset":
        out.reset()
    if not (action.isdigit() or action.endswith(("html", "legacy", "concurrent"))) or _deferred(rule):
        return False
    code = int(action[:3])
    if action.endswith("html"):
        out.send(code, _nginx_page(code), content_type="text/html")
    elif action.endswith("legacy"):
        out.send(code, {"detail": "You are attempting to use this endpoint too frequently. Limit is 3/1s"})
    elif action.endswith("concurrent"):
        limit, _window, conc = limiter.limits[cat]
        msg = (
            "You are attempting to go above the allowed concurrency for this endpoint. "
            f"Concurrency limit is {conc}"
        )
        send_429(out, msg, limiter.headers_for(cat, limit - 1, limiter.next_reset(cat), 0))
    elif code == 429:
        limit, window, _conc = limiter.limits[cat]
        reset = math.ceil(time.time() + (rule.arg if rule.arg is not None else 1))
        msg = (
            f"You are attempting to use this endpoint too frequently. Limit is {limit} requests in "
            f"{int(window) if float(window).is_integer() else window} seconds"
        )
        send_429(out, msg, limiter.headers_for(cat, 0, reset, None))
    elif code == 500:
        out.send(code, {"detail": "Internal Error", "errorId": _hex32(seed, "err", time.time_ns())})
    else:
        out.send(code, STATUS_BODIES.get(code, {"detail": "Error"}))
    return True


def send_429(out: Exchange, message: str, headers: dict[str, str]) -> None:
    """Sentry's 429: a JSON string served as text/html, with the rate-limit headers."""
    out.send(429, json.dumps(message).encode(), headers, content_type="text/html; charset=utf-8")


def delay(rule: Rule | None) -> None:
    if rule is not None and rule.action == "slow":
        time.sleep(rule.arg or 0)


def answer_after(
    out: Exchange, rule: Rule | None, status: int, body: object, headers: dict[str, str]
) -> None:
    """Send the handler's answer, as ``rule`` (if any) alters it."""
    if rule is not None and rule.action == "409" and _deferred(rule):
        status, body = 409, STATUS_BODIES[409]
    if rule is None or rule.action not in _BODY_FAULTS:
        out.send(status, body, headers)
        return
    raw = json.dumps(body).encode()
    if rule.action == "truncated":
        out.send(200, raw[: len(raw) // 2], headers)
    elif rule.action == "malformed":
        out.send(200, b")]}',\n" + raw, headers)
    else:
        out.send_incomplete(raw, headers)
