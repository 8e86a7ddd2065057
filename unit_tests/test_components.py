"""Each Python component against the manifest piece it replaces, on the same inputs; and the swap
that puts them in place, which must recognise every piece it was written for."""

from __future__ import annotations

import copy
import itertools
from typing import Any

import pytest
import requests
from airbyte_cdk.sources.declarative.decoders import Decoder, JsonDecoder
from airbyte_cdk.sources.declarative.extractors import DpathExtractor
from airbyte_cdk.sources.declarative.extractors.record_filter import RecordFilter
from airbyte_cdk.sources.declarative.interpolation.macros import str_to_datetime
from airbyte_cdk.sources.declarative.requesters.error_handlers import HttpResponseFilter
from airbyte_cdk.sources.declarative.requesters.paginators.strategies import CursorPaginationStrategy
from airbyte_cdk.sources.streams.http.error_handlers.response_models import ResponseAction
from airbyte_cdk.sources.types import StreamSlice

from source_sentry.components import (
    UNREADABLE_PREDICATE,
    CursorWindowFilter,
    LinkHeaderPagination,
    ProjectScopeFilter,
    ReleaseScopeFilter,
    SentryErrorHandler,
    SharedJsonDecoder,
    instant,
    page_body,
)
from source_sentry.manifest import load_manifest
from source_sentry.packaged import packaged_manifest
from source_sentry.source import SourceSentry

MANIFEST = load_manifest()
DEFINITIONS = MANIFEST["definitions"]
BODIES = [
    b'[{"id": "1"}, {"id": "2"}]',
    b"[]",
    b'{"detail": "x"}',
    b"{}",
    b"null",
    b"0",
    b'[{"id": "1"}, {"id"',
    b"<html><body>502 Bad Gateway</body></html>",
    b"",
    b"\xef\xbb\xbf[]",
    '[{"id": "\u00e9"}]'.encode(),
]


def response(body: bytes, status: int = 200, link: str | None = None) -> requests.Response:
    made = requests.Response()
    made.status_code = status
    made._content = body
    made.url = "http://127.0.0.1:9000/api/0/projects/org/p/events/?cursor=0:100:0"
    if link is not None:
        made.headers["Link"] = link
    return made


def condition(*path: str) -> str:
    node: Any = DEFINITIONS
    for key in path:
        node = node[key]
    text: str = node["record_filter"]["condition"]
    return text


def jinja(text: str, config: dict[str, Any]) -> RecordFilter:
    return RecordFilter(config=config, condition=text, parameters={})


def records(decoder: Decoder, body: bytes) -> list[Any]:
    extractor = DpathExtractor(field_path=[], config={}, parameters={}, decoder=decoder)
    return list(extractor.extract_records(response(body)))


@pytest.mark.parametrize("body", BODIES)
def test_given_any_body_when_extracted_then_shared_decoder_gives_the_json_decoders_records(
    body: bytes,
) -> None:
    assert records(SharedJsonDecoder(), body) == records(JsonDecoder(parameters={}), body)


def test_given_a_page_when_decoded_twice_then_the_body_is_parsed_once() -> None:
    page = response(b'[{"id": "1"}]')
    first = page_body(page)
    page._content = b"[]"
    assert page_body(page) is first
    assert list(SharedJsonDecoder().decode(page)) == [{"id": "1"}]


def error_handler(filters: list[HttpResponseFilter]) -> SentryErrorHandler:
    return SentryErrorHandler(config={}, parameters={}, response_filters=filters, max_retries=8)


def unreadable_filter() -> HttpResponseFilter:
    spec = DEFINITIONS["filters"]["unreadable_body"]
    assert spec["predicate"] == UNREADABLE_PREDICATE
    return HttpResponseFilter(
        config={},
        parameters={},
        action=spec["action"],
        predicate=spec["predicate"],
        error_message=spec["error_message"],
    )


@pytest.mark.parametrize("body", BODIES)
@pytest.mark.parametrize("status", [200, 408])
def test_given_any_body_when_judged_then_error_handler_resolves_as_the_manifest_filter(
    body: bytes, status: int
) -> None:
    original = unreadable_filter().matches(response(body, status))
    swapped = error_handler([unreadable_filter()]).interpret_response(response(body, status))
    if original is None:
        assert swapped.response_action != ResponseAction.RETRY or status == 408
    else:
        assert (swapped.response_action, swapped.error_message) == (
            original.response_action,
            original.error_message,
        )


