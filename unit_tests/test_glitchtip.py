"""What the connector sends to GlitchTip (`server: glitchtip`) and what it makes of the answers:
no Sentry-only parameter, paging that stops at the state, ids for releases, string projectIDs."""

from __future__ import annotations

from unittest import TestCase

from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.mock_http import HttpMocker
from freezegun import freeze_time

from unit_tests.conftest import read_stream
from unit_tests.sentry import (
    config,
    events_url,
    issues_url,
    page,
    projects_request,
    projects_url,
    record,
    releases_request,
    releases_url,
    request,
)

NOW = "2024-06-01T12:00:00Z"
GLITCHTIP = config(start_date="2024-05-01T00:00:00Z", server="glitchtip")


def projects_page():
    return page(projects_url(), [record("projects", slug="backend", id="11")])


def issues_request(cursor: str | None = None):
    return request(issues_url(), project="11", sort="-last_seen", limit=100, cursor=cursor)


def events_request(cursor: str | None = None):
    return request(events_url("backend"), full="true", limit=100, per_page=100, cursor=cursor)


def issue(iid: str, last_seen: str) -> dict:
    return record("issues", id=iid, lastSeen=last_seen)


def event(eid: str, created: str, received: str) -> dict:
    return record("events", id=eid, eventID=eid, dateCreated=created, dateReceived=received, projectID=11)


def issue_state(last_seen: str) -> dict:
    partition = {"parent_slice": {}, "project_id": "11", "status_period": "2024-06-01T00:00:00Z"}
    return {"states": [{"partition": partition, "cursor": {"lastSeen": last_seen}}]}


def event_state(received: str) -> dict:
    return {
        "states": [
            {"partition": {"parent_slice": {}, "project_id": "11"}, "cursor": {"dateReceived": received}}
        ]
    }


@freeze_time(NOW)
class GlitchTipTest(TestCase):
    @HttpMocker()
    def test_given_state_when_reading_issues_then_sorted_by_last_seen_alone_and_paging_stops_at_the_state(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(projects_request(), projects_page())
        # Page 1 ends on an issue older than the state: page 2 (cursor c2) is never asked for.
        http_mocker.get(
            issues_request(),
            page(
                issues_url(),
                [
                    issue("3", "2024-06-01T09:00:00Z"),
                    issue("1", "2024-05-31T10:00:00Z"),
                    issue("2", "2024-05-20T10:00:00Z"),
                ],
                next_cursor="c2",
            ),
        )

        output = read_stream("issues", GLITCHTIP, state=issue_state("2024-05-31T10:00:00.000000Z"))

        assert [r.record.data["id"] for r in output.records] == ["3"]

    @HttpMocker()
    def test_given_a_page_of_new_issues_when_reading_then_the_next_page_is_read_too(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(projects_request(), projects_page())
        http_mocker.get(
            issues_request(), page(issues_url(), [issue("3", "2024-06-01T09:00:00Z")], next_cursor="c2")
        )
        http_mocker.get(
            issues_request("c2"),
            page(issues_url(), [issue("4", "2024-05-31T11:00:00Z"), issue("1", "2024-05-31T10:00:00Z")]),
        )

        output = read_stream("issues", GLITCHTIP, state=issue_state("2024-05-31T10:00:00.000000Z"))

        assert [r.record.data["id"] for r in output.records] == ["3", "4"]

    @HttpMocker()
    def test_given_state_when_reading_events_then_no_window_is_sent_and_paging_stops_past_the_lookback(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(projects_request(), projects_page())
        # State 10:00, lookback 60 minutes: the page's last event was received before the state
        # and created before 09:00, so the rest of the history is not read.
        http_mocker.get(
            events_request(),
            page(
                events_url("backend"),
                [
                    event("new" + "0" * 29, "2024-05-31T08:00:00Z", "2024-05-31T08:00:01Z"),
                    event("late" + "0" * 28, "2024-05-30T09:30:00Z", "2024-05-30T11:00:00Z"),
                    event("seen" + "0" * 28, "2024-05-30T09:10:00Z", "2024-05-30T09:10:01Z"),
                    event("old" + "0" * 29, "2024-05-30T08:00:00Z", "2024-05-30T08:00:01Z"),
                ],
                next_cursor="c2",
            ),
        )

        output = read_stream("events", GLITCHTIP, state=event_state("2024-05-30T10:00:00.000000Z"))

        assert [r.record.data["id"][:4] for r in output.records] == ["new0", "late"]
        assert {r.record.data["projectID"] for r in output.records} == {"11"}

    @HttpMocker()
    def test_given_releases_without_id_when_reading_then_the_version_is_their_id(
        self, http_mocker: HttpMocker
    ) -> None:
        release = record("releases", version="web@1.2.3", dateCreated="2024-05-30T10:00:00Z")
        del release["id"]
        http_mocker.get(releases_request(), page(releases_url(), [release]))

        output = read_stream("releases", GLITCHTIP, sync_mode=SyncMode.full_refresh)

        assert [r.record.data["id"] for r in output.records] == ["web@1.2.3"]

    @HttpMocker()
    def test_given_sentry_releases_when_reading_then_their_id_is_kept_as_text(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(
            releases_request(),
            page(
                releases_url(),
                [record("releases", id=7, version="web@1.2.3", dateCreated="2024-05-30T10:00:00Z")],
            ),
        )

        output = read_stream("releases", config(), sync_mode=SyncMode.full_refresh)

        assert [r.record.data["id"] for r in output.records] == ["7"]
