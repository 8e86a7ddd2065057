from __future__ import annotations

from unittest import TestCase

from airbyte_cdk.test.mock_http import HttpMocker
from freezegun import freeze_time

from unit_tests.conftest import read_stream
from unit_tests.sentry import (
    FORBIDDEN,
    checkins_request,
    checkins_url,
    config,
    error,
    monitors_request,
    org_list_url,
    page,
    record,
)

NOW = "2024-06-01T12:00:00Z"
SETTLED = "2024-06-01T11:55:00.000000"  # NOW less the default settling time of 300 s


def monitor(mid: str, slug: str, project: str = "backend") -> dict:
    return record("monitors", id=mid, slug=slug, project={"id": "1", "slug": project, "name": project})


def checkin(cid: str, created: str) -> dict:
    return record("monitor_checkins", id=cid, dateCreated=created)


@freeze_time(NOW)
class MonitorCheckinsTest(TestCase):
    @HttpMocker()
    def test_given_state_when_read_then_each_monitor_asked_for_the_window_after_its_state_only(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(
            monitors_request(),
            page(
                org_list_url("monitors"),
                [monitor("m1", "nightly"), monitor("m2", "hourly"), monitor("m3", "web-job", project="web")],
            ),
        )
        # m1 has a state; m2 is new to the connector and starts after start_date; m3 is out of scope.
        nightly = checkins_request("m1", "2024-05-30T00:00:00.000001", SETTLED)
        http_mocker.get(
            nightly,
            page(checkins_url("m1"), [checkin("c3", "2024-05-31T00:00:01.5Z")], next_cursor="0:100:0"),
        )
        http_mocker.get(
            checkins_request("m1", "2024-05-30T00:00:00.000001", SETTLED, cursor="0:100:0"),
            page(checkins_url("m1"), [checkin("c2", "2024-05-30T12:00:00Z")]),
        )
        hourly = checkins_request("m2", "2024-05-01T00:00:00.000001", SETTLED)
        http_mocker.get(hourly, page(checkins_url("m2"), [checkin("c9", "2024-05-02T00:00:00.000000Z")]))

        output = read_stream(
            "monitor_checkins",
            config(projects=["backend"], start_date="2024-05-01T00:00:00Z"),
            state={
                "states": [
                    {
                        "partition": {"monitor_id": "m1", "parent_slice": {}},
                        "cursor": {"dateCreated": "2024-05-30T00:00:00.000000Z"},
                    }
                ]
            },
        )

        assert sorted((r.record.data["id"], r.record.data["monitorSlug"]) for r in output.records) == [
            ("c2", "nightly"),
            ("c3", "nightly"),
            ("c9", "hourly"),
        ]
        http_mocker.assert_number_of_calls(nightly, 1)
        http_mocker.assert_number_of_calls(hourly, 1)
        assert not output.errors

    @HttpMocker()
    def test_given_server_without_checkins_endpoint_when_read_then_stream_skipped_with_warning_not_failed(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(monitors_request(), page(org_list_url("monitors"), [monitor("m1", "nightly")]))
        missing = checkins_request("m1", "2024-05-01T00:00:00.000001", SETTLED)
        http_mocker.get(missing, error(404, {"detail": "The requested resource does not exist"}))

        output = read_stream("monitor_checkins", config(start_date="2024-05-01T00:00:00Z"))

        assert output.records == []
        assert not output.errors
        assert any("this server does not have it (404)" in log.log.message for log in output.logs)
        http_mocker.assert_number_of_calls(missing, 1)

    @HttpMocker()
    def test_given_token_without_alerts_scope_when_read_then_skipped_naming_the_scope(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(monitors_request(), error(403, FORBIDDEN))

        output = read_stream("monitor_checkins", config(start_date="2024-05-01T00:00:00Z"))

        assert output.records == []
        assert not output.errors
        assert any("lacks the scope alerts:read" in log.log.message for log in output.logs)