def test_given_a_truncated_page_when_judged_then_it_is_retried_and_a_good_page_succeeds() -> None:
    handler = error_handler([unreadable_filter()])
    assert handler.interpret_response(response(b'[{"id"')).response_action == ResponseAction.RETRY
    assert handler.interpret_response(response(b"[]")).response_action == ResponseAction.SUCCESS


LINKS = [
    None,
    "",
    '<http://h/api/0/x/?cursor=0:0:1>; rel="previous"; results="false"; cursor="0:0:1", '
    '<http://h/api/0/x/?cursor=0:100:0>; rel="next"; results="true"; cursor="0:100:0"',
    '<http://h/api/0/x/?cursor=0:0:1>; rel="previous"; results="false"; cursor="0:0:1", '
    '<http://h/api/0/x/?cursor=0:100:0>; rel="next"; results="false"; cursor="0:100:0"',
    '<http://h/api/0/x/?cursor=1:0:0>; rel="next"; results="true"; cursor="1700000000000:0:0"',
]


@pytest.mark.parametrize("link", LINKS)
def test_given_any_link_header_when_paging_then_next_token_is_the_manifest_paginators(
    link: str | None,
) -> None:
    spec = DEFINITIONS["paginator"]["pagination_strategy"]
    original = CursorPaginationStrategy(
        config={},
        parameters={},
        cursor_value=spec["cursor_value"],
        stop_condition=spec["stop_condition"],
        page_size=spec["page_size"],
    )
    swapped = LinkHeaderPagination(config={}, parameters={}, page_size=spec["page_size"])
    page = response(b'[{"id": "1"}]', link=link)
    assert swapped.next_page_token(page, 1, None, None) == original.next_page_token(page, 1, None, None)
    assert swapped.get_page_size() == original.get_page_size() == 100
    assert swapped.initial_token is None


@pytest.mark.parametrize(
    "text",
    [
        "2024-03-01T10:00:00Z",
        "2024-03-01T10:00:00.5Z",
        "2024-03-01T10:00:00.123Z",
        "2024-03-01T10:00:00.123456Z",
        "2024-03-01T10:00:00.123456+02:00",
        "2024-03-01T10:00:00",
        "2024-03-01",
    ],
)
def test_given_a_sentry_date_when_parsed_then_instant_equals_the_manifest_macro(text: str) -> None:
    assert instant(text) == str_to_datetime(text)
    assert instant(text).utcoffset() is not None


START = "2024-03-01T10:00:00.000000Z"
END = "2024-03-02T10:00:00.000000Z"
DATES = [
    "2024-02-29T10:00:00Z",
    "2024-03-01T09:59:59.999999Z",
    "2024-03-01T10:00:00Z",
    "2024-03-01T10:00:00.000001Z",
    "2024-03-01T12:00:00.5+02:00",
    "2024-03-02T10:00:00Z",
    "2024-03-02T10:00:00.000001Z",
    "2024-03-03T10:00:00Z",
]
CONFIGS = [
    {},
    {"start_date": "2024-03-01T10:00:00Z"},
    {"start_date": "2024-02-01"},
    {"start_date": "2024-03-01T11:00:00Z"},
]
SLICES = [
    StreamSlice(partition={"project_id": "1"}, cursor_slice={"start_time": START, "end_time": END}),
    # No start_date: a first sync starts 90 days before the window's end, at its floor.
    StreamSlice(
        partition={"project_id": "1"},
        cursor_slice={"start_time": "2023-12-03T10:00:00.000000Z", "end_time": "2024-03-02T10:00:00.000000Z"},
    ),
]


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("window", SLICES)
def test_given_events_when_filtered_then_kept_exactly_as_the_manifest_condition_keeps(config, window) -> None:
    dates = [*DATES, "2023-12-03T10:00:00Z"]
    records = [
        {"id": str(n), "dateReceived": received, "dateCreated": created}
        for n, (received, created) in enumerate(itertools.product([*dates, None, ""], dates))
    ]
    original = jinja(condition("streams", "events", "retriever", "record_selector"), config)
    swapped = CursorWindowFilter(config=config, parameters={}, cursor_fields=["dateReceived", "dateCreated"])
    kept = list(swapped.filter_records(records, {}, window))
    assert kept == list(original.filter_records(records, {}, window))
    assert 0 < len(kept) < len(records)


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("window", SLICES)
def test_given_issues_when_filtered_then_kept_exactly_as_the_manifest_condition_keeps(config, window) -> None:
    records = [{"id": str(n), "lastSeen": seen} for n, seen in enumerate([*DATES, "2023-12-03T10:00:00Z"])]
    original = jinja(condition("streams", "issues", "retriever", "record_selector"), config)
    swapped = CursorWindowFilter(config=config, parameters={}, cursor_fields=["lastSeen"])
    assert list(swapped.filter_records(records, {}, window)) == list(
        original.filter_records(records, {}, window)
    )


