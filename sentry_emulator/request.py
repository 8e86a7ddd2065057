"""One API request as the handlers see it, and the errors a handler raises."""

from __future__ import annotations

import json
from email.message import Message
from typing import TYPE_CHECKING

from .paging import Cursor, glitchtip_link_header, link_header
from .timeutil import now_us, parse_iso, parse_period

if TYPE_CHECKING:
    from .api_token import Token

NOT_FOUND = {"detail": "The requested resource does not exist"}
FORBIDDEN = {"detail": "You do not have permission to perform this action."}


class ApiError(Exception):
    def __init__(self, status: int, body: object) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body


class Request:
    """Method, decoded path, query pairs, headers and body; the handler adds ``extra_headers``."""

    def __init__(
        self, method: str, path: str, pairs: list[tuple[str, str]], headers: Message, body: bytes, base: str
    ) -> None:
        self.method = method
        self.path = path
        self.pairs = pairs
        self.params: dict[str, list[str]] = {}
        for k, v in pairs:
            self.params.setdefault(k, []).append(v)
        self.headers = headers
        self.raw_body = body
        self.base = base
        self.token: Token | None = None
        self.extra_headers: dict[str, str] = {}
        self.dialect = "sentry"

    @property
    def caller(self) -> Token:
        """The authenticated token: the server sets it before the handler of any non-public endpoint
        runs, so a handler that reaches for it on a public endpoint is a bug in the emulator."""
        if self.token is None:
            raise RuntimeError(f"{self.method} {self.path}: no authenticated token on this request")
        return self.token

    def param(self, name: str, default: str | None = None) -> str | None:
        vals = self.params.get(name)
        return vals[-1] if vals else default

    def json_body(self) -> dict:
        try:
            data = json.loads(self.raw_body.decode("utf-8") or "null") if self.raw_body else {}
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(400, {"detail": f"JSON parse error - {exc}"}) from exc
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ApiError(
                400,
                {
                    "non_field_errors": [
                        f"Invalid data. Expected a dictionary, but got {type(data).__name__}."
                    ]
                },
            )
        return data

    def link(self, prev: Cursor, nxt: Cursor) -> None:
        build = glitchtip_link_header if self.dialect == "glitchtip" else link_header
        self.extra_headers["Link"] = build(self.base, self.path, self.pairs, prev, nxt)

    def date_window(self, default_period: int | None) -> tuple[int | None, int | None]:
        """``statsPeriod`` wins over ``start``/``end`` (both or neither); else the default period."""
        period, start, end = self.param("statsPeriod"), self.param("start"), self.param("end")
        now = now_us()
        if period:
            try:
                return now - parse_period(period), now
            except ValueError as exc:
                raise ApiError(400, {"detail": f"Invalid statsPeriod: {period}"}) from exc
        if start or end:
            if not (start and end):
                raise ApiError(400, {"detail": "start and end are both required"})
            vals = []
            for v in (start, end):
                try:
                    vals.append(parse_iso(v))
                except ValueError as exc:
                    raise ApiError(400, {"detail": f"{v} is not a valid ISO8601 date query"}) from exc
            return vals[0], vals[1]
        if default_period is not None:
            return now - default_period, now
        return None, None


def body_date(data: dict, key: str) -> tuple[int, int] | None:
    """An optional date field of a JSON body, as (microseconds, 6 digits); a bad one is a 400."""
    raw = data.get(key)
    if raw is None:
        return None
    try:
        us = parse_iso(str(raw))
    except ValueError as exc:
        raise ApiError(
            400,
            {
                key: [
                    "Datetime has wrong format. Use one of these formats instead: "
                    "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
                ]
            },
        ) from exc
    return (us, 6)
