"""The packaged connector's requester (requester.py) asks for exactly what the CDK's asks for."""

from __future__ import annotations

from typing import Any

import pytest
from airbyte_cdk.sources.declarative.models import HttpRequester as HttpRequesterModel
from airbyte_cdk.sources.declarative.requesters.http_requester import HttpRequester
from airbyte_cdk.sources.types import StreamSlice

from source_sentry.packaged.cursors import SentryComponentFactory
from source_sentry.packaged.requester import SliceRenderedRequester, renders_from_slice
from source_sentry.packaged.source import PackagedSource
from source_sentry.source import SourceSentry

CONFIG = {
    "auth_token": "t",
    "organization": "acme",
    "hostname": "http://127.0.0.1:9/sentry",
    "start_date": "2026-01-01T00:00:00Z",
}


def requesters(packaged: bool) -> dict[str, Any]:
    source = (PackagedSource if packaged else SourceSentry)(config=CONFIG)
    found = {}
    for stream in source.streams(CONFIG):
        retriever = stream._stream_partition_generator._partition_factory._retriever
        found[stream.name] = retriever.requester
    return found


def window(project: str, start: str, end: str) -> StreamSlice:
    # What the manifest's templates read: a project (id, slug), a release, a monitor, a window.
    return StreamSlice(
        partition={"project_id": project, "parent_slice": {}},
        cursor_slice={"start_time": start, "end_time": end},
        extra_fields={"slug": f"p{project}", "version": "1.0", "id": "m1", "monitor_slug": "m"},
    )


def asked(requester: HttpRequester, stream_slice: StreamSlice, token: Any) -> Any:
    """The URL, parameters and headers of one request, or the error rendering them raised."""
    try:
        return (
            requester._get_url(stream_slice=stream_slice, next_page_token=token),
            requester.get_request_params(stream_slice=stream_slice, next_page_token=token),
            requester.get_request_headers(stream_slice=stream_slice, next_page_token=token),
        )
    except Exception as error:  # noqa: BLE001 - both must fail alike
        return type(error), str(error)


def test_given_each_stream_when_pages_of_windows_are_asked_then_the_requests_are_the_cdks() -> None:
    ours, cdk = requesters(True), requesters(False)
    assert sorted(ours) == sorted(cdk)
    windows = [
        window("11", "2026-01-01T00:00:00.000000Z", "2026-01-11T00:00:00.000000Z"),
        window("11", "2026-01-11T00:00:00.000000Z", "2026-01-21T00:00:00.000000Z"),
        window("12", "2026-01-01T00:00:00.000000Z", "2026-01-11T00:00:00.000000Z"),
    ]
    # each window's pages in turn, then a window met again after another
    pages = [(w, t) for w in windows for t in (None, {"next_page_token": "c:1"}, {"next_page_token": "c:2"})]
    pages += [(windows[0], None), (windows[0], {"next_page_token": "c:3"})]
    for name in ours:
        assert type(ours[name]) is SliceRenderedRequester, name
        assert type(cdk[name]) is HttpRequester, name
        for stream_slice, token in pages:
            assert asked(ours[name], stream_slice, token) == asked(cdk[name], stream_slice, token), name


def test_given_the_events_requester_when_asked_twice_for_a_window_then_it_renders_once() -> None:
    events = requesters(True)["events"]
    renders: list[str] = []
    original = events._request_options_provider.get_request_params

    def counting(**kwargs: Any) -> Any:
        renders.append("params")
        return original(**kwargs)

    events._request_options_provider.get_request_params = counting
    first = window("11", "2026-01-01T00:00:00.000000Z", "2026-01-11T00:00:00.000000Z")
    params = [events.get_request_params(stream_slice=first, next_page_token=t) for t in (None, {"c": 1})]
    params[0]["start"] = "changed by a caller"
    again = events.get_request_params(stream_slice=first)

    assert renders == ["params"]
    assert again["start"] == params[1]["start"] != "changed by a caller"
    assert again["end"].startswith("2026-01-11T01:00:00")  # an hour past the window's end


