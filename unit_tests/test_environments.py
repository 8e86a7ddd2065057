from __future__ import annotations

from unittest import TestCase

from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.mock_http import HttpMocker

from unit_tests.conftest import read_stream
from unit_tests.sentry import (
    FORBIDDEN,
    config,
    detail_array,
    environments_request,
    error,
    projects_page,
    projects_request,
    record,
)


class EnvironmentsTest(TestCase):
    @HttpMocker()
    def test_given_projects_configured_when_read_then_one_request_per_project_in_scope_keyed_by_project(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(projects_request(), projects_page(**{"11": "backend", "12": "web", "13": "mobile"}))
        production = record("environments", id="1")
        http_mocker.get(environments_request("backend"), detail_array([production]))
        http_mocker.get(
            environments_request("mobile"), detail_array([production, record("environments", id="2")])
        )
        # No mock for web's environments: a request for it fails the test.

        output = read_stream(
            "environments", config(projects=["backend", "mobile"]), sync_mode=SyncMode.full_refresh
        )

        assert sorted(r.record.data["id"] for r in output.records) == ["11:1", "13:1", "13:2"]
        first = next(r.record.data for r in output.records if r.record.data["id"] == "11:1")
        assert (first["environmentId"], first["projectSlug"], first["name"]) == ("1", "backend", "production")

    @HttpMocker()
    def test_given_project_the_token_may_not_read_when_read_then_it_is_skipped_and_others_sync(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(projects_request(), projects_page(**{"11": "backend", "12": "web"}))
        http_mocker.get(environments_request("backend"), error(403, FORBIDDEN))
        http_mocker.get(environments_request("web"), detail_array([record("environments", id="1")]))

        output = read_stream("environments", config(), sync_mode=SyncMode.full_refresh)

        assert [r.record.data["id"] for r in output.records] == ["12:1"]
        assert not output.errors
