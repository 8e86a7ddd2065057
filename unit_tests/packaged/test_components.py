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
from airbyte_cdk.sources.declarative.models.declarative_component_schema import AddFields as AddFieldsModel
from airbyte_cdk.sources.declarative.parsers.model_to_component_factory import ModelToComponentFactory
from airbyte_cdk.sources.declarative.requesters.error_handlers import HttpResponseFilter
from airbyte_cdk.sources.declarative.requesters.paginators.strategies import CursorPaginationStrategy
from airbyte_cdk.sources.streams.http.error_handlers.response_models import ResponseAction
from airbyte_cdk.sources.types import StreamSlice

from source_sentry.manifest import load_manifest
from source_sentry.packaged.components import (
    UNREADABLE_PREDICATE,
    DeployedReleaseFilter,
    EventWindowFilter,
    GlitchTipProjectId,
    IssueWindowFilter,
    LinkHeaderPagination,
    MonitorScopeFilter,
    ProjectScopeFilter,
    ReleaseIdFromVersion,
    ReleaseScopeFilter,
    SentryErrorHandler,
    SessionEnvironment,
    SharedJsonDecoder,
    instant,
    page_body,
)

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
    # an hour before START: where GlitchTip's older events are told apart (the lookback's reach)
    "2024-03-01T08:59:59.999999Z",
    "2024-03-01T09:00:00Z",
    "2024-03-01T09:00:00.000001Z",
    "2024-03-01T09:59:59.999999Z",
    "2024-03-01T10:00:00Z",
    "2024-03-01T10:00:00.000001Z",
    "2024-03-01T12:00:00.5+02:00",
    "2024-03-02T10:00:00Z",
    "2024-03-02T10:00:00.000001Z",
    "2024-03-03T10:00:00Z",
    # the floor of a first sync without start_date (90 days before the second slice's end)
    "2023-12-03T10:00:00Z",
]
# Values a record's date can take that a date is not: a missing field, null, empty.
MISSING = object()
ODD = [MISSING, None, ""]
CONFIGS = [
    {},
    {"start_date": "2024-03-01T10:00:00Z"},
    {"start_date": "2024-02-01"},
    {"start_date": "2024-03-01T11:00:00Z"},
    {"lookback_minutes": 0, "server": "sentry"},
    {"lookback_minutes": None},
    {"start_date": "2024-03-01T09:30:00Z", "lookback_minutes": "30"},
]
DIALECTS = [{}, {"server": "glitchtip"}]
SLICES = [
    StreamSlice(partition={"project_id": "1"}, cursor_slice={"start_time": START, "end_time": END}),
    # No start_date: a first sync starts 90 days before the window's end, at its floor.
    StreamSlice(
        partition={"project_id": "1"},
        cursor_slice={"start_time": "2023-12-03T10:00:00.000000Z", "end_time": "2024-03-02T10:00:00.000000Z"},
    ),
]


def record_of(**fields: Any) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if value is not MISSING}


def decisions(record_filter: Any, records: list[dict[str, Any]], window: Any = None) -> list[Any]:
    """Per record: kept or not, or the error that stops the sync."""
    outcomes: list[Any] = []
    for record in records:
        try:
            outcomes.append(bool(list(record_filter.filter_records([record], {}, window))))
        except Exception as error:  # noqa: BLE001 - an error is an outcome to compare
            outcomes.append(type(error).__name__)
    return outcomes


def assert_twins(original: Any, swapped: Any, records: list[dict[str, Any]], window: Any = None) -> list[Any]:
    expected = decisions(original, records, window)
    assert decisions(swapped, records, window) == expected
    assert True in expected, "no case keeps a record"
    assert False in expected, "no case drops a record"
    # Whole pages too: the order kept and the records themselves are the same.
    passing = [r for r, outcome in zip(records, expected, strict=True) if isinstance(outcome, bool)]
    page = list(original.filter_records(passing, {}, window))
    assert list(swapped.filter_records(passing, {}, window)) == page
    return expected


