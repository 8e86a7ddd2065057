from __future__ import annotations

from unittest import TestCase

from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.mock_http import HttpMocker
from freezegun import freeze_time

from unit_tests.conftest import read_stream
from unit_tests.sentry import (
    config,
    events_request,
    events_url,
    page,
    projects_request,
    projects_url,
    record,
)

NOW = "2024-06-01T12:00:00Z"
END = "2024-06-01T12:00:00.000000"
START = "2024-05-01T00:00:00.000000"


def project(slug: str, pid: str) -> dict:
    return record("projects", slug=slug, id=pid)


def event(eid: str, created: str, received: str | None = None) -> dict:
    return record("events", id=eid, eventID=eid, dateCreated=created, dateReceived=received or created)


@freeze_time(NOW)
class EventsTest(TestCase):
    @HttpMocker()
    def test_given_two_pages_when_full_refresh_then_follows_link_cursor_and_reads_all(self, http_mocker: HttpMocker) -> None:
        http_mocker.get(projects_request(), page(projects_url(), [project("backend", "11")]))
        http_mocker.get(
            events_request("backend", START, END),
            page(events_url("backend"), [event("a" * 32, "2024-05-30T10:00:00Z")], next_cursor="0:100:0"),
        )
        http_mocker.get(
            events_request("backend", START, END, cursor="0:100:0"),
            page(events_url("backend"), [event("b" * 32, "2024-05-20T10:00:00.123Z")]),
        )

        output = read_stream("events", config(start_date="2024-05-01T00:00:00Z"), sync_mode=SyncMode.full_refresh)

        assert [r.record.data["id"] for r in output.records] == ["a" * 32, "b" * 32]
