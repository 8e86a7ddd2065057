"""The planner of parts (parts.py): what it sends to cut a project's span, and the windows it cuts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.declarative.models import DatetimeBasedCursor as DatetimeBasedCursorModel
from airbyte_cdk.sources.types import StreamSlice
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_sentry.manifest import load_manifest
from source_sentry.packaged.cursors import SentryComponentFactory, SpreadWindowsSettledEndCursor
from source_sentry.packaged.parts import PART_EVENTS, REFUSED, PartPlanner

DEFINITIONS = load_manifest()["definitions"]
CONFIG = {
    "auth_token": "t",
    "organization": "org",
    "settle_seconds": 300,
    "start_date": "2025-12-01T00:00:00Z",
}
PROJECT = StreamSlice(
    partition={"project_id": "1", "parent_slice": {}}, cursor_slice={}, extra_fields={"slug": "a"}
)
LOWER = datetime(2026, 1, 1, tzinfo=UTC)
UPPER = datetime(2026, 3, 1, tzinfo=UTC)


def answer(status: int, body: Any) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = requests.compat.json.dumps(body).encode()
    return response


class Requester:
    """Answers each probe with the next of `answers` (a Response, or an exception to raise), and
    keeps what it was asked."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.sent: list[dict[str, Any]] = []

    def send_probe(self, window: StreamSlice, params: dict[str, str]) -> Any:
        self.sent.append({"stream_slice": window, "request_params": params})
        reply = self.answers.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply


def event(when: datetime) -> requests.Response:
    return answer(200, [{"id": "x", "dateReceived": when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}])


def setup(
    requester: Requester, config: dict[str, Any] = CONFIG, reading: bool = True, stream: str = "events"
) -> tuple[Any, PartPlanner]:
    factory = SentryComponentFactory()
    factory.part_plans.reading = reading
    definition = {
        **DEFINITIONS["cursor"],
        "cursor_field": "dateReceived",
        "end_datetime": DEFINITIONS["settled_end"],
        "is_data_feed": True,
        "step": "{{ '' }}",  # as on sentry.io: one window per part
        "cursor_granularity": "PT0S",
    }
    if stream == "issues":  # the manifest's issues cursor: lastSeen, no step, no granularity
        definition = {
            **DEFINITIONS["cursor"],
            "cursor_field": "lastSeen",
            "end_datetime": DEFINITIONS["settled_end"],
            "is_data_feed": True,
        }
    cursor = factory.create_concurrent_cursor_from_datetime_based_cursor(
        model_type=DatetimeBasedCursorModel,
        component_definition=definition,
        stream_name=stream,
        stream_namespace=None,
        stream_state={},
        config=config,
    )
    assert isinstance(cursor, SpreadWindowsSettledEndCursor)
    planner = cursor._planner
    assert planner is not None
    planner.requester = requester
    planner.current = PROJECT
    return cursor, planner


def windows(cursor: Any, lower: datetime = LOWER, upper: datetime = UPPER) -> list[tuple[str, str]]:
    return [(w["start_time"], w["end_time"]) for w in cursor._split_per_slice_range(lower, upper, True)]


def test_given_a_project_of_at_most_a_part_when_planned_then_one_probe_and_one_window() -> None:
    requester = Requester(answer(200, []))
    cursor, _ = setup(requester)

    assert windows(cursor) == [("2026-01-01T00:00:00.000000Z", "2026-03-01T00:00:00.000000Z")]
    [probe] = requester.sent
    assert probe["request_params"] == {"per_page": "1", "cursor": f"0:{PART_EVENTS}:0"}
    assert probe["stream_slice"].partition == PROJECT.partition
    assert probe["stream_slice"].extra_fields == {"slug": "a"}
    assert dict(probe["stream_slice"].cursor_slice) == {
        "start_time": "2026-01-01T00:00:00.000000Z",
        "end_time": "2026-03-01T00:00:00.000000Z",
    }


def test_given_a_big_project_when_planned_then_parts_oldest_first_meet_end_to_end() -> None:
    first, second = datetime(2026, 2, 20, 12, tzinfo=UTC), datetime(2026, 2, 3, 6, 30, 1, 5, tzinfo=UTC)
    requester = Requester(event(first), event(second), answer(200, []))
    cursor, _ = setup(requester)

    assert windows(cursor) == [
        ("2026-01-01T00:00:00.000000Z", "2026-02-03T06:30:01.000005Z"),
        ("2026-02-03T06:30:01.000005Z", "2026-02-20T12:00:00.000000Z"),
        ("2026-02-20T12:00:00.000000Z", "2026-03-01T00:00:00.000000Z"),
    ]
    # Each probe asks the older remainder of the span.
    ends = [p["stream_slice"].cursor_slice["end_time"] for p in requester.sent]
    assert ends == [
        "2026-03-01T00:00:00.000000Z",
        "2026-02-20T12:00:00.000000Z",
        "2026-02-03T06:30:01.000005Z",
    ]


def test_given_an_hour_busier_than_a_part_when_planned_then_the_rest_is_one_part() -> None:
    # The probe of the remainder answers an event not older than its end: no progress, so stop.
    boundary = datetime(2026, 2, 20, tzinfo=UTC)
    requester = Requester(event(boundary), event(boundary + timedelta(minutes=30)))
    cursor, _ = setup(requester)

    assert len(windows(cursor)) == 2
    assert len(requester.sent) == 2


