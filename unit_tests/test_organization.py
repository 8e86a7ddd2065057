from __future__ import annotations

from unittest import TestCase

from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.mock_http import HttpMocker

from unit_tests.conftest import read_stream
from unit_tests.sentry import config, detail, error, organization_request, record


class OrganizationTest(TestCase):
    @HttpMocker()
    def test_given_org_when_read_then_one_request_without_paging_and_one_record(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(organization_request(), detail(record("organization", id="42", slug="acme")))

        output = read_stream("organization", config(), sync_mode=SyncMode.full_refresh)

        assert [r.record.data["slug"] for r in output.records] == ["acme"]

    @HttpMocker()
    def test_given_server_without_endpoint_when_read_then_stream_skipped_with_message_not_failed(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(
            organization_request(), error(404, {"detail": "The requested resource does not exist"})
        )

        output = read_stream("organization", config(), sync_mode=SyncMode.full_refresh)

        assert output.records == []
        assert not output.errors
        assert any("this server does not have it (404)" in m.log.message for m in output.logs)
