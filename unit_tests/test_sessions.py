from __future__ import annotations

from unittest import TestCase

from airbyte_cdk.test.mock_http import HttpMocker
from freezegun import freeze_time

from unit_tests.conftest import read_stream
from unit_tests.sentry import FORBIDDEN, aggregate, config, error, group, org_list_url, sessions_request

NOW = "2024-06-04T12:00:00Z"
TODAY = "2024-06-04T00:00:00Z"
BACKEND = {"project": 4505278001, "release": "backend@1.2.0", "environment": "production"}


def answer(day: str, *groups: dict, next_cursor: str | None = None):
    return aggregate(day, list(groups), url=org_list_url("sessions"), next_cursor=next_cursor)


@freeze_time(NOW)
class SessionsTest(TestCase):
    @HttpMocker()
    def test_given_start_date_when_read_then_one_request_per_day_to_today_and_rows_keyed_by_day_and_group(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(
            sessions_request("2024-06-02"),
            answer("2024-06-02", group("sessions", BACKEND, {"sum(session)": 10, "count_unique(user)": 4})),
        )
        http_mocker.get(sessions_request("2024-06-03"), answer("2024-06-03"))
        http_mocker.get(
            sessions_request("2024-06-04"),
            answer(
                "2024-06-04",
                group("sessions", BACKEND),
                group(
                    "sessions",
                    {"project": 4505278009, "release": "1.0"},
                    {"crash_free_rate(session)": None, "crash_free_rate(user)": 1.0},
                ),
            ),
        )

        output = read_stream("sessions", config(start_date="2024-06-02T08:30:00Z"))

        # Days are read concurrently: their rows come in any order.
        assert sorted((r.record.data for r in output.records), key=lambda r: r["id"]) == [
            {
                "id": "2024-06-02/4505278001/backend@1.2.0/production",
                "day": "2024-06-02T00:00:00Z",
                "projectId": "4505278001",
                "release": "backend@1.2.0",
                "environment": "production",
                "sessions": 10,
                "users": 4,
                "crashFreeSessionRate": 0.9929577464788732,
                "crashFreeUserRate": 0.979381443298969,
            },
            {
                "id": "2024-06-04/4505278001/backend@1.2.0/production",
                "day": "2024-06-04T00:00:00Z",
                "projectId": "4505278001",
                "release": "backend@1.2.0",
                "environment": "production",
                "sessions": 1420,
                "users": 388,
                "crashFreeSessionRate": 0.9929577464788732,
                "crashFreeUserRate": 0.979381443298969,
            },
            # Sessions sent without an environment: no environment, an empty last part of the id;
            # a version that reads as a number stays text; a null rate is left out.
            {
                "id": "2024-06-04/4505278009/1.0/",
                "day": "2024-06-04T00:00:00Z",
                "projectId": "4505278009",
                "release": "1.0",
                "sessions": 1420,
                "users": 388,
                "crashFreeUserRate": 1.0,
            },
        ]
        assert output.most_recent_state.stream_state.__dict__ == {"day": "2024-06-04T00:00:00Z"}

    @HttpMocker()
    def test_given_state_when_read_then_the_five_days_before_it_are_read_again_and_nothing_older(
        self, http_mocker: HttpMocker
    ) -> None:
        days = ["2024-05-28", "2024-05-29", "2024-05-30", "2024-05-31", "2024-06-01", "2024-06-02"]
        days += ["2024-06-03", "2024-06-04"]
        requests = {day: sessions_request(day) for day in days}
        for day, request in requests.items():
            http_mocker.get(request, answer(day, group("sessions", BACKEND)))

        output = read_stream("sessions", config(), state={"day": "2024-06-02T00:00:00Z"})

        # The state's day and the five before it (sessions arrive up to five days late), then the
        # days since: no request for 2024-05-27 or earlier (an unmocked request fails the test).
        assert sorted(r.record.data["day"][:10] for r in output.records) == days
        for request in requests.values():
            http_mocker.assert_number_of_calls(request, 1)

    @HttpMocker()
    def test_given_projects_configured_when_read_then_one_request_a_day_by_their_slugs(
        self, http_mocker: HttpMocker
    ) -> None:
        request = sessions_request("2024-06-04", slugs=["backend", "web"])
        http_mocker.get(request, answer("2024-06-04", group("sessions", BACKEND)))

        output = read_stream("sessions", config(projects=["backend"], project="web", start_date=TODAY))

        assert [r.record.data["projectId"] for r in output.records] == ["4505278001"]

    @HttpMocker()
    def test_given_more_groups_than_a_page_when_read_then_the_next_link_is_followed(
        self, http_mocker: HttpMocker
    ) -> None:
        other = {**BACKEND, "environment": "staging"}
        http_mocker.get(
            sessions_request("2024-06-04"),
            answer("2024-06-04", group("sessions", BACKEND), next_cursor="0:10000:0"),
        )
        http_mocker.get(
            sessions_request("2024-06-04", cursor="0:10000:0"), answer("2024-06-04", group("sessions", other))
        )

        output = read_stream("sessions", config(start_date=TODAY))

        assert [r.record.data["environment"] for r in output.records] == ["production", "staging"]

    @HttpMocker()
    def test_given_token_without_org_read_when_read_then_skipped_with_message_naming_the_scope(
        self, http_mocker: HttpMocker
    ) -> None:
        request = sessions_request("2024-06-04")
        http_mocker.get(request, error(403, FORBIDDEN))

        output = read_stream("sessions", config(start_date=TODAY))

        assert output.records == []
        assert not output.errors
        http_mocker.assert_number_of_calls(request, 1)
        assert any("lacks the scope org:read (Sentry answered 403)" in m.log.message for m in output.logs)
