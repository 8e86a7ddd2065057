"""Python components the packaged connector (pip, Docker image) puts in place of manifest pieces
that do the same work slower. `swap.py` swaps them in when the manifest is loaded; the Cloud
manifest, which cannot carry Python, keeps the declarative originals. Each class does exactly what
the piece it replaces does (a differential test syncs both variants and compares), only cheaper.

The page body is decoded once per response and kept on it: the error handler (which must look at
it to retry an unreadable 200) decodes it, and the record extractor then reads the same object.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Generator, Iterable, Mapping, MutableMapping
from dataclasses import InitVar, dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, ClassVar, Final

import orjson
import requests
from airbyte_cdk.sources.declarative.decoders import JsonDecoder
from airbyte_cdk.sources.declarative.interpolation.macros import str_to_datetime
from airbyte_cdk.sources.declarative.requesters.error_handlers import DefaultErrorHandler, HttpResponseFilter
from airbyte_cdk.sources.declarative.requesters.paginators.strategies.pagination_strategy import (
    PaginationStrategy,
)
from airbyte_cdk.sources.declarative.transformations import RecordTransformation
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
    """`str_to_datetime` (the manifest's macro), without dateutil for the shapes Sentry writes.
    Like the macro, it raises TypeError for a value that is not a string (a null date)."""
    if _INSTANT.fullmatch(text):
        return datetime.fromisoformat(text)
    return str_to_datetime(text)


class _Undefined:
    """What a template reads for a field the record lacks: Jinja's Undefined, false in a test."""

    def __bool__(self) -> bool:
        return False


_MISSING: Final = _Undefined()


class _UndefinedUsed(Exception):
    """A template used a field the record lacks where it needs a value (Jinja's UndefinedError)."""


def field_instant(value: Any) -> datetime:
    """`str_to_datetime(record[...])` as a template computes it from a record's field."""
    if value is _MISSING:
        raise _UndefinedUsed
    return instant(value)


def jinja_int(value: Any) -> int:
    """Jinja's `int` filter: a number, a numeric string, else 0."""
    try:
        return int(value, 10) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        try:
            return int(float(value))
        except (TypeError, ValueError, OverflowError):
            return 0


def interpolated_string(text: str) -> str:
    """What the CDK stores for a template rendered to `text` with `value_type: string`: the text,
    unless it is a Python string literal (then the literal's value)."""
    if not text:
        return text
    try:
        evaluated = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError):
        return text
    return evaluated if isinstance(evaluated, str) else text


_UNSET: Final = object()


@dataclass
class _RecordCondition:
    """A RecordFilter's Jinja condition decided per record in Python, failures included: where the
    template stops on a field the record lacks (Jinja's UndefinedError) the CDK renders the
    condition's default, false, and drops the record; where it fails with a TypeError (a null date
    handed to `str_to_datetime`) the CDK returns the template's own text, which counts as true, and
    keeps it. Other errors (a date that is not one) fail the sync in both.

    Why not the manifest: a RecordFilter renders its condition per record; here what depends only
    on the slice and the config is worked out once per slice."""

    parameters: InitVar[Mapping[str, Any]]
    config: Config

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        pass

    def filter_records(
        self,
        records: Iterable[Mapping[str, Any]],
        stream_state: StreamState,
        stream_slice: StreamSlice | None = None,
        next_page_token: Mapping[str, Any] | None = None,
    ) -> Iterable[Mapping[str, Any]]:
        context: Any = _UNSET
        for record in records:
            # Worked out at the first record: the template meets the slice's and config's errors
            # only when it has a record to judge.
            if context is _UNSET:
                context = self.context(stream_slice)
            try:
                kept = self.keeps(record, context)
            except _UndefinedUsed:
                kept = False
            except TypeError:
                kept = True
            if kept:
                yield record

    def context(self, stream_slice: StreamSlice | None) -> Any:
        """What the condition computes from the slice and the config alone."""
        raise NotImplementedError

    def keeps(self, record: Mapping[str, Any], context: Any) -> bool:
        raise NotImplementedError


