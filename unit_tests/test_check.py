"""source_sentry.check: the connection check names the organization, project or scope at fault."""

from __future__ import annotations

import socket
import time

import pytest

from source_sentry import sentry_api
from source_sentry.check import check_connection
from source_sentry.config import (
    ConfigError,
)
from source_sentry.sentry_api import SentryUnavailable
from source_sentry.transport import Transport
from unit_tests.conftest import clocked_api as api
from unit_tests.sentry import (
    BASE,
    ORG,
    TOKEN,
    config,
    link_header,
    project_detail_url,
    projects_url,
    releases_url,
)

ORG_URL = f"{BASE}/organizations/{ORG}/"


@pytest.fixture(autouse=True)
def _releases_readable(request: pytest.FixtureRequest) -> None:
    """Every check ends by listing releases; tests about that step register their own answer."""
    if "fake_sentry" in request.fixturenames:
        request.getfixturevalue("fake_sentry").get(releases_url(), json=[])


def test_given_unreachable_host_when_checking_then_fails_within_seconds_naming_host(monkeypatch):
    monkeypatch.setattr(sentry_api, "default_transport", Transport)  # real TCP, to a closed port
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(SentryUnavailable, match=f"http://127.0.0.1:{port} could not be reached"):
        check_connection({"auth_token": TOKEN, "organization": ORG, "hostname": f"http://127.0.0.1:{port}"})
    assert time.monotonic() - started < 3


def test_given_rejected_token_when_any_error_raised_then_token_not_in_message(fake_sentry):
    fake_sentry.get(ORG_URL, status_code=401, json={"detail": "Invalid token"})
    with pytest.raises(ConfigError) as raised:
        check_connection(config())
    assert TOKEN not in str(raised.value)
    assert TOKEN not in repr(raised.value)


# ---- check_connection -------------------------------------------------------------------------


def test_given_no_projects_configured_when_checking_read_then_all_org_projects_over_pages(fake_sentry):
    fake_sentry.get(ORG_URL, json={"slug": ORG})
    url = projects_url()
    fake_sentry.get(
        url,
        [
            {"json": [{"slug": "web", "id": "1"}], "headers": {"Link": link_header(url, "0:100:0", True)}},
            {"json": [{"slug": "api", "id": "2"}], "headers": {"Link": link_header(url, "0:200:0", False)}},
        ],
    )
    fake_sentry.get(f"{BASE}/projects/{ORG}/web/events/", json=[])
    info = check_connection(config(), api=api())
    assert info.organization == ORG
    assert info.projects == (("web", "1"), ("api", "2"))
    pages = [r for r in fake_sentry.request_history if r.url.startswith(url)]
    assert [r.qs.get("cursor") for r in pages] == [None, ["0:100:0"]]
    assert all(r.qs["per_page"] == ["100"] for r in pages)


def test_given_configured_projects_when_checking_read_then_each_project_detail_fetched(fake_sentry):
    fake_sentry.get(ORG_URL, json={"slug": ORG})
    fake_sentry.get(project_detail_url("web"), json={"slug": "web", "id": "11"})
    fake_sentry.get(project_detail_url("api"), json={"slug": "api", "id": "12"})
    fake_sentry.get(f"{BASE}/projects/{ORG}/web/events/", json=[])
    info = check_connection(config(projects=["web", "api"]), api=api())
    assert info.projects == (("web", "11"), ("api", "12"))
    assert fake_sentry.call_count == 5


def test_given_token_without_event_read_when_checking_read_then_error_names_read_scopes(fake_sentry):
    fake_sentry.get(ORG_URL, json={"slug": ORG})
    fake_sentry.get(project_detail_url("web"), json={"slug": "web", "id": "11"})
    fake_sentry.get(f"{BASE}/projects/{ORG}/web/events/", status_code=403, json={"detail": "no"})
    with pytest.raises(ConfigError, match=r"events of project 'web' \(403\).*event:read"):
        check_connection(config(project="web"), api=api())
    assert fake_sentry.last_request.qs == {"per_page": ["1"]}