def test_given_a_forbidden_project_when_planned_then_its_one_request_is_the_probe_and_nothing_is_read() -> (
    None
):
    requester = Requester(answer(403, {"detail": "You do not have permission"}))
    cursor, planner = setup(requester)

    assert planner.plan(cursor, LOWER, UPPER) == REFUSED
    requester.answers.append(answer(403, {}))
    assert windows(cursor) == []


def test_given_a_server_refusing_the_probe_when_planned_then_the_span_is_read_as_before() -> None:
    # The probe's own error handler hands a 400 back (probes.py): an older Sentry's offset limit.
    requester = Requester(answer(400, {"detail": "Pagination offset too large"}))
    cursor, planner = setup(requester)

    assert windows(cursor) == [("2026-01-01T00:00:00.000000Z", "2026-03-01T00:00:00.000000Z")]
    assert len(requester.sent) == 1
    assert not planner.in_parts(planner.current_key)


def test_given_any_other_failure_of_the_probe_when_planned_then_it_is_the_syncs() -> None:
    broken = AirbyteTracedException(
        internal_message="'GET' request to 'x' failed with status code '401'",
        failure_type=FailureType.config_error,
    )
    cursor, _ = setup(Requester(broken))

    with pytest.raises(AirbyteTracedException):
        windows(cursor)


@pytest.mark.parametrize(
    ("config", "reading", "lower"),
    [
        ({**CONFIG, "server": "glitchtip"}, True, LOWER),  # GlitchTip ignores start, end and offsets
        (CONFIG, False, LOWER),  # check and discover: only a read plans
        (CONFIG, True, UPPER - timedelta(days=1)),  # an incremental span of a day or less
    ],
)
def test_given_a_span_not_planned_when_cut_then_no_probe_and_windows_as_before(
    config: dict[str, Any], reading: bool, lower: datetime
) -> None:
    requester = Requester()
    cursor, _ = setup(requester, config, reading)

    assert len(windows(cursor, lower=lower)) == 1
    assert requester.sent == []


def issue(when: datetime, link: str = "") -> requests.Response:
    response = answer(200, [{"id": "1", "lastSeen": when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}] if when else [])
    if link:
        response.headers["Link"] = link
    return response


def score(when: datetime) -> int:
    return int(when.timestamp()) * 1000 + when.microsecond // 1000


def test_given_a_big_project_of_issues_when_planned_then_probes_ask_a_limit_at_its_parts_ends() -> None:
    first, second = (
        datetime(2026, 2, 20, 12, 0, 0, 250999, tzinfo=UTC),
        datetime(2026, 2, 3, 6, 30, 1, tzinfo=UTC),
    )
    requester = Requester(issue(first), issue(second), answer(200, []))
    cursor, planner = setup(requester, stream="issues")

    assert windows(cursor) == [
        ("2026-01-01T00:00:00.000000Z", "2026-02-03T06:30:01.000000Z"),
        ("2026-02-03T06:30:01.000000Z", "2026-02-20T12:00:00.250999Z"),
        ("2026-02-20T12:00:00.250999Z", "2026-03-01T00:00:00.000000Z"),
    ]
    # Issues are paged by score (lastSeen in milliseconds) with `limit`: each probe skips
    # PART_EVENTS issues among those seen at or before the end of the span it asks.
    assert [p["request_params"] for p in requester.sent] == [
        {"limit": "1", "cursor": f"{score(UPPER)}:{PART_EVENTS}:0"},
        {"limit": "1", "cursor": f"{score(first)}:{PART_EVENTS}:0"},
        {"limit": "1", "cursor": f"{score(second)}:{PART_EVENTS}:0"},
    ]
    # A part's first page starts at its end's score, the newest part's as before; another
    # project's windows are not touched.
    part = StreamSlice(
        partition=PROJECT.partition,
        cursor_slice={"start_time": "2026-02-03T06:30:01.000000Z", "end_time": "2026-02-20T12:00:00.250999Z"},
    )
    assert planner.part_start(part) == f"{score(first)}:0:0" == "1771588800250:0:0"
    newest = StreamSlice(
        partition=PROJECT.partition,
        cursor_slice={"start_time": "2026-02-20T12:00:00.250999Z", "end_time": "2026-03-01T00:00:00.000000Z"},
    )
    assert planner.part_start(newest) is None
    other = StreamSlice(
        partition={"project_id": "2", "parent_slice": {}}, cursor_slice=dict(part.cursor_slice)
    )
    assert planner.part_start(other) is None


def test_given_a_short_empty_answer_with_more_when_issues_are_probed_then_the_next_cursor_is_asked() -> None:
    boundary = datetime(2026, 2, 20, tzinfo=UTC)
    more = '<http://x/?cursor=1771545600000:1:0>; rel="next"; results="true"; cursor="1771545600000:1:0"'
    requester = Requester(issue(None, more), issue(boundary), answer(200, []))  # type: ignore[arg-type]
    cursor, _ = setup(requester, stream="issues")

    assert len(windows(cursor)) == 2
    assert requester.sent[1]["request_params"] == {"limit": "1", "cursor": "1771545600000:1:0"}


def test_given_an_empty_answer_without_more_when_issues_are_probed_then_one_part() -> None:
    done = '<http://x/?cursor=1:0:0>; rel="next"; results="false"; cursor="1:0:0"'
    requester = Requester(issue(None, done))  # type: ignore[arg-type]
    cursor, planner = setup(requester, stream="issues")

    assert len(windows(cursor)) == 1
    assert len(requester.sent) == 1
    whole = StreamSlice(
        partition=PROJECT.partition,
        cursor_slice={"start_time": "2026-01-01T00:00:00.000000Z", "end_time": "2026-03-01T00:00:00.000000Z"},
    )
    assert planner.part_start(whole) is None