@pytest.mark.parametrize(
    ("template", "from_slice"),
    [
        ("events/", True),
        ("{{ config['organization'] }}/{{ stream_partition.extra_fields['slug'] }}/", True),
        ("{{ format_datetime(str_to_datetime(stream_interval['end_time']) + duration('P1D'), '%Y') }}", True),
        ("{{ next_page_token['next_page_token'] }}", False),
        ("{{ now_utc() }}", False),
        ("{{ day_delta(-1) }}", False),
        ("{{ stream_state['updated'] }}", False),
        ("{% set floor = str_to_datetime(stream_interval['start_time']) %}{{ floor }}", True),
        ("{{ now_utc() }}{% set now_utc = 1 %}", False),
        ("{{ ['a', 'b'] | random }}", False),
        ("{{ config['organization'] | string | trim }}", True),
        ({"start": "{{ stream_interval['start_time'] }}", "limit": 100}, True),
        ({"{{ next_page_token['key'] }}": "x"}, False),
        ({"cursor": "{{ next_page_token }}"}, False),
    ],
)
def test_given_a_template_when_judged_then_only_slice_and_config_inputs_render_once_per_slice(
    template: Any, from_slice: bool
) -> None:
    assert renders_from_slice(template) is from_slice


def test_given_parameters_reading_the_page_token_when_pages_are_asked_then_each_renders_its_own() -> None:
    definition = {
        "type": "HttpRequester",
        "url_base": "http://127.0.0.1:9/api/0/",
        "path": "organizations/{{ config['organization'] }}/things/",
        "request_parameters": {"cursor": "{{ next_page_token['next_page_token'] }}", "scope": "all"},
    }
    requester = SentryComponentFactory().create_component(
        HttpRequesterModel, definition, config=CONFIG, name="things", decoder=None
    )
    assert type(requester) is SliceRenderedRequester
    assert not requester._options_from_slice
    assert requester._url_from_slice
    page = window("11", "a", "b")

    cursors = [
        requester.get_request_params(stream_slice=page, next_page_token={"next_page_token": c})["cursor"]
        for c in ("c:1", "c:2")
    ]

    assert cursors == ["c:1", "c:2"]


class Planner:
    """A planner that planned one part, `part`, starting at `1768089600000:0:0`."""

    def __init__(self, part: StreamSlice) -> None:
        self.part = part

    def part_start(self, window: Any) -> str | None:
        return "1768089600000:0:0" if window is self.part else None


def test_given_a_part_of_issues_when_its_pages_are_asked_then_the_first_starts_at_the_parts_end() -> None:
    issues = requesters(True)["issues"]
    part = window("11", "2026-01-01T00:00:00.000000Z", "2026-01-11T00:00:00.000000Z")
    before = issues.get_request_params(stream_slice=part, next_page_token=None)
    assert "cursor" not in before
    issues.planner = Planner(part)

    first = issues.get_request_params(stream_slice=part, next_page_token=None)
    assert first == {**before, "cursor": "1768089600000:0:0"}
    # Later pages follow Sentry's Link (the paginator's cursor), unchanged.
    assert issues.get_request_params(stream_slice=part, next_page_token={"next_page_token": "c:1"}) == before
    other = window("12", "2026-01-01T00:00:00.000000Z", "2026-01-11T00:00:00.000000Z")
    assert "cursor" not in issues.get_request_params(stream_slice=other, next_page_token=None)


@pytest.mark.parametrize("stream", ["events", "issues"])
def test_given_a_planned_stream_when_built_then_its_requester_and_cursors_share_a_planner(
    stream: str,
) -> None:
    source = PackagedSource(config=CONFIG)
    [built] = [s for s in source.streams(CONFIG) if s.name == stream]
    requester = built._stream_partition_generator._partition_factory._retriever.requester
    cursor = built.cursor

    assert isinstance(requester, SliceRenderedRequester)
    assert requester.planner is not None
    assert requester.planner is cursor._planner
    # The planner probes through the stream's own requester.
    assert requester.planner.requester is requester


def test_given_a_stream_not_planned_when_built_then_its_requester_has_no_planner() -> None:
    releases = requesters(True)["releases"]

    assert isinstance(releases, SliceRenderedRequester)
    assert releases.planner is None
