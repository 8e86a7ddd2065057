"""How a browser holds the admin token: it is typed once into the status page's login form,
which answers with an HttpOnly, SameSite=Strict cookie holding not the token but an expiry and
an HMAC of it keyed with the token (so the token never sits in the browser, and changing
`admin_token` ends every session). Forms carry a second HMAC of the same expiry as their CSRF
field. Scripts send `Authorization: Bearer <admin_token>` instead."""

from __future__ import annotations

import hashlib
import hmac
import time

COOKIE = "forward_session"
SESSION_SECONDS = 12 * 3600


def _mac(token: str, purpose: str, expiry: int) -> str:
    return hmac.new(token.encode("utf-8"), f"{purpose}:{expiry}".encode(), hashlib.sha256).hexdigest()


def new_session(token: str, now: float | None = None) -> str:
    expiry = int((now if now is not None else time.time()) + SESSION_SECONDS)
    return f"{expiry}.{_mac(token, 'session', expiry)}"


def session_expiry(token: str, cookie: str | None, now: float | None = None) -> int | None:
    """The expiry of a valid, unexpired session cookie, else None."""
    if not cookie:
        return None
    expiry_text, _, mac = cookie.partition(".")
    if not expiry_text.isdigit():
        return None
    expiry = int(expiry_text)
    if expiry < (now if now is not None else time.time()):
        return None
    return expiry if hmac.compare_digest(mac, _mac(token, "session", expiry)) else None


def csrf_for(token: str, expiry: int) -> str:
    return _mac(token, "csrf", expiry)


def bearer_matches(token: str, header: str | None) -> bool:
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())
