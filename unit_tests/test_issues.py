from __future__ import annotations

from unittest import TestCase

from airbyte_cdk.test.mock_http import HttpMocker
from freezegun import freeze_time

from unit_tests.conftest import read_stream
from unit_tests.sentry import config, issues_request, issues_url, page, projects_request, projects_url, record

NOW = "2024-06-01T12:00:00Z"
# The window ends settle_seconds (300 by default) before now; the request reaches an hour further,
# for events dated by a client clock ahead of Sentry's.
END = "2024-06-01T12:55:00.000000"


def issue(iid: str, last_seen: str, status: str = "unresolved") -> dict:
    return record("issues", id=iid, lastSeen=last_seen, status=status)


def projects_page():
    return page(projects_url(), [record("projects", slug="backend", id="11")])


# The status period NOW falls in, with the default refresh of 24 hours.
PERIOD = "2024-06-01T00:00:00Z"


def period_state(period: str, last_seen: str) -> dict:
    partition = {"parent_slice": {}, "project_id": "11", "status_period": period}
    return {"states": [{"partition": partition, "cursor": {"lastSeen": last_seen}}]}


@freeze_time(NOW)
class IssuesTest(TestCase):
    @HttpMocker()
    def test_given_no_state_when_read_then_asks_for_all_statuses_since_start_and_follows_short_pages(
        self, http_mocker: HttpMocker
    ) -> None:
        start = "2024-05-01T00:00:00.000000"
        http_mocker.get(projects_request(), projects_page())
        # Sentry may return a short (even empty) page while more exist: paging goes on.
        http_mocker.get(
            issues_request("11", start, END), page(issues_url(), [], next_cursor="1717000000000:100:0")
        )
        http_mocker.get(
            issues_request("11", start, END, cursor="1717000000000:100:0"),
            page(
                issues_url(),
                [
                    issue("1", "2024-05-31T10:00:00Z", "resolved"),
                    issue("2", "2024-05-20T10:00:00.5Z", "ignored"),
                ],
            ),
        )

        output = read_stream("issues", config(start_date="2024-05-01T00:00:00Z"))

        assert [(r.record.data["id"], r.record.data["status"]) for r in output.records] == [
            ("1", "resolved"),
            ("2", "ignored"),
        ]
        cursor = output.most_recent_state.stream_state.__dict__["states"][0]["cursor"]
        assert cursor == {"lastSeen": "2024-05-31T10:00:00.000000Z"}

    @HttpMocker()
    def test_given_state_when_read_then_last_seen_query_starts_at_state_and_boundary_issue_is_not_resent(
        self, http_mocker: HttpMocker
    ) -> None:
        state_at = "2024-05-31T10:00:00.000000"
        http_mocker.get(projects_request(), projects_page())
        http_mocker.get(
            issues_request("11", state_at, END),
            page(
                issues_url(), [issue("3", "2024-06-01T09:00:00.123456Z"), issue("1", "2024-05-31T10:00:00Z")]
            ),
        )

        output = read_stream(
            "issues",
            config(start_date="2024-05-01T00:00:00Z"),
            state=period_state(PERIOD, state_at + "Z"),
        )

        assert [r.record.data["id"] for r in output.records] == ["3"]

    @HttpMocker()
    def test_given_no_start_date_when_read_then_window_is_sentry_retention_of_90_days(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(projects_request(), projects_page())
        http_mocker.get(issues_request("11", "2024-03-03T12:00:00.000000", END), page(issues_url(), []))

        output = read_stream("issues", config())

        assert output.records == []
        assert not output.errors


@freeze_time(NOW)
class IssueStatusRefreshTest(TestCase):
    """lastSeen does not move when an issue is resolved: the first sync of each status period
    reads every issue in scope again, later ones in the period are incremental."""

    @HttpMocker()
    def test_given_state_of_the_previous_period_when_read_then_every_issue_is_read_again(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(projects_request(), projects_page())
        http_mocker.get(
            issues_request("11", "2024-05-01T00:00:00.000000", END),
            page(
                issues_url(),
                [issue("1", "2024-05-31T10:00:00Z", "resolved"), issue("2", "2024-05-02T08:00:00Z")],
            ),
        )

        output = read_stream(
            "issues",
            config(start_date="2024-05-01T00:00:00Z"),
            state=period_state("2024-05-31T00:00:00Z", "2024-05-31T10:00:00.000000Z"),
        )

        assert [(r.record.data["id"], r.record.data["status"]) for r in output.records] == [
            ("1", "resolved"),
            ("2", "unresolved"),
        ]
        states = output.most_recent_state.stream_state.__dict__["states"]
        current = [s for s in states if s["partition"]["status_period"] == PERIOD]
        assert current == [
            {
                "partition": {"parent_slice": {}, "project_id": "11", "status_period": PERIOD},
                "cursor": {"lastSeen": "2024-05-31T10:00:00.000000Z"},
            }
        ]

    def _assert_read_incrementally(self, http_mocker: HttpMocker, refresh_hours: int, period: str) -> None:
        """With a state of `period`, the sync asks only for what is newer than the state."""
        http_mocker.get(projects_request(), projects_page())
        http_mocker.get(issues_request("11", "2024-05-31T10:00:00.000000", END), page(issues_url(), []))

        output = read_stream(
            "issues",
            config(start_date="2024-05-01T00:00:00Z", issue_status_refresh_hours=refresh_hours),
            state=period_state(period, "2024-05-31T10:00:00.000000Z"),
        )

        assert output.records == []
        assert not output.errors

    @HttpMocker()
    def test_given_refresh_every_6_hours_when_read_then_the_period_starts_at_the_last_6_hour_mark(
        self, http_mocker: HttpMocker
    ) -> None:
        self._assert_read_incrementally(http_mocker, 6, "2024-06-01T12:00:00Z")

    @HttpMocker()
    def test_given_refresh_off_when_read_then_state_stays_incremental_across_days(
        self, http_mocker: HttpMocker
    ) -> None:
        self._assert_read_incrementally(http_mocker, 0, "1970-01-01T00:00:00Z")
