from __future__ import annotations

from unittest import TestCase

from airbyte_cdk.test.mock_http import HttpMocker
from freezegun import freeze_time

from unit_tests.conftest import read_stream
from unit_tests.sentry import (
    config,
    deploys_request,
    page,
    record,
    release_url,
    releases_page,
    releases_request,
)

NOW = "2024-06-01T12:00:00Z"
STATE_AT = "2024-05-20T00:00:00.000000Z"


def release(rid: int, version: str, last_deploy: str | None) -> dict:
    deploy = None if last_deploy is None else record("deploys", id=f"d{rid}", dateFinished=last_deploy)
    return record("releases", id=rid, version=version, lastDeploy=deploy, projects=[{"slug": "backend"}])


def deploy(did: str, finished: str) -> dict:
    return record("deploys", id=did, dateFinished=finished)


@freeze_time(NOW)
class DeploysTest(TestCase):
    @HttpMocker()
    def test_given_state_when_read_then_only_releases_deployed_since_and_only_newer_deploys(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(
            releases_request(),
            releases_page(
                [
                    release(
                        3, "2.0.0+build.3", "2024-05-31T00:00:00.000000Z"
                    ),  # an old release, deployed again
                    release(2, "app@1.9.0", "2024-05-10T00:00:00Z"),  # deployed before the state: no request
                    release(1, "app@1.8.0", None),  # never deployed: no request
                ],
            ),
        )
        request = deploys_request("2.0.0+build.3")
        http_mocker.get(
            request,
            page(
                release_url("2.0.0+build.3", "deploys"),
                [deploy("105", "2024-05-31T00:00:00.000000Z"), deploy("101", "2024-05-01T00:00:00Z")],
            ),
        )

        output = read_stream(
            "deploys",
            config(),
            state={
                "use_global_cursor": True,
                "state": {"dateFinished": STATE_AT},
                "parent_state": {"deployed_releases": {"deployedAt": STATE_AT}},
            },
        )

        assert [(r.record.data["id"], r.record.data["release"]) for r in output.records] == [
            ("105", "2.0.0+build.3")
        ]
        http_mocker.assert_number_of_calls(request, 1)
        final = output.most_recent_state.stream_state.__dict__
        assert final["state"] == {"dateFinished": "2024-05-31T00:00:00.000000Z"}
        assert final["parent_state"] == {"deployed_releases": {"deployedAt": "2024-05-31T00:00:00.000000Z"}}

    def test_given_version_with_plus_and_hash_then_request_path_encodes_it_as_one_segment(self) -> None:
        assert release_url("web@1.0-rc.1#7", "deploys").endswith("/releases/web%401.0-rc.1%237/deploys/")
