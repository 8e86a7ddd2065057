"""Python components the packaged connector (pip, Docker image) puts in place of manifest pieces
that do the same work slower. `packaged.py` swaps them in when the manifest is loaded; the Cloud
manifest, which cannot carry Python, keeps the declarative originals. Each class does exactly what
the piece it replaces does (a differential test syncs both variants and compares), only cheaper.

The page body is decoded once per response and kept on it: the error handler (which must look at
it to retry an unreadable 200) decodes it, and the record extractor then reads the same object.
"""

from __future__ import annotations

import json
import re
from collections.abc import Generator, Iterable, Mapping, MutableMapping
from dataclasses import InitVar, dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Final

import orjson
import requests
from airbyte_cdk.sources.declarative.decoders import JsonDecoder
from airbyte_cdk.sources.declarative.interpolation.macros import str_to_datetime
from airbyte_cdk.sources.declarative.requesters.error_handlers import DefaultErrorHandler, HttpResponseFilter
from airbyte_cdk.sources.declarative.requesters.paginators.strategies.pagination_strategy import (
    PaginationStrategy,
)
from airbyte_cdk.sources.types import Config, Record, StreamSlice, StreamState

# The manifest's `unreadable_body` filter: the predicate it asks the CDK to render per response.
UNREADABLE_PREDICATE: Final = "{{ response == {} }}"

_BODY_ATTRIBUTE: Final = "_source_sentry_body"
_UNREADABLE: Final = object()


def page_body(response: requests.Response) -> Any:
    """The response's JSON body, decoded on first use and kept on the response; `_UNREADABLE` when
    the bytes are not JSON. orjson first, the standard library as fallback, as the CDK's own
    JsonParser does (the standard library also reads NaN and Infinity)."""
    cached = response.__dict__.get(_BODY_ATTRIBUTE, _BODY_ATTRIBUTE)
    if cached is not _BODY_ATTRIBUTE:
        return cached
    try:
        body: Any = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        try:
            body = json.loads(response.content.decode("utf-8"))
        except ValueError:  # UnicodeDecodeError and JSONDecodeError both are
            body = _UNREADABLE
    response.__dict__[_BODY_ATTRIBUTE] = body
    return body


class SharedJsonDecoder(JsonDecoder):
    """The CDK's JsonDecoder, reading the body the error handler already decoded.

    Why not the manifest: its JsonDecoder, its paginator and its response filters each decode
    the page again (three decodes per page were a third of the sync's CPU), and no declarative
    option lets them share one."""

    def __init__(self, parameters: Mapping[str, Any] | None = None) -> None:
        super().__init__(parameters=parameters or {})

    def decode(self, response: requests.Response) -> Generator[MutableMapping[str, Any], None, None]:
        body = page_body(response)
        # JsonDecoder's rules: a list yields its items; an empty list, null, or bytes that are
        # not JSON yield one empty mapping; anything else is yielded as it is.
        if isinstance(body, list):
            if body:
                yield from body
                return
        elif body is not None and body is not _UNREADABLE:
            yield body
            return
        yield {}


class UnreadableBodyFilter(HttpResponseFilter):
    """The manifest's `unreadable_body` filter (`{{ response == {} }}`), judged on the shared
    decoded body instead of a second `response.json()` and a template render per response."""

    def _safe_response_json(self, response: requests.Response) -> Any:  # type: ignore[override]
        body = page_body(response)
        if body is _UNREADABLE:
            # Not UTF-8 JSON; requests may still read it in another encoding, as the original did.
            return HttpResponseFilter._safe_response_json(response)
        return body

    def _response_matches_predicate(self, response: requests.Response) -> bool:
        return bool(self._safe_response_json(response) == {})


@dataclass
class SentryErrorHandler(DefaultErrorHandler):
    """The manifest's DefaultErrorHandler, its `unreadable_body` filter judged on the shared body.

    Why not the manifest: a DefaultErrorHandler's filters can only be HttpResponseFilters, whose
    predicate always decodes the body again; the filter type cannot be replaced alone."""

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        super().__post_init__(parameters)
        filters = [_shared_body_filter(f) for f in self.response_filters or []]
        # The CDK appends this fallback filter (its default status mapping) to every
        # DefaultErrorHandler it builds from a manifest, but not to a custom one.
        self.response_filters = [
            *filters,
            HttpResponseFilter(config=self.config, parameters=parameters or {}),
        ]


def _shared_body_filter(response_filter: HttpResponseFilter) -> HttpResponseFilter:
    predicate = getattr(response_filter.predicate, "condition", response_filter.predicate)
    if predicate != UNREADABLE_PREDICATE:
        return response_filter
    replacement = UnreadableBodyFilter.__new__(UnreadableBodyFilter)
    replacement.__dict__.update(response_filter.__dict__)
    return replacement