@dataclass(frozen=True)
class Window:
    floor: datetime  # the slice's start: the state, or where a first sync starts
    end: datetime
    at_floor_too: bool  # a first sync keeps a record dated exactly at the floor
    glitchtip: bool
    reach: datetime  # events: where the server's window would start (the lookback before the floor)


@lru_cache(maxsize=256)
def _window(start_time: str, end_time: str, start_date: str | None, lookback: int, glitchtip: bool) -> Window:
    floor = str_to_datetime(start_time)
    end = str_to_datetime(end_time)
    first = str_to_datetime(start_date) if start_date else end - timedelta(days=90)
    reach = max(floor - timedelta(minutes=lookback), min(floor, first))
    return Window(floor, end, floor <= first, glitchtip, reach)


@dataclass
class _WindowFilter(_RecordCondition):
    """Keeps the records whose cursor lies in the slice's window: after its start (at the start
    only on a first sync, whose start is `start_date` or 90 days before the window's end) and not
    after its end. On GlitchTip, which cannot filter by date, some older records are kept too, for
    the stream's data feed to stop paging at and drop."""

    def context(self, stream_slice: StreamSlice | None) -> Window:
        if stream_slice is None:
            raise ValueError(f"{type(self).__name__} needs the slice's start_time and end_time")
        return _window(
            stream_slice["start_time"],
            stream_slice["end_time"],
            self.config.get("start_date") or None,
            jinja_int(self.config.get("lookback_minutes", 60)),
            self.config.get("server") == "glitchtip",
        )


class EventWindowFilter(_WindowFilter):
    """The events stream's filter. The cursor is dateReceived, else dateCreated; on GlitchTip an
    event received before the window is kept when it was also created before the window Sentry
    would have been asked for."""

    def keeps(self, record: Mapping[str, Any], context: Any) -> bool:
        window: Window = context
        value = field_instant(record.get("dateReceived", _MISSING) or record.get("dateCreated", _MISSING))
        floor = window.floor
        if value > floor or (value == floor and window.at_floor_too):
            return value <= window.end
        if window.glitchtip and value < floor:
            return field_instant(record.get("dateCreated", _MISSING)) < window.reach and value <= window.end
        return False


class IssueWindowFilter(_WindowFilter):
    """The issues stream's filter on lastSeen; on GlitchTip every older issue is kept."""

    def keeps(self, record: Mapping[str, Any], context: Any) -> bool:
        window: Window = context
        value = field_instant(record.get("lastSeen", _MISSING))
        floor = window.floor
        if value > floor or (value == floor and window.at_floor_too) or (value < floor and window.glitchtip):
            return value <= window.end
        return False


def configured_scope(config: Config) -> list[str]:
    """The configured project slugs: `projects` plus the single `project`."""
    return list(config.get("projects") or []) + ([config["project"]] if config.get("project") else [])


def has_project_in(record: Mapping[str, Any], scope: list[str]) -> bool:
    """`record['projects'] | selectattr('slug', 'in', scope) | list` is not empty (Jinja's
    selectattr reads a missing or null list as empty)."""
    projects = record.get("projects")
    if not projects:
        return False
    return any(isinstance(project, Mapping) and project.get("slug") in scope for project in projects)


class _ScopeFilter(_RecordCondition):
    """Keeps the records in the configured project scope (all when none is configured)."""

    def context(self, stream_slice: StreamSlice | None) -> list[str]:
        return configured_scope(self.config)

    def keeps(self, record: Mapping[str, Any], context: Any) -> bool:
        return not context or self.in_scope(record, context)

    def in_scope(self, record: Mapping[str, Any], scope: list[str]) -> bool:
        raise NotImplementedError


class ProjectScopeFilter(_ScopeFilter):
    """A project is in scope by its slug."""

    def in_scope(self, record: Mapping[str, Any], scope: list[str]) -> bool:
        return record.get("slug", _MISSING) in scope


class ReleaseScopeFilter(_ScopeFilter):
    """A release is in scope when one of its projects is."""

    def in_scope(self, record: Mapping[str, Any], scope: list[str]) -> bool:
        return has_project_in(record, scope)


