from __future__ import annotations

from unittest import TestCase

from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.mock_http import HttpMocker

from unit_tests.conftest import read_stream
from unit_tests.sentry import config, error, org_list_url, page, record, workflows_request


class WorkflowsTest(TestCase):
    @HttpMocker()
    def test_given_two_pages_when_read_then_every_project_is_asked_for_and_link_is_followed(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(
            workflows_request(),
            page(org_list_url("workflows"), [record("workflows", id="1")], next_cursor="0:100:0"),
        )
        http_mocker.get(
            workflows_request(cursor="0:100:0"),
            page(org_list_url("workflows"), [record("workflows", id="2", detectorIds=[])]),
        )

        # Configured projects do not narrow the organization's alerts.
        output = read_stream("workflows", config(projects=["backend"]), sync_mode=SyncMode.full_refresh)

        assert [r.record.data["id"] for r in output.records] == ["1", "2"]

    @HttpMocker()
    def test_given_server_without_workflows_when_read_then_skipped_without_error(
        self, http_mocker: HttpMocker
    ) -> None:
        request = workflows_request()
        http_mocker.get(request, error(404, {"detail": "Not Found"}))

        output = read_stream("workflows", config(), sync_mode=SyncMode.full_refresh)

        assert output.records == []
        assert not output.errors
        http_mocker.assert_number_of_calls(request, 1)
