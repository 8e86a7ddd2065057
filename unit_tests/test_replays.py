from __future__ import annotations

from unittest import TestCase

from airbyte_cdk.test.mock_http import HttpMocker
from freezegun import freeze_time

from unit_tests.conftest import read_stream
from unit_tests.sentry import (
    config,
    error,
    projects_page,
    projects_request,
    record,
    replays_page,
    replays_request,
)

NOW = "2024-06-01T12:00:00Z"
ENDED = "2024-06-01T10:55:00.000000"  # NOW less an hour (a replay's longest) and the settling time


def replay(rid: str, project_id: str, started: str) -> dict:
    return record("replays", id=rid, project_id=project_id, started_at=started)


@freeze_time(NOW)
class ReplaysTest(TestCase):
    @HttpMocker()
    def test_given_projects_and_state_when_read_then_one_window_per_project_and_only_replays_started_after(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(projects_request(), projects_page(**{"11": "backend", "12": "web", "13": "mobile"}))
        backend = replays_request("11", "2024-05-30T00:00:00.000001", ENDED)
        http_mocker.get(
            backend,
            replays_page(
                # Active in the window but started before the state: already sent.
                [replay("r1", "11", "2024-05-29T23:50:00Z"), replay("r2", "11", "2024-05-30T08:00:00")],
                next_cursor="0:100:0",
            ),
        )
        http_mocker.get(
            replays_request("11", "2024-05-30T00:00:00.000001", ENDED, cursor="0:100:0"),
            replays_page([replay("r3", "11", "2024-05-31T09:00:00.123456Z")]),
        )
        mobile = replays_request("13", "2024-05-01T00:00:00.000001", ENDED)
        http_mocker.get(mobile, replays_page([replay("r9", "13", "2024-05-02T00:00:00Z")]))
        # No mock for web (not configured): a request for it fails the test.

        output = read_stream(
            "replays",
            config(projects=["backend", "mobile"], start_date="2024-05-01T00:00:00Z"),
            state={
                "states": [
                    {
                        "partition": {"project_id": "11", "parent_slice": {}},
                        "cursor": {"started_at": "2024-05-30T00:00:00.000000Z"},
                    }
                ]
            },
        )

        assert sorted(r.record.data["id"] for r in output.records) == ["r2", "r3", "r9"]
        http_mocker.assert_number_of_calls(backend, 1)
        http_mocker.assert_number_of_calls(mobile, 1)
        assert not output.errors

    @HttpMocker()
    def test_given_server_without_replays_when_read_then_stream_skipped_with_warning_not_failed(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(projects_request(), projects_page(**{"11": "backend"}))
        http_mocker.get(
            replays_request("11", "2024-05-01T00:00:00.000001", ENDED), error(404, {"detail": "Not found"})
        )

        output = read_stream("replays", config(start_date="2024-05-01T00:00:00Z"))

        assert output.records == []
        assert not output.errors
        assert any("this server does not have it (404)" in log.log.message for log in output.logs)
