from __future__ import annotations

from unittest import TestCase

from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.mock_http import HttpMocker

from unit_tests.conftest import read_stream
from unit_tests.sentry import FORBIDDEN, config, error, org_list_url, page, record, repositories_request


class RepositoriesTest(TestCase):
    @HttpMocker()
    def test_given_repos_when_read_then_every_repository(self, http_mocker: HttpMocker) -> None:
        http_mocker.get(
            repositories_request(),
            page(
                org_list_url("repos"), [record("repositories", id="7001"), record("repositories", id="7002")]
            ),
        )

        output = read_stream("repositories", config(), sync_mode=SyncMode.full_refresh)

        assert [r.record.data["id"] for r in output.records] == ["7001", "7002"]

    @HttpMocker()
    def test_given_token_without_integrations_scope_when_read_then_skipped_naming_org_integrations(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(repositories_request(), error(403, FORBIDDEN))

        output = read_stream("repositories", config(), sync_mode=SyncMode.full_refresh)

        assert output.records == []
        assert not output.errors
        assert any("lacks the scope org:integrations" in m.log.message for m in output.logs)
