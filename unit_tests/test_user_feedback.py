from __future__ import annotations

from unittest import TestCase

from airbyte_cdk.test.mock_http import HttpMocker
from freezegun import freeze_time

from unit_tests.conftest import read_stream
from unit_tests.sentry import (
    config,
    error,
    page,
    projects_page,
    projects_request,
    record,
    user_feedback_request,
    user_feedback_url,
)

NOW = "2024-06-01T12:00:00Z"


def report(rid: str, created: str) -> dict:
    return record("user_feedback", id=rid, dateCreated=created)


@freeze_time(NOW)
class UserFeedbackTest(TestCase):
    @HttpMocker()
    def test_given_state_when_read_then_paging_stops_at_first_report_not_newer_and_it_is_not_sent(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(projects_request(), projects_page(**{"11": "backend"}))
        first = user_feedback_request("backend")
        http_mocker.get(
            first,
            page(
                user_feedback_url("backend"),
                [report("7", "2024-05-31T00:00:00.000Z"), report("6", "2024-05-20T00:00:00Z")],
                next_cursor="1716163200000:0:0",
            ),
        )
        # No mock for the next page: asking for it fails the test.

        output = read_stream(
            "user_feedback",
            config(),
            state={
                "states": [
                    {
                        "partition": {"project_id": "11", "parent_slice": {}},
                        "cursor": {"dateCreated": "2024-05-20T00:00:00.000000Z"},
                    }
                ]
            },
        )

        assert [(r.record.data["id"], r.record.data["projectSlug"]) for r in output.records] == [
            ("7", "backend")
        ]
        http_mocker.assert_number_of_calls(first, 1)

    @HttpMocker()
    def test_given_server_without_user_feedback_when_read_then_stream_skipped_with_warning_not_failed(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(projects_request(), projects_page(**{"11": "backend"}))
        http_mocker.get(user_feedback_request("backend"), error(404, {"detail": "Not found"}))

        output = read_stream("user_feedback", config())

        assert output.records == []
        assert not output.errors
        assert any("this server does not have it (404)" in log.log.message for log in output.logs)