class MonitorScopeFilter(_ScopeFilter):
    """A cron monitor is in scope by its project's slug."""

    def in_scope(self, record: Mapping[str, Any], scope: list[str]) -> bool:
        project = record.get("project", _MISSING)
        if project is _MISSING:
            raise _UndefinedUsed
        return isinstance(project, Mapping) and project.get("slug") in scope


class DeployedReleaseFilter(_RecordCondition):
    """The parent of `deploys`: releases in scope whose last deploy finished after the slice's start."""

    def context(self, stream_slice: StreamSlice | None) -> tuple[str, list[str]]:
        if stream_slice is None:
            raise ValueError("DeployedReleaseFilter needs the slice's start_time")
        return stream_slice["start_time"], configured_scope(self.config)

    def keeps(self, record: Mapping[str, Any], context: Any) -> bool:
        start_time, scope = context
        deploy = record.get("lastDeploy", _MISSING)
        if not deploy:
            return False
        finished = deploy.get("dateFinished", _MISSING) if isinstance(deploy, Mapping) else _MISSING
        if not field_instant(finished) > _start(start_time):
            return False
        return not scope or has_project_in(record, scope)


@lru_cache(maxsize=64)
def _start(start_time: str) -> datetime:
    return str_to_datetime(start_time)


@dataclass
class _FieldFromField(RecordTransformation):
    """An AddFields with a condition that sets one field from another (`value_type: string`), done
    in Python. Why not the manifest: AddFields renders its value and then its condition per record,
    even when the condition, false for every record, reads only the config."""

    parameters: InitVar[Mapping[str, Any]]
    target: ClassVar[str]
    source: ClassVar[str]

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        pass

    def transform(
        self,
        record: dict[str, Any],
        config: Config | None = None,
        stream_state: StreamState | None = None,
        stream_slice: StreamSlice | None = None,
    ) -> None:
        if self.applies(record, config or {}):
            record[self.target] = interpolated_string(self.rendered(self.value(record)))

    def applies(self, record: Mapping[str, Any], config: Config) -> bool:
        raise NotImplementedError

    def value(self, record: Mapping[str, Any]) -> Any:
        """The value the template reads: the source field."""
        return record.get(self.source, _MISSING)

    def rendered(self, value: Any) -> str:
        """The value template's output for the source field's value."""
        raise NotImplementedError


class GlitchTipProjectId(_FieldFromField):
    """Events: on GlitchTip, projectID (a number there) as a string: `{{ record['projectID'] | string }}`."""

    target = source = "projectID"
    TEMPLATE: ClassVar[str] = "{{ record['projectID'] | string }}"

    def applies(self, record: Mapping[str, Any], config: Config) -> bool:
        return bool(config.get("server") == "glitchtip")

    def rendered(self, value: Any) -> str:
        if isinstance(value, str):
            return value
        if value is _MISSING:
            # The CDK's `string` filter cannot dump Undefined (a TypeError), and the CDK then takes
            # the template's own text for its output.
            return self.TEMPLATE
        # The CDK's `string` filter: JSON in triple quotes, read back as a string literal.
        return f'"""{json.dumps(value)}"""'


class SessionEnvironment(_FieldFromField):
    """Sessions: a group's environment, when it has one: `{{ record['by']['environment'] }}`."""

    target, source = "environment", "by"

    def applies(self, record: Mapping[str, Any], config: Config) -> bool:
        return record[self.source].get("environment") is not None

    def value(self, record: Mapping[str, Any]) -> Any:
        return record[self.source]["environment"]

    def rendered(self, value: Any) -> str:
        return str(value)


class ReleaseIdFromVersion(_FieldFromField):
    """Releases: a release without an id (GlitchTip's) gets its version: `{{ record['version'] }}`."""

    target, source = "id", "version"

    def applies(self, record: Mapping[str, Any], config: Config) -> bool:
        return record.get("id") is None

    def rendered(self, value: Any) -> str:
        return "" if value is _MISSING else str(value)
