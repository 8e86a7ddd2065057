from __future__ import annotations

from unittest import TestCase

from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.mock_http import HttpMocker

from unit_tests.conftest import read_stream
from unit_tests.sentry import config, org_list_url, page, project_keys_request, record


class ProjectKeysTest(TestCase):
    @HttpMocker()
    def test_given_projects_configured_when_read_then_one_org_wide_request_and_no_per_project_call(
        self, http_mocker: HttpMocker
    ) -> None:
        request = project_keys_request()
        http_mocker.get(
            request,
            page(
                org_list_url("project-keys"),
                [
                    record("project_keys", id="a" * 32, projectId=1),
                    record("project_keys", id="b" * 32, projectId=2),
                ],
            ),
        )
        # No mock for the project list or projects/{org}/{slug}/keys/: such a call fails the test.

        output = read_stream("project_keys", config(projects=["backend"]), sync_mode=SyncMode.full_refresh)

        assert [r.record.data["id"] for r in output.records] == ["a" * 32, "b" * 32]
        http_mocker.assert_number_of_calls(request, 1)
