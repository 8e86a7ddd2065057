from __future__ import annotations

from unittest import TestCase

from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.mock_http import HttpMocker

from unit_tests.conftest import read_stream
from unit_tests.sentry import config, org_list_url, page, record, teams_request


class TeamsTest(TestCase):
    @HttpMocker()
    def test_given_two_pages_when_read_then_follows_link_cursor_and_reads_both(
        self, http_mocker: HttpMocker
    ) -> None:
        url = org_list_url("teams")
        http_mocker.get(teams_request(), page(url, [record("teams", id="2")], next_cursor="0:100:0"))
        http_mocker.get(teams_request(cursor="0:100:0"), page(url, [record("teams", id="3")]))

        output = read_stream("teams", config(), sync_mode=SyncMode.full_refresh)

        assert [r.record.data["id"] for r in output.records] == ["2", "3"]
