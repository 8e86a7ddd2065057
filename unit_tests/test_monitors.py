from __future__ import annotations

from unittest import TestCase

from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.mock_http import HttpMocker

from unit_tests.conftest import read_stream
from unit_tests.sentry import config, monitors_request, org_list_url, page, record


def monitor(mid: str, slug: str) -> dict:
    return record("monitors", id=mid, project={"id": "1", "slug": slug, "name": slug})


class MonitorsTest(TestCase):
    @HttpMocker()
    def test_given_projects_configured_when_read_then_only_monitors_of_those_projects(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(
            monitors_request(),
            page(
                org_list_url("monitors"),
                [monitor("m1", "web"), monitor("m2", "backend"), monitor("m3", "mobile")],
            ),
        )

        output = read_stream(
            "monitors", config(projects=["backend", "mobile"]), sync_mode=SyncMode.full_refresh
        )

        assert [r.record.data["id"] for r in output.records] == ["m2", "m3"]
