from __future__ import annotations

from unittest import TestCase

from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.mock_http import HttpMocker
from freezegun import freeze_time

from unit_tests.conftest import read_stream
from unit_tests.sentry import config, page, record, releases_request, releases_url

NOW = "2024-06-01T12:00:00Z"


def release(rid: int, created: str, *slugs: str) -> dict:
    return record(
        "releases",
        id=rid,
        version=f"v{rid}",
        dateCreated=created,
        projects=[{"slug": s, "name": s} for s in slugs],
    )


@freeze_time(NOW)
class ReleasesTest(TestCase):
    @HttpMocker()
    def test_given_state_when_read_then_stops_paging_at_first_older_release_and_skips_boundary(
        self, http_mocker: HttpMocker
    ) -> None:
        first = releases_request()
        http_mocker.get(
            first,
            page(
                releases_url(),
                [
                    release(9, "2024-05-31T00:00:00Z", "backend"),
                    release(8, "2024-05-20T00:00:00.000Z", "backend"),  # the state points here
                    release(7, "2024-05-10T00:00:00Z", "backend"),
                ],
                next_cursor="0:100:0",
            ),
        )
        # No mock for cursor 0:100:0: a request for the next page would fail the test.

        output = read_stream("releases", config(), state={"dateCreated": "2024-05-20T00:00:00.000000Z"})

        assert [r.record.data["id"] for r in output.records] == ["9"]
        http_mocker.assert_number_of_calls(first, 1)
        assert output.most_recent_state.stream_state.__dict__ == {
            "dateCreated": "2024-05-31T00:00:00.000000Z"
        }

    @HttpMocker()
    def test_given_projects_configured_when_read_then_only_releases_of_those_projects(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(
            releases_request(),
            page(
                releases_url(),
                [
                    release(3, "2024-05-31T00:00:00Z", "web"),
                    release(2, "2024-05-30T00:00:00Z", "backend", "web"),
                    release(1, "2024-05-29T00:00:00Z", "mobile"),
                ],
            ),
        )

        output = read_stream(
            "releases", config(projects=["backend", "mobile"]), sync_mode=SyncMode.full_refresh
        )

        assert [r.record.data["id"] for r in output.records] == ["2", "1"]

    @HttpMocker()
    def test_given_no_start_date_when_full_refresh_then_every_page_is_read(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(
            releases_request(),
            page(releases_url(), [release(2, "2020-01-01T00:00:00Z", "a")], next_cursor="0:100:0"),
        )
        http_mocker.get(
            releases_request(cursor="0:100:0"),
            page(releases_url(), [release(1, "2019-01-01T00:00:00Z", "a")]),
        )

        output = read_stream("releases", config(), sync_mode=SyncMode.full_refresh)

        assert [r.record.data["id"] for r in output.records] == ["2", "1"]