def test_given_rejected_token_when_checking_then_config_error_says_401(fake_sentry):
    fake_sentry.get(ORG_URL, status_code=401, json={"detail": "Invalid token"})
    with pytest.raises(ConfigError, match=r"Sentry rejected the auth token \(401\): Invalid token") as raised:
        check_connection(config(), api=api())
    assert raised.value.status == 401


def test_given_unknown_org_when_checking_then_error_names_org_and_host(fake_sentry):
    fake_sentry.get(ORG_URL, status_code=404, json={"detail": "The requested resource does not exist"})
    expected = r"Organization 'acme' was not found on https://sentry.example.com \(404\)"
    with pytest.raises(ConfigError, match=expected):
        check_connection(config(), api=api())


def test_given_unknown_project_when_checking_then_error_names_slug(fake_sentry):
    fake_sentry.get(ORG_URL, json={"slug": ORG})
    fake_sentry.get(project_detail_url("nope"), status_code=404, json={"detail": "not found"})
    with pytest.raises(ConfigError, match=r"Project 'nope' was not found in organization 'acme' \(404\)"):
        check_connection(config(project="nope"), api=api())


def test_given_token_without_read_scopes_when_checking_read_then_error_names_read_scopes(fake_sentry):
    fake_sentry.get(ORG_URL, json={"slug": ORG})
    fake_sentry.get(projects_url(), status_code=403, json={"detail": "You do not have permission"})
    with pytest.raises(ConfigError, match=r"\(403\).*org:read, project:read, event:read"):
        check_connection(config(), api=api())


def test_given_token_without_release_scope_when_checking_notify_then_error_names_release_scopes(
    fake_sentry,
):
    fake_sentry.get(ORG_URL, json={"slug": ORG})
    fake_sentry.get(project_detail_url("web"), json={"slug": "web", "id": "1"})
    fake_sentry.get(releases_url(), status_code=403, json={"detail": "You do not have permission"})
    with pytest.raises(ConfigError, match=r"\(403\).*project:releases .*project:write.*org:ci"):
        check_connection(config(project="web"), purpose="notify", api=api())
    assert fake_sentry.last_request.qs == {"per_page": ["1"]}


def test_given_org_token_that_cannot_read_projects_when_checking_notify_then_passes(fake_sentry):
    fake_sentry.get(ORG_URL, status_code=403, json={"detail": "You do not have permission"})
    fake_sentry.get(project_detail_url("web"), status_code=403, json={"detail": "You do not have permission"})
    fake_sentry.get(releases_url(), json=[])
    info = check_connection(config(project="web"), purpose="notify", api=api())
    assert info.projects == (("web", None),)


def test_given_org_token_that_cannot_read_projects_when_checking_read_then_fails(fake_sentry):
    fake_sentry.get(ORG_URL, json={"slug": ORG})
    fake_sentry.get(project_detail_url("web"), status_code=403, json={"detail": "You do not have permission"})
    with pytest.raises(ConfigError, match="may not read project 'web'"):
        check_connection(config(project="web"), api=api())


def test_given_server_error_when_checking_then_not_a_config_error(fake_sentry):
    fake_sentry.get(ORG_URL, status_code=500, json={"detail": "Internal Error", "errorId": "x1"})
    with pytest.raises(Exception, match=r"500: Internal Error \(errorId x1\)") as raised:
        check_connection(config(), api=api())
    assert not isinstance(raised.value, ConfigError)


def test_given_token_without_project_read_when_checking_read_then_releases_403_names_the_read_scopes(
    fake_sentry,
):
    fake_sentry.get(ORG_URL, json={"slug": ORG})
    fake_sentry.get(projects_url(), json=[{"slug": "web", "id": "1"}])
    fake_sentry.get(f"{BASE}/projects/{ORG}/web/events/", json=[])
    fake_sentry.get(releases_url(), status_code=403, json={"detail": "You do not have permission"})

    with pytest.raises(ConfigError, match=r"\(403\).*org:read, project:read, event:read"):
        check_connection(config(), api=api())