# Creation dates matter on GlitchTip only, around where the lookback reaches.
CREATED = [DATES[0], *DATES[1:4], "2024-03-01T09:30:00Z", START, DATES[-1], MISSING, None]
EVENTS = [
    record_of(id=str(n), dateReceived=received, dateCreated=created)
    for n, (received, created) in enumerate(itertools.product([*DATES, *ODD], CREATED))
]


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("window", SLICES)
def test_given_events_when_filtered_then_kept_exactly_as_the_manifest_condition_keeps(
    config, dialect, window
) -> None:
    config = {**config, **dialect}
    original = jinja(condition("streams", "events", "retriever", "record_selector"), config)
    assert_twins(original, EventWindowFilter(config=config, parameters={}), EVENTS, window)


def test_given_glitchtip_when_events_are_filtered_then_older_ones_created_before_the_reach_are_kept() -> None:
    old = record_of(id="old", dateReceived="2024-03-01T08:00:00Z", dateCreated="2024-03-01T08:00:00Z")
    late = record_of(id="late", dateReceived="2024-03-01T09:30:00Z", dateCreated="2024-03-01T09:30:00Z")
    for config, kept in [({}, []), ({"server": "glitchtip"}, [old])]:
        swapped = EventWindowFilter(config=config, parameters={})
        assert list(swapped.filter_records([old, late], {}, SLICES[0])) == kept


ISSUES = [record_of(id=str(n), lastSeen=seen) for n, seen in enumerate([*DATES, *ODD])]


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("window", SLICES)
def test_given_issues_when_filtered_then_kept_exactly_as_the_manifest_condition_keeps(
    config, dialect, window
) -> None:
    config = {**config, **dialect}
    original = jinja(condition("streams", "issues", "retriever", "record_selector"), config)
    assert_twins(original, IssueWindowFilter(config=config, parameters={}), ISSUES, window)


def test_given_glitchtip_when_issues_are_filtered_then_older_ones_are_kept() -> None:
    old = record_of(id="old", lastSeen="2024-02-29T10:00:00Z")
    for config, kept in [({}, []), ({"server": "glitchtip"}, [old])]:
        swapped = IssueWindowFilter(config=config, parameters={})
        assert list(swapped.filter_records([old], {}, SLICES[0])) == kept


SCOPES = [
    {},
    {"projects": []},
    {"projects": ["a"]},
    {"project": "b"},
    {"projects": ["a"], "project": "c"},
    {"project": ""},
]


SCOPED = SCOPES[2:5]


@pytest.mark.parametrize("config", SCOPED)
def test_given_projects_when_scoped_then_kept_exactly_as_the_manifest_condition_keeps(config) -> None:
    records = [record_of(id=str(n), slug=slug) for n, slug in enumerate(["a", "b", "c", "d", None, MISSING])]
    original = jinja(condition("project_scope_stream", "retriever", "record_selector"), config)
    assert_twins(original, ProjectScopeFilter(config=config, parameters={}), records)


PROJECT_LISTS = [
    [],
    [{"slug": "a"}],
    [{"slug": "d"}, {"slug": "c"}],
    [{"name": "no slug"}],
    [{"slug": "b"}],
    ["a"],
]


@pytest.mark.parametrize("config", SCOPED)
def test_given_releases_when_scoped_then_kept_exactly_as_the_manifest_condition_keeps(config) -> None:
    records = [record_of(id=str(n), projects=p) for n, p in enumerate([*PROJECT_LISTS, MISSING, None])]
    original = jinja(condition("streams", "releases", "retriever", "record_selector"), config)
    assert_twins(original, ReleaseScopeFilter(config=config, parameters={}), records)


