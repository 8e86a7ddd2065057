from __future__ import annotations

from unittest import TestCase

from airbyte_cdk.test.mock_http import HttpMocker
from freezegun import freeze_time

from unit_tests.conftest import read_stream
from unit_tests.sentry import aggregate, config, error, group, usage_stats_request

NOW = "2024-06-04T12:00:00Z"
ERRORS = {"project": 4505278001, "category": "error", "outcome": "accepted"}
NOT_FOUND = {"detail": "The requested resource does not exist"}


@freeze_time(NOW)
class UsageStatsTest(TestCase):
    @HttpMocker()
    def test_given_state_when_read_then_the_day_before_it_again_and_rows_keyed_by_day_and_group(
        self, http_mocker: HttpMocker
    ) -> None:
        dropped = {"project": 4505278009, "category": "attachment", "outcome": "rate_limited"}
        for day in ("2024-06-02", "2024-06-03"):
            http_mocker.get(
                usage_stats_request(day), aggregate(day, [group("usage_stats", ERRORS)], series=False)
            )
        http_mocker.get(
            usage_stats_request("2024-06-04"),
            aggregate(
                "2024-06-04",
                [group("usage_stats", dropped, {"sum(quantity)": 5_242_880, "sum(times_seen)": 3})],
                series=False,
            ),
        )

        # The state's day and the one before it (outcomes recorded across midnight), then today;
        # an unmocked request (2024-06-01 or earlier) fails the test.
        output = read_stream("usage_stats", config(), state={"day": "2024-06-03T00:00:00Z"})

        assert sorted((r.record.data for r in output.records), key=lambda r: r["id"]) == [
            {
                "id": f"{day}/4505278001/error/accepted",
                "day": f"{day}T00:00:00Z",
                "projectId": "4505278001",
                "category": "error",
                "outcome": "accepted",
                "quantity": 165665,
                "timesSeen": 165665,
            }
            for day in ("2024-06-02", "2024-06-03")
        ] + [
            {
                "id": "2024-06-04/4505278009/attachment/rate_limited",
                "day": "2024-06-04T00:00:00Z",
                "projectId": "4505278009",
                "category": "attachment",
                "outcome": "rate_limited",
                "quantity": 5_242_880,
                "timesSeen": 3,
            }
        ]
        assert output.most_recent_state.stream_state.__dict__ == {"day": "2024-06-04T00:00:00Z"}

    @HttpMocker()
    def test_given_projects_configured_when_read_then_asked_by_their_slugs(
        self, http_mocker: HttpMocker
    ) -> None:
        request = usage_stats_request("2024-06-04", slugs=["backend"])
        http_mocker.get(request, aggregate("2024-06-04", [group("usage_stats", ERRORS)], series=False))

        output = read_stream("usage_stats", config(project="backend", start_date="2024-06-04"))

        assert [r.record.data["id"] for r in output.records] == ["2024-06-04/4505278001/error/accepted"]

    @HttpMocker()
    def test_given_server_without_stats_v2_when_read_then_skipped_with_message_naming_the_endpoint(
        self, http_mocker: HttpMocker
    ) -> None:
        request = usage_stats_request("2024-06-04")
        http_mocker.get(request, error(404, NOT_FOUND))

        output = read_stream("usage_stats", config(start_date="2024-06-04T00:00:00Z"))

        assert output.records == []
        assert not output.errors
        http_mocker.assert_number_of_calls(request, 1)
        assert any("this server does not have it (404)" in m.log.message for m in output.logs)
