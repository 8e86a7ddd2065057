from __future__ import annotations

from unittest import TestCase

from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.mock_http import HttpMocker
from freezegun import freeze_time

from unit_tests.conftest import read_stream
from unit_tests.sentry import (
    config,
    error,
    events_request,
    events_url,
    page,
    projects_request,
    projects_url,
    record,
)

NOW = "2024-06-01T12:00:00Z"
END = "2024-06-01T12:00:00.000000"
START = "2024-05-01T00:00:00.000000"


def project(slug: str, pid: str) -> dict:
    return record("projects", slug=slug, id=pid)


def event(eid: str, created: str, received: str | None = None) -> dict:
    return record("events", id=eid, eventID=eid, dateCreated=created, dateReceived=received or created)


@freeze_time(NOW)
class EventsTest(TestCase):
    @HttpMocker()
    def test_given_two_pages_when_full_refresh_then_follows_link_cursor_and_reads_all(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(projects_request(), page(projects_url(), [project("backend", "11")]))
        http_mocker.get(
            events_request("backend", START, END),
            page(events_url("backend"), [event("a" * 32, "2024-05-30T10:00:00Z")], next_cursor="0:100:0"),
        )
        http_mocker.get(
            events_request("backend", START, END, cursor="0:100:0"),
            page(events_url("backend"), [event("b" * 32, "2024-05-20T10:00:00.123Z")]),
        )

        output = read_stream(
            "events", config(start_date="2024-05-01T00:00:00Z"), sync_mode=SyncMode.full_refresh
        )

        assert [r.record.data["id"] for r in output.records] == ["a" * 32, "b" * 32]


STATE_AT = "2024-05-30T10:00:00.000000Z"


def partition_state(*entries: tuple[str, str]) -> dict:
    return {
        "states": [
            {"partition": {"parent_slice": {}, "project_id": pid}, "cursor": {"dateReceived": value}}
            for pid, value in entries
        ]
    }


@freeze_time(NOW)
class EventsIncrementalTest(TestCase):
    @HttpMocker()
    def test_given_state_when_read_then_window_reaches_back_by_lookback_and_only_newer_events_are_emitted(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(projects_request(), page(projects_url(), [project("backend", "11")]))
        # state 10:00, lookback 30 minutes: the server is asked for dateCreated >= 09:30.
        http_mocker.get(
            events_request("backend", "2024-05-30T09:30:00.000000", END),
            page(
                events_url("backend"),
                [
                    event("new" + "0" * 29, "2024-05-31T08:00:00Z", "2024-05-31T08:00:00.2Z"),
                    # late: happened before the state, reached Sentry after it
                    event("late" + "0" * 28, "2024-05-30T09:45:00Z", "2024-05-30T11:00:00.000Z"),
                    # the boundary event the state points at: already sent
                    event("edge" + "0" * 28, "2024-05-30T09:59:59Z", "2024-05-30T10:00:00Z"),
                    event("old" + "0" * 29, "2024-05-30T09:40:00Z", "2024-05-30T09:40:00.5Z"),
                ],
            ),
        )

        output = read_stream(
            "events",
            config(start_date="2024-05-01T00:00:00Z", lookback_minutes=30),
            state=partition_state(("11", STATE_AT)),
        )

        assert [r.record.data["id"][:4] for r in output.records] == ["new0", "late"]
        final = output.most_recent_state.stream_state.__dict__
        assert final["states"] == [
            {
                "partition": {"parent_slice": {}, "project_id": "11"},
                "cursor": {"dateReceived": "2024-05-31T08:00:00.200000Z"},
            }
        ]

    @HttpMocker()
    def test_given_state_and_nothing_new_when_read_then_no_record_and_state_unchanged(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(projects_request(), page(projects_url(), [project("backend", "11")]))
        http_mocker.get(
            events_request("backend", "2024-05-30T09:00:00.000000", END),
            page(
                events_url("backend"),
                [event("edge" + "0" * 28, "2024-05-30T10:00:00Z", "2024-05-30T10:00:00.000Z")],
            ),
        )

        output = read_stream(
            "events", config(start_date="2024-05-01T00:00:00Z"), state=partition_state(("11", STATE_AT))
        )

        assert output.records == []
        assert output.most_recent_state.stream_state.__dict__["states"][0]["cursor"] == {
            "dateReceived": STATE_AT
        }

    @HttpMocker()
    def test_given_lookback_before_start_date_when_read_then_window_never_starts_before_start_date(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(projects_request(), page(projects_url(), [project("backend", "11")]))
        http_mocker.get(
            events_request("backend", "2024-05-30T09:50:00.000000", END), page(events_url("backend"), [])
        )

        output = read_stream(
            "events",
            config(start_date="2024-05-30T09:50:00Z", lookback_minutes=60),
            state=partition_state(("11", STATE_AT)),
        )

        assert output.records == []
        assert not output.errors

    @HttpMocker()
    def test_given_two_projects_when_read_then_each_project_keeps_its_own_cursor(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(
            projects_request(), page(projects_url(), [project("backend", "11"), project("web", "12")])
        )
        http_mocker.get(
            events_request("backend", "2024-05-30T09:00:00.000000", END),
            page(events_url("backend"), [event("b" * 32, "2024-05-31T00:00:00Z")]),
        )
        http_mocker.get(
            events_request("web", "2024-05-01T00:00:00.000000", END),
            page(events_url("web"), [event("w" * 32, "2024-05-02T00:00:00.123456Z")]),
        )

        output = read_stream(
            "events", config(start_date="2024-05-01T00:00:00Z"), state=partition_state(("11", STATE_AT))
        )

        cursors = {
            s["partition"]["project_id"]: s["cursor"]["dateReceived"]
            for s in output.most_recent_state.stream_state.__dict__["states"]
        }
        assert cursors == {"11": "2024-05-31T00:00:00.000000Z", "12": "2024-05-02T00:00:00.123456Z"}
        assert sorted(r.record.data["id"][0] for r in output.records) == ["b", "w"]


@freeze_time(NOW)
class EventsScopeTest(TestCase):
    @HttpMocker()
    def test_given_projects_configured_when_read_then_only_those_projects_are_requested(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(
            projects_request(),
            page(projects_url(), [project("backend", "11"), project("web", "12"), project("mobile", "13")]),
        )
        http_mocker.get(
            events_request("web", START, END),
            page(events_url("web"), [event("w" * 32, "2024-05-02T00:00:00Z")]),
        )

        output = read_stream("events", config(start_date="2024-05-01T00:00:00Z", projects=["web"]))

        assert [r.record.data["id"] for r in output.records] == ["w" * 32]

    @HttpMocker()
    def test_given_official_single_project_field_when_read_then_that_project_is_synced(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(
            projects_request(), page(projects_url(), [project("backend", "11"), project("web", "12")])
        )
        http_mocker.get(
            events_request("backend", START, END),
            page(events_url("backend"), [event("b" * 32, "2024-05-02T00:00:00Z")]),
        )

        output = read_stream("events", config(start_date="2024-05-01T00:00:00Z", project="backend"))

        assert [r.record.data["id"] for r in output.records] == ["b" * 32]

    @HttpMocker()
    def test_given_forbidden_project_when_read_then_it_is_skipped_with_its_name_and_others_sync(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(
            projects_request(), page(projects_url(), [project("backend", "11"), project("secret", "12")])
        )
        http_mocker.get(
            events_request("backend", START, END),
            page(events_url("backend"), [event("b" * 32, "2024-05-02T00:00:00Z")]),
        )
        http_mocker.get(
            events_request("secret", START, END),
            error(403, {"detail": "You do not have permission to perform this action."}),
        )

        output = read_stream("events", config(start_date="2024-05-01T00:00:00Z"))

        assert [r.record.data["id"] for r in output.records] == ["b" * 32]
        assert not output.errors
        assert output.is_in_logs("Skipping .*/projects/acme/secret/events/.*403")