@pytest.mark.parametrize("config", SCOPES)
def test_given_no_scope_or_a_scope_when_filtered_then_every_scope_filter_agrees_on_all(config) -> None:
    records = [
        record_of(id=str(n), slug="a", projects=[{"slug": "a"}], project={"slug": "a"}) for n in range(3)
    ]
    for original, swapped in [
        (("project_scope_stream",), ProjectScopeFilter),
        (("streams", "releases"), ReleaseScopeFilter),
        (("streams", "monitors"), MonitorScopeFilter),
    ]:
        template = jinja(condition(*original, "retriever", "record_selector"), config)
        twin = swapped(config=config, parameters={})
        assert decisions(twin, records) == decisions(template, records)


@pytest.mark.parametrize("config", SCOPED)
def test_given_monitors_when_scoped_then_kept_exactly_as_the_manifest_condition_keeps(config) -> None:
    projects = [{"slug": "a"}, {"slug": "d"}, {"name": "no slug"}, {"slug": "b"}, None, "a", MISSING]
    records = [record_of(id=str(n), project=p) for n, p in enumerate(projects)]
    original = jinja(condition("streams", "monitors", "retriever", "record_selector"), config)
    assert_twins(original, MonitorScopeFilter(config=config, parameters={}), records)


DEPLOYS = [
    MISSING,
    None,
    {},
    "2024-03-02T00:00:00Z",
    {"environment": "production"},
    {"dateFinished": None},
    {"dateFinished": "2024-03-01T10:00:00Z"},
    {"dateFinished": "2024-03-01T10:00:00.000001Z"},
    {"dateFinished": "2024-03-01T12:00:00+02:00"},
    {"dateFinished": "2024-03-05T10:00:00Z"},
]


@pytest.mark.parametrize("config", [{}, *SCOPED])
def test_given_releases_when_deployed_releases_are_filtered_then_kept_as_the_manifest_keeps(config) -> None:
    records = [
        record_of(id=f"{n}-{m}", lastDeploy=deploy, projects=p)
        for n, deploy in enumerate(DEPLOYS)
        for m, p in enumerate([*PROJECT_LISTS, MISSING, None])
    ]
    window = StreamSlice(partition={}, cursor_slice={"start_time": START, "end_time": END})
    original = jinja(condition("deployed_releases_stream", "retriever", "record_selector"), config)
    assert_twins(original, DeployedReleaseFilter(config=config, parameters={}), records, window)


def add_fields(node: dict[str, Any]) -> Any:
    definition = {**node, "fields": [{"type": "AddedFieldDefinition", **f} for f in node["fields"]]}
    return ModelToComponentFactory().create_component(AddFieldsModel, definition, config={})


VALUES = [5, "5", 1.5, True, None, "", "abc", "'quoted'", "[1]", "0x1f", [1, "a\\b"], {"a": None}, MISSING]


@pytest.mark.parametrize("config", [{}, {"server": "sentry"}, {"server": "glitchtip"}])
@pytest.mark.parametrize(
    ("stream", "swapped", "records"),
    [
        ("events", GlitchTipProjectId, [record_of(id="1", projectID=v) for v in VALUES]),
        (
            "releases",
            ReleaseIdFromVersion,
            [record_of(id=i, version=v) for i in ["r1", None, MISSING] for v in VALUES],
        ),
        (
            "sessions",
            SessionEnvironment,
            [record_of(by=record_of(project=1, environment=v)) for v in VALUES],
        ),
    ],
)
def test_given_records_when_transformed_then_fields_set_exactly_as_the_manifest_add_fields(
    config, stream, swapped, records
) -> None:
    expected = copy.deepcopy(records)
    for record in expected:
        # One AddFields per record: the CDK's takes its value template for plain text for good
        # once a render returns the template's own text (a missing projectID on GlitchTip).
        conditioned = [t for t in DEFINITIONS["streams"][stream]["transformations"] if t.get("condition")]
        original = add_fields(conditioned[0])
        original.transform(record, config=config, stream_slice=SLICES[0])
    transformed = copy.deepcopy(records)
    for record in transformed:
        swapped(parameters={}).transform(record, config=config, stream_slice=SLICES[0])
    assert transformed == expected
    assert (expected != records) is (stream != "events" or config.get("server") == "glitchtip")
