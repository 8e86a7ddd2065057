"""Sentry-Hook-Signature: HMAC-SHA256 of the exact body bytes, keyed with a Client Secret, as
lowercase hex. Checked on the bytes received, before anything parses them."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence


def sign(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def signature_matches(body: bytes, header: str | None, secrets: Sequence[str]) -> bool:
    """True when the header is the signature of `body` under any of the secrets.

    Every secret is tried even after a match, and each comparison takes constant time, so the
    answer's timing says neither how much of a forged signature was right nor which secret of a
    rotation signed it."""
    if not header:
        return False
    try:
        given = header.strip().encode("ascii")
    except UnicodeEncodeError:
        return False
    matched = False
    for secret in secrets:
        matched |= hmac.compare_digest(sign(body, secret).encode("ascii"), given)
    return matched
