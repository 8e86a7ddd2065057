from __future__ import annotations

from unittest import TestCase

from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.mock_http import HttpMocker
from freezegun import freeze_time

from unit_tests.conftest import read_stream
from unit_tests.sentry import (
    config,
    detail,
    page,
    project_detail_request,
    projects_request,
    projects_url,
    record,
)

NOW = "2024-06-01T12:00:00Z"


def project(slug: str, pid: str, created: str = "2021-01-14T22:08:52.711809Z") -> dict:
    return record("projects", slug=slug, id=pid, dateCreated=created)


@freeze_time(NOW)
class ProjectsTest(TestCase):
    @HttpMocker()
    def test_given_two_pages_when_full_refresh_then_whole_organization_is_read(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(projects_request(), page(projects_url(), [project("a", "1")], next_cursor="0:100:0"))
        http_mocker.get(projects_request(cursor="0:100:0"), page(projects_url(), [project("b", "2")]))

        output = read_stream("projects", config(), sync_mode=SyncMode.full_refresh)

        assert [r.record.data["slug"] for r in output.records] == ["a", "b"]

    @HttpMocker()
    def test_given_state_when_incremental_then_only_projects_created_after_it(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(
            projects_request(),
            page(
                projects_url(),
                [
                    project("old", "1", "2020-01-01T00:00:00Z"),
                    project("edge", "2", "2023-01-01T00:00:00Z"),
                    project("new", "3", "2024-01-01T00:00:00.5Z"),
                ],
            ),
        )

        output = read_stream("projects", config(), state={"dateCreated": "2023-01-01T00:00:00.000000Z"})

        assert [r.record.data["slug"] for r in output.records] == ["new"]

    @HttpMocker()
    def test_given_projects_configured_when_read_then_others_are_left_out(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(
            projects_request(),
            page(projects_url(), [project("a", "1"), project("b", "2"), project("c", "3")]),
        )

        output = read_stream("projects", config(projects=["c", "a"]), sync_mode=SyncMode.full_refresh)

        assert sorted(r.record.data["slug"] for r in output.records) == ["a", "c"]


@freeze_time(NOW)
class ProjectDetailTest(TestCase):
    @HttpMocker()
    def test_given_two_projects_when_read_then_one_detail_request_each(self, http_mocker: HttpMocker) -> None:
        http_mocker.get(projects_request(), page(projects_url(), [project("a", "1"), project("b", "2")]))
        a, b = project_detail_request("a"), project_detail_request("b")
        http_mocker.get(a, detail(record("project_detail", slug="a", id="1")))
        http_mocker.get(b, detail(record("project_detail", slug="b", id="2")))

        output = read_stream("project_detail", config(), sync_mode=SyncMode.full_refresh)

        assert sorted(r.record.data["id"] for r in output.records) == ["1", "2"]
        http_mocker.assert_number_of_calls(a, 1)
        http_mocker.assert_number_of_calls(b, 1)
