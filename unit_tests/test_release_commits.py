from __future__ import annotations

from unittest import TestCase

from airbyte_cdk.test.mock_http import HttpMocker
from freezegun import freeze_time

from unit_tests.conftest import read_stream
from unit_tests.sentry import (
    config,
    page,
    record,
    release_commits_request,
    release_url,
    releases_page,
    releases_request,
)

NOW = "2024-06-01T12:00:00Z"


def release(rid: int, version: str, created: str) -> dict:
    return record("releases", id=rid, version=version, dateCreated=created, projects=[{"slug": "backend"}])


@freeze_time(NOW)
class ReleaseCommitsTest(TestCase):
    @HttpMocker()
    def test_given_releases_state_when_read_then_commits_of_new_releases_only_with_their_version(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(
            releases_request(),
            releases_page(
                [
                    release(9, "app@2.0.0", "2024-05-31T00:00:00Z"),
                    release(8, "app@1.9.0", "2024-05-20T00:00:00.000Z"),  # the state points here
                ],
                next_cursor="0:100:0",
            ),
        )
        url = release_url("app@2.0.0", "commits")
        http_mocker.get(
            release_commits_request("app@2.0.0"), page(url, [record("release_commits", id="a1")], "0:100:0")
        )
        http_mocker.get(
            release_commits_request("app@2.0.0", cursor="0:100:0"),
            page(url, [record("release_commits", id="a0")]),
        )
        # No mock for app@1.9.0's commits nor the releases' second page: either call fails the test.

        output = read_stream(
            "release_commits",
            config(),
            state={
                "use_global_cursor": True,
                "state": {"dateCreated": "2024-05-19T00:00:00.000000Z"},
                "parent_state": {"releases": {"dateCreated": "2024-05-20T00:00:00.000000Z"}},
            },
        )

        assert [(r.record.data["id"], r.record.data["release"]) for r in output.records] == [
            ("a1", "app@2.0.0"),
            ("a0", "app@2.0.0"),
        ]
        final = output.most_recent_state.stream_state.__dict__
        assert final["parent_state"] == {"releases": {"dateCreated": "2024-05-31T00:00:00.000000Z"}}
