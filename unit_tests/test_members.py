from __future__ import annotations

from unittest import TestCase

from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.mock_http import HttpMocker

from unit_tests.conftest import read_stream
from unit_tests.sentry import FORBIDDEN, config, error, members_request, org_list_url, page, record


class MembersTest(TestCase):
    @HttpMocker()
    def test_given_members_when_read_then_pending_invites_come_too(self, http_mocker: HttpMocker) -> None:
        http_mocker.get(
            members_request(),
            page(
                org_list_url("members"),
                [
                    record("members", id="1", pending=False),
                    record("members", id="2", pending=True, user=None),
                ],
            ),
        )

        output = read_stream("members", config(), sync_mode=SyncMode.full_refresh)

        assert [r.record.data["id"] for r in output.records] == ["1", "2"]

    @HttpMocker()
    def test_given_token_without_member_read_when_read_then_skipped_with_message_naming_the_scope(
        self, http_mocker: HttpMocker
    ) -> None:
        request = members_request()
        http_mocker.get(request, error(403, FORBIDDEN))

        output = read_stream("members", config(), sync_mode=SyncMode.full_refresh)

        assert output.records == []
        assert not output.errors
        http_mocker.assert_number_of_calls(request, 1)
        assert any("lacks the scope member:read (Sentry answered 403)" in m.log.message for m in output.logs)