@dataclass
class LinkHeaderPagination(PaginationStrategy):
    """Follows the `next` link of Sentry's Link header while it says results="true".

    Why not the manifest: CursorPagination decodes the whole page body to offer `response` to its
    templates even when they read only headers, and renders two templates per page."""

    parameters: InitVar[Mapping[str, Any]]
    config: Config
    page_size: int | None = None

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        pass

    @property
    def initial_token(self) -> Any | None:
        return None

    def next_page_token(
        self,
        response: requests.Response,
        last_page_size: int,
        last_record: Record | None,
        last_page_token_value: Any | None = None,
        page_size_override: int | None = None,
        stream_slice: StreamSlice | None = None,
    ) -> Any | None:
        following = response.links.get("next", {})
        if following.get("results") != "true":
            return None
        return following.get("cursor") or None

    def get_page_size(self) -> int | None:
        return self.page_size


_INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)")


def instant(text: str) -> datetime:
    """`str_to_datetime` (the manifest's macro), without dateutil for the shapes Sentry writes."""
    if _INSTANT.fullmatch(text):
        return datetime.fromisoformat(text)
    return str_to_datetime(text)


@lru_cache(maxsize=256)
def _window(start_time: str, end_time: str, start_date: str | None) -> tuple[datetime, datetime, datetime]:
    floor = str_to_datetime(start_time)
    end = str_to_datetime(end_time)
    first = str_to_datetime(start_date) if start_date else end - timedelta(days=90)
    return floor, first, end


@dataclass
class CursorWindowFilter:
    """Keeps the records whose cursor lies in the slice's window: after its start (at the start
    only on a first sync, whose start is `start_date` or 90 days before the window's end) and not
    after its end. The events and issues filters of the manifest, per record in Python.

    `cursor_fields`: the record's fields tried in order, the first non-empty one counts (events
    use dateReceived, else dateCreated).

    Why not the manifest: a RecordFilter renders its Jinja condition per record, parsing the
    slice's dates again each time; here they are parsed once per slice."""

    parameters: InitVar[Mapping[str, Any]]
    config: Config
    cursor_fields: list[str] = field(default_factory=list)

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        if not self.cursor_fields:
            raise ValueError("CursorWindowFilter needs cursor_fields")

    def filter_records(
        self,
        records: Iterable[Mapping[str, Any]],
        stream_state: StreamState,
        stream_slice: StreamSlice | None = None,
        next_page_token: Mapping[str, Any] | None = None,
    ) -> Iterable[Mapping[str, Any]]:
        if stream_slice is None:
            raise ValueError("CursorWindowFilter needs the slice's start_time and end_time")
        floor, first, end = _window(
            stream_slice["start_time"], stream_slice["end_time"], self.config.get("start_date") or None
        )
        at_floor_too = floor <= first
        fields = self.cursor_fields
        for record in records:
            text = None
            for name in fields:
                text = record.get(name)
                if text:
                    break
            value = instant(text)  # type: ignore[arg-type]  # a missing date fails as the template does
            if (value > floor or (at_floor_too and value == floor)) and value <= end:
                yield record


def configured_scope(config: Config) -> list[str]:
    """The configured project slugs: `projects` plus the single `project`."""
    return list(config.get("projects") or []) + ([config["project"]] if config.get("project") else [])


@dataclass
class _ScopeFilter:
    """Keeps the records in the configured project scope (all when none is configured).

    Why not the manifest: a RecordFilter renders its Jinja condition per record."""

    parameters: InitVar[Mapping[str, Any]]
    config: Config

    def filter_records(
        self,
        records: Iterable[Mapping[str, Any]],
        stream_state: StreamState,
        stream_slice: StreamSlice | None = None,
        next_page_token: Mapping[str, Any] | None = None,
    ) -> Iterable[Mapping[str, Any]]:
        scope = configured_scope(self.config)
        return (record for record in records if not scope or self.in_scope(record, scope))

    def in_scope(self, record: Mapping[str, Any], scope: list[str]) -> bool:
        raise NotImplementedError


class ProjectScopeFilter(_ScopeFilter):
    """A project is in scope by its slug."""

    def in_scope(self, record: Mapping[str, Any], scope: list[str]) -> bool:
        return bool(record["slug"] in scope)


class ReleaseScopeFilter(_ScopeFilter):
    """A release is in scope when one of its projects is."""

    def in_scope(self, record: Mapping[str, Any], scope: list[str]) -> bool:
        return any(
            isinstance(project, Mapping) and project.get("slug") in scope
            for project in record.get("projects") or []
        )
