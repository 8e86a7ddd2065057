"""Sentry cursors and the ``Link`` header."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote, urlencode


class BadRequest(Exception):
    """400 with a JSON body."""

    def __init__(self, body: object) -> None:
        super().__init__(body)
        self.body = body


@dataclass(frozen=True)
class Cursor:
    value: int | float
    offset: int
    is_prev: bool
    has_results: bool = True

    def __str__(self) -> str:
        return f"{self.value}:{self.offset}:{int(self.is_prev)}"


def parse_cursor(raw: str | None) -> Cursor | None:
    """``value:offset:is_prev``; empty means none; anything else is a 400 (as Sentry)."""
    if not raw:
        return None
    bits = raw.split(":")
    try:
        if len(bits) != 3:
            raise ValueError(raw)
        value = float(bits[0]) if "." in bits[0] else int(bits[0])
        offset, is_prev = int(bits[1]), int(bits[2])
        if offset < 0 or is_prev not in (0, 1):
            raise ValueError(raw)
    except ValueError as exc:
        raise BadRequest({"detail": "Invalid cursor parameter."}) from exc
    return Cursor(value, offset, bool(is_prev))


def parse_per_page(
    params: dict[str, list[str]],
    name: str = "per_page",
    default: int = 100,
    maximum: int = 100,
    clamp: bool = False,
) -> int:
    raw = params.get(name, [None])[-1]
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise BadRequest({"detail": f"Invalid {name} parameter."}) from exc
    if value < 1:
        raise BadRequest({"detail": f"Invalid {name} parameter."})
    if value > maximum:
        if clamp:
            return maximum
        raise BadRequest({"detail": f"Invalid {name} value. Cannot exceed {maximum}."})
    return value


def link_header(base: str, path: str, pairs: list[tuple[str, str]], prev: Cursor, nxt: Cursor) -> str:
    """Two entries, previous then next, like Sentry's ``build_cursor_link``.

    ``pairs`` is the request's query string in order; its ``cursor`` is dropped and the new one
    appended; with no other parameters the URL ends in ``?&cursor=``.
    """
    kept = [(k, v) for k, v in pairs if k != "cursor"]
    qs = urlencode(kept)
    url = f"{base}{quote(path, safe='/')}?{qs}" if qs else f"{base}{quote(path, safe='/')}?"
    out = []
    for name, cur in (("previous", prev), ("next", nxt)):
        out.append(
            f'<{url}&cursor={cur}>; rel="{name}"; results="{"true" if cur.has_results else "false"}"; '
            f'cursor="{cur}"'
        )
    return ", ".join(out)


def offset_page(total: int, cursor: Cursor | None, limit: int) -> tuple[int, int, Cursor, Cursor]:
    """Offset paginator: returns (start, stop, prev, next); value stays 0."""
    offset = cursor.offset if cursor else 0
    stop = min(total, offset + limit)
    prev = Cursor(0, max(0, offset - limit), True, offset > 0)
    nxt = Cursor(0, offset + limit, False, offset + limit < total)
    return offset, stop, prev, nxt


class PagedRequest(Protocol):
    """What a page of a list needs of the request (request.Request, which imports this module)."""

    params: dict[str, list[str]]

    def param(self, name: str, default: str | None = None) -> str | None: ...

    def link(self, prev: Cursor, nxt: Cursor) -> None: ...


def offset_list(req: PagedRequest, items: list) -> list:
    """The page of ``items`` the request's ``cursor`` and ``per_page`` ask for; sets its Link."""
    cursor, per_page = parse_cursor(req.param("cursor")), parse_per_page(req.params)
    start, stop, prev, nxt = offset_page(len(items), cursor, per_page)
    req.link(prev, nxt)
    return items[start:stop]


def _idx_le(neg: list[int], value: float) -> int:
    import bisect

    return bisect.bisect_left(neg, -value)


def _idx_lt(neg: list[int], value: float) -> int:
    import bisect

    return bisect.bisect_right(neg, -value)


def score_window(neg: list[int], cursor: Cursor | None, limit: int) -> tuple[int, int]:
    """[start, stop) for a score paginator over items sorted by score descending.

    ``neg`` holds the negated scores (ascending). A forward cursor ``(V, O)`` means: skip ``O``
    items among those with score <= V; a previous cursor ``(V, O, 1)`` means: the page that
    ends ``O`` items before the first item with score < V.
    """
    n = len(neg)
    if cursor is None:
        return 0, min(n, limit)
    if cursor.is_prev:
        end = max(0, _idx_lt(neg, cursor.value) - cursor.offset)
        return max(0, end - limit), end
    start = min(n, _idx_le(neg, cursor.value) + cursor.offset)
    return start, min(n, start + limit)


def score_cursors(neg: list[int], start: int, stop: int) -> tuple[Cursor, Cursor]:
    n = len(neg)
    if stop > 0:
        last = -neg[stop - 1]
        nxt = Cursor(last, stop - _idx_le(neg, last), False, stop < n)
    else:
        nxt = Cursor(-neg[0] if n else 0, 0, False, stop < n)
    first = -neg[start] if start < n else (-neg[-1] if n else 0)
    prev = Cursor(first, max(0, _idx_lt(neg, first) - start), True, start > 0)
    return prev, nxt


# GlitchTip: an opaque base64 cursor, and a Link header that is the text of a Python set holding
# one string (`{'<...>; rel="previous"; results="false", <...>; rel="next"; ...'}`); a link
# without results carries no cursor. Its cursor decoding skips characters outside base64, which
# is why clients that keep the `"'}` tail a lenient Link parser leaves on the last cursor still
# page correctly. (Unpadded: a `=` in the attribute makes requests' Link parser drop it.)
def glitchtip_cursor(cur: Cursor) -> str:
    return base64.b64encode(str(cur).encode()).decode().rstrip("=")


def from_glitchtip_cursor(raw: str) -> str:
    """The ``value:offset:is_prev`` text of a GlitchTip cursor; 400 when it is not one."""
    try:
        return base64.b64decode(re.sub(r"[^A-Za-z0-9+/]", "", raw) + "==", validate=False).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest({"detail": "Invalid cursor"}) from exc


def glitchtip_link_header(
    base: str, path: str, pairs: list[tuple[str, str]], prev: Cursor, nxt: Cursor
) -> str:
    kept = [(k, v) for k, v in pairs if k != "cursor"]
    url = f"{base}{quote(path, safe='/')}"
    own = f"{url}?{urlencode(kept)}" if kept else url
    links = []
    for name, cur in (("previous", prev), ("next", nxt)):
        if cur.has_results:
            token = glitchtip_cursor(cur)
            query = urlencode([*kept, ("cursor", token)])
            links.append(f'<{url}?{query}>; rel="{name}"; results="true"; cursor="{token}"')
        else:
            links.append(f'<{own}>; rel="{name}"; results="false"')
    return str({", ".join(links)})
