from __future__ import annotations

from unittest import TestCase

from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.mock_http import HttpMocker

from unit_tests.conftest import read_stream
from unit_tests.sentry import (
    FORBIDDEN,
    config,
    detectors_request,
    error,
    org_list_url,
    page,
    projects_page,
    projects_request,
    record,
)


class DetectorsTest(TestCase):
    @HttpMocker()
    def test_given_projects_configured_when_read_then_one_list_per_project_in_scope_by_its_id(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(projects_request(), projects_page(**{"11": "backend", "12": "web", "13": "mobile"}))
        http_mocker.get(
            detectors_request("11"),
            page(
                org_list_url("detectors"),
                [record("detectors", id="1", projectId="11")],
                next_cursor="0:100:0",
            ),
        )
        http_mocker.get(
            detectors_request("11", cursor="0:100:0"),
            page(org_list_url("detectors"), [record("detectors", id="2", projectId="11")]),
        )
        http_mocker.get(
            detectors_request("13"),
            page(org_list_url("detectors"), [record("detectors", id="3", projectId="13")]),
        )
        # No mock for web (12): a request for it fails the test.

        output = read_stream(
            "detectors", config(projects=["backend", "mobile"]), sync_mode=SyncMode.full_refresh
        )

        assert sorted(r.record.data["id"] for r in output.records) == ["1", "2", "3"]

    @HttpMocker()
    def test_given_project_the_token_may_not_read_when_read_then_it_is_skipped_and_others_sync(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(projects_request(), projects_page(**{"11": "backend", "12": "web"}))
        http_mocker.get(detectors_request("11"), error(403, FORBIDDEN))
        http_mocker.get(
            detectors_request("12"),
            page(org_list_url("detectors"), [record("detectors", id="7", projectId="12")]),
        )

        output = read_stream("detectors", config(), sync_mode=SyncMode.full_refresh)

        assert [r.record.data["id"] for r in output.records] == ["7"]
        assert not output.errors