SCOPES = [
    {},
    {"projects": []},
    {"projects": ["a"]},
    {"project": "b"},
    {"projects": ["a"], "project": "c"},
    {"project": ""},
]


@pytest.mark.parametrize("config", SCOPES)
def test_given_projects_when_scoped_then_kept_exactly_as_the_manifest_condition_keeps(config) -> None:
    records = [{"id": str(n), "slug": slug} for n, slug in enumerate(["a", "b", "c", "d"])]
    original = jinja(condition("project_scope_stream", "retriever", "record_selector"), config)
    swapped = ProjectScopeFilter(config=config, parameters={})
    assert list(swapped.filter_records(records, {})) == list(original.filter_records(records, {}))


@pytest.mark.parametrize("config", SCOPES)
def test_given_releases_when_scoped_then_kept_exactly_as_the_manifest_condition_keeps(config) -> None:
    projects = [[], [{"slug": "a"}], [{"slug": "d"}, {"slug": "c"}], [{"name": "no slug"}], [{"slug": "b"}]]
    records: list[dict[str, Any]] = [{"id": str(n), "projects": p} for n, p in enumerate(projects)]
    records.append({"id": "no-projects"})
    original = jinja(condition("streams", "releases", "retriever", "record_selector"), config)
    swapped = ReleaseScopeFilter(config=config, parameters={})
    assert list(swapped.filter_records(records, {})) == list(original.filter_records(records, {}))


def test_given_the_manifest_when_packaged_then_every_piece_with_a_component_is_swapped() -> None:
    swap = packaged_manifest(MANIFEST)
    # Left as Jinja (same records, slower): the events and issues filters since they learned the
    # GlitchTip dialect, and two filters of the streams added with them. A Python twin for each
    # is still to write; any other piece drifting from its component fails here.
    assert swap.left == [
        ".definitions.deployed_releases_stream.retriever.record_selector.record_filter",
        ".definitions.streams.events.retriever.record_selector.record_filter",
        ".definitions.streams.issues.retriever.record_selector.record_filter",
        ".definitions.streams.monitors.retriever.record_selector.record_filter",
    ], "a manifest piece changed; update components.py and packaged.py to match"
    assert sorted(swap.swapped) == [
        ".definitions.aggregate_retriever.paginator.pagination_strategy",
        ".definitions.error_handler",
        ".definitions.filters.unreadable_body",
        ".definitions.optional_error_handler",
        ".definitions.optional_project_error_handler",
        ".definitions.paginator.pagination_strategy",
        ".definitions.project_error_handler",
        ".definitions.project_scope_stream.retriever.record_selector.record_filter",
        ".definitions.retriever",
        ".definitions.streams.releases.retriever.record_selector.record_filter",
    ]
    assert MANIFEST == load_manifest(), "the swap changed its input"


def test_given_an_edited_filter_when_packaged_then_it_is_left_as_written_and_reported() -> None:
    edited = copy.deepcopy(MANIFEST)
    record_filter = edited["definitions"]["streams"]["releases"]["retriever"]["record_selector"][
        "record_filter"
    ]
    record_filter["condition"] = record_filter["condition"].replace("not scope", "scope == []")
    swap = packaged_manifest(edited)
    assert ".definitions.streams.releases.retriever.record_selector.record_filter" in swap.left
    assert (
        swap.manifest["definitions"]["streams"]["releases"]["retriever"]["record_selector"]["record_filter"]
        == record_filter
    )


def test_given_the_source_when_built_then_it_runs_the_swapped_manifest_and_the_pure_one_on_request() -> None:
    config = {"auth_token": "t", "organization": "o"}
    packaged = SourceSentry(config=config)._source_config
    pure = SourceSentry(config=config, python_components=False)._source_config
    assert "source_sentry.components.SharedJsonDecoder" in str(packaged)
    assert "source_sentry.components" not in str(pure)
