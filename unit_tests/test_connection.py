from __future__ import annotations

import base64
import json
import re
import socket
import time
from typing import Any

import jsonschema
import pytest

from source_sentry import __version__, sentry_api
from source_sentry.check import check_connection
from source_sentry.config import (
    HOSTNAME_PATTERN,
    ConfigError,
    base_api_url,
    org_token_claims,
    project_slugs,
    resolve_settings,
)
from source_sentry.sentry_api import OutcomeUnknown, SentryApi, SentryUnavailable, describe_error
from source_sentry.transport import Response, Transport
from unit_tests.conftest import FakeClock
from unit_tests.fake_sentry import NEVER_CONNECTED, READ_TIMEOUT
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


def api(clock: FakeClock | None = None, **kwargs: Any) -> SentryApi:
    clock = clock or FakeClock()
    return SentryApi(BASE, TOKEN, sleep=clock.sleep, clock=clock.time, **kwargs)


def sntrys_token(claims: dict[str, Any]) -> str:
    payload = base64.b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"sntrys_{payload}_c2VjcmV0X3BhcnQ"


# ---- base_api_url and HOSTNAME_PATTERN --------------------------------------------------------

GOOD_HOSTNAMES = [
    ("sentry.io", "https://sentry.io/api/0"),
    ("de.sentry.io", "https://de.sentry.io/api/0"),
    ("  sentry.io/  ", "https://sentry.io/api/0"),
    ("sentry.internal:9000", "https://sentry.internal:9000/api/0"),
    ("localhost", "https://localhost/api/0"),
    ("10.0.0.5:443", "https://10.0.0.5:443/api/0"),
    ("[::1]:9000", "https://[::1]:9000/api/0"),
    ("http://127.0.0.1:9000", "http://127.0.0.1:9000/api/0"),
    ("https://sentry.example.com/sentry/", "https://sentry.example.com/sentry/api/0"),
    ("https://sentry.example.com/a/b//", "https://sentry.example.com/a/b/api/0"),
    ("HTTPS://Sentry.Example.com", "https://Sentry.Example.com/api/0"),
    ("https://sentry.io/api/0/", "https://sentry.io/api/0"),
    ("http://sentry.lan:65535/x", "http://sentry.lan:65535/x/api/0"),
]
BAD_HOSTNAMES = [
    "",
    "   ",
    "https://",
    "ftp://sentry.io",
    "sentry io",
    "https://sentry.io/a b",
    "https://sentry.io/?org=acme",
    "https://sentry.io/#top",
    "sentry.io/prefix",
    "https://user:pw@sentry.io",
    "sentry.io:0",
    "sentry.io:65536",
    "sentry.io:port",
    "-sentry.io",
    "sentry..io",
    "//sentry.io",
    "sentry.io\nevil.com",
]


@pytest.mark.parametrize(("hostname", "expected"), GOOD_HOSTNAMES)
def test_given_accepted_hostname_when_building_base_url_then_api_0_under_its_scheme(
    hostname: str, expected: str
):
    assert base_api_url(hostname) == expected


@pytest.mark.parametrize("hostname", BAD_HOSTNAMES)
def test_given_unusable_hostname_when_building_base_url_then_config_error_lists_accepted_forms(hostname: str):
    with pytest.raises(ConfigError, match="host name .* host and port .* base URL") as raised:
        base_api_url(hostname)
    assert raised.value.status is None


@pytest.mark.parametrize("hostname", [h for h, _ in GOOD_HOSTNAMES] + BAD_HOSTNAMES)
def test_given_any_hostname_when_checked_by_spec_pattern_then_agrees_with_base_api_url(hostname: str):
    try:
        base_api_url(hostname)
        accepted = True
    except ConfigError:
        accepted = False
    schema = {"type": "string", "pattern": HOSTNAME_PATTERN}
    assert jsonschema.Draft7Validator(schema).is_valid(hostname) is accepted
    assert (re.search(HOSTNAME_PATTERN, hostname) is not None) is accepted


def test_given_hostname_pattern_when_inspected_then_no_constructs_json_schema_engines_lack():
    assert "(?<" not in HOSTNAME_PATTERN
    assert "(?i" not in HOSTNAME_PATTERN
    assert "(?P" not in HOSTNAME_PATTERN


# ---- settings ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({}, []),
        ({"project": "web"}, ["web"]),
        ({"projects": ["web", "api"], "project": "web"}, ["web", "api"]),
        ({"projects": [" api ", "", "api", "web"]}, ["api", "web"]),
        ({"projects": "web, api web"}, ["web", "api"]),
    ],
)
def test_given_project_settings_when_listing_slugs_then_deduplicated_in_order(settings, expected):
    assert project_slugs(settings) == expected


def test_given_org_token_without_host_or_org_when_resolving_then_token_claims_are_defaults():
    token = sntrys_token(
        {"iat": 1, "url": "https://sentry.io", "region_url": "https://de.sentry.io", "org": "acme"}
    )
    settings = resolve_settings({"auth_token": token})
    assert (settings.base_url, settings.organization) == ("https://de.sentry.io/api/0", "acme")


def test_given_org_token_and_explicit_settings_when_resolving_then_explicit_settings_win():
    token = sntrys_token({"url": "https://sentry.io", "region_url": "https://de.sentry.io", "org": "acme"})
    settings = resolve_settings(
        {"auth_token": token, "hostname": "http://127.0.0.1:9000", "organization": "other"}
    )
    assert (settings.base_url, settings.organization) == ("http://127.0.0.1:9000/api/0", "other")


@pytest.mark.parametrize("token", ["sntryu_abc", "sntrys_not-base64_x", "sntrys_", "0123abcd" * 8])
def test_given_token_without_claims_when_decoding_then_no_claims(token: str):
    assert org_token_claims(token) == {}


@pytest.mark.parametrize(
    ("settings", "fragment"),
    [
        ({"organization": ORG}, "auth_token is empty"),
        ({"auth_token": "  "}, "auth_token is empty"),
        ({"auth_token": TOKEN}, "organization is empty"),
    ],
)
def test_given_missing_setting_when_resolving_then_config_error_names_it(settings, fragment):
    with pytest.raises(ConfigError, match=fragment):
        resolve_settings(settings)


def test_given_settings_when_shown_then_token_is_not_in_repr():
    settings = resolve_settings(config())
    assert TOKEN not in repr(settings)
    assert TOKEN not in repr(api())


# ---- error bodies -----------------------------------------------------------------------------


def response(status: int, body: str, content_type: str = "application/json") -> Response:
    return Response(status, body.encode(), {"Content-Type": content_type})


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        ('{"detail": "Invalid token"}', "application/json", "Invalid token"),
        (
            '"You are attempting to use this endpoint too frequently. Limit is 40 requests in 1 seconds"',
            "text/html",
            "You are attempting to use this endpoint too frequently. Limit is 40 requests in 1 seconds",
        ),
        (
            '{"projects": ["Invalid project ids or slugs"]}',
            "application/json",
            "projects: Invalid project ids or slugs",
        ),
        (
            '{"detail": "Internal Error", "errorId": "abc123"}',
            "application/json",
            "Internal Error (errorId abc123)",
        ),
        (
            '{"detail": {"code": "parameter-validation-error", "message": "Project x is not in release"}}',
            "application/json",
            "Project x is not in release",
        ),
        (
            "<html><head><title>502 Bad Gateway</title></head><body><h1>nginx</h1></body></html>",
            "text/html",
            "502 Bad Gateway",
        ),
        ("<p>Service &amp; stuff\n unavailable</p>", "text/html", "Service & stuff unavailable"),
    ],
)
def test_given_error_body_of_any_shape_when_described_then_short_readable_reason(
    body, content_type, expected
):
    assert describe_error(response(400, body, content_type)) == expected


# ---- HTTP helper ------------------------------------------------------------------------------


def test_given_request_when_sent_then_bearer_token_user_agent_and_trailing_slash(fake_sentry):
    fake_sentry.get(ORG_URL, json={"slug": ORG})
    api().request("GET", f"organizations/{ORG}/")
    sent = fake_sentry.last_request
    assert sent.url == ORG_URL
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert re.fullmatch(r"source-sentry/\S+", sent.headers["User-Agent"])
    assert sent.timeout == (2, 10)
    assert sent.body is None
    assert "Content-Type" not in sent.headers


def test_given_resolved_settings_when_printed_then_token_not_in_repr():
    settings = resolve_settings(config())
    assert TOKEN not in repr(settings)
    assert settings.token == TOKEN


def test_given_installed_package_when_naming_ourselves_then_user_agent_version_is_the_installed_one():
    from importlib import metadata

    assert __version__ == metadata.version("source-sentry")


def test_given_json_body_and_params_when_sent_then_encoded_as_json_and_query(fake_sentry):
    fake_sentry.post(releases_url(), status_code=201)
    api().request(
        "POST",
        f"organizations/{ORG}/releases/",
        params={"a": "x y", "b": ["1", "2"], "skip": None},
        json_body={"version": "1.2.3", "projects": ["web"]},
    )
    sent = fake_sentry.last_request
    assert sent.url == f"{releases_url()}?a=x+y&b=1&b=2"
    assert sent.body == b'{"version": "1.2.3", "projects": ["web"]}'
    assert sent.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("../settings/", "https://sentry.example.com/api/settings/"),
        ("organizations/acme/./releases/", f"{BASE}/organizations/acme/releases/"),
        ("organizations/acme/releases/", f"{BASE}/organizations/acme/releases/"),
    ],
)
def test_given_path_with_dot_segments_when_building_url_then_resolved(path, expected):
    assert api().url(path) == expected


def test_given_path_with_its_own_query_when_params_added_then_one_query():
    url = api().url("projects/acme/web/user-feedback/?status=", {"per_page": 1})
    assert url == f"{BASE}/projects/acme/web/user-feedback/?status=&per_page=1"


def test_given_429_with_reset_header_when_requesting_then_waits_until_reset_and_retries(fake_sentry):
    clock = FakeClock(now=1_700_000_000.0)
    fake_sentry.get(
        ORG_URL,
        [
            {
                "status_code": 429,
                "json": "Limit is 40 requests in 1 seconds",
                "headers": {"X-Sentry-Rate-Limit-Reset": "1700000007"},
            },
            {"status_code": 200, "json": {"slug": ORG}},
        ],
    )
    assert api(clock).request("GET", f"organizations/{ORG}/").status_code == 200
    assert clock.sleeps == [7.0]
    assert fake_sentry.call_count == 2


def test_given_429_with_retry_after_when_requesting_then_retry_after_wins(fake_sentry):
    clock = FakeClock()
    fake_sentry.get(
        ORG_URL,
        [
            {
                "status_code": 429,
                "headers": {"Retry-After": "3", "X-Sentry-Rate-Limit-Reset": str(int(clock.now) + 30)},
            },
            {"status_code": 200, "json": {}},
        ],
    )
    api(clock).request("GET", f"organizations/{ORG}/")
    assert clock.sleeps == [3.0]


def test_given_429_resetting_far_away_when_requesting_then_wait_is_capped(fake_sentry):
    clock = FakeClock()
    fake_sentry.get(
        ORG_URL,
        [
            {"status_code": 429, "headers": {"X-Sentry-Rate-Limit-Reset": str(int(clock.now) + 3600)}},
            {"status_code": 200, "json": {}},
        ],
    )
    api(clock).request("GET", f"organizations/{ORG}/")
    assert clock.sleeps == [60]


def test_given_endless_429_when_requesting_then_gives_up_after_bounded_waits(fake_sentry):
    clock = FakeClock()
    fake_sentry.get(ORG_URL, status_code=429, json={"detail": "Limit is 3/1s"})
    with pytest.raises(SentryUnavailable, match="rate-limiting .* Limit is 3/1s"):
        api(clock).request("GET", f"organizations/{ORG}/")
    assert fake_sentry.call_count == 6
    assert len(clock.sleeps) == 5


def test_given_503_then_200_when_reading_then_retried_with_backoff(fake_sentry):
    clock = FakeClock()
    fake_sentry.get(
        ORG_URL, [{"status_code": 503, "text": "<h1>down</h1>"}, {"status_code": 200, "json": {}}]
    )
    assert api(clock).request("GET", f"organizations/{ORG}/").status_code == 200
    assert clock.sleeps == [1.0]


def test_given_persistent_502_when_reading_then_unavailable_after_bounded_retries(fake_sentry):
    clock = FakeClock()
    fake_sentry.get(ORG_URL, status_code=502, text="<title>Bad Gateway</title>")
    with pytest.raises(SentryUnavailable, match="sentry.example.com answered 502"):
        api(clock).request("GET", f"organizations/{ORG}/")
    assert fake_sentry.call_count == 4
    assert clock.sleeps == [1.0, 2.0, 4.0]


def test_given_500_when_writing_then_not_retried(fake_sentry):
    fake_sentry.post(releases_url(), status_code=500, json={"detail": "Internal Error", "errorId": "e1"})
    got = api().request("POST", f"organizations/{ORG}/releases/", json_body={}, idempotent=False)
    assert got.status_code == 500
    assert fake_sentry.call_count == 1


@pytest.mark.parametrize(
    "failure",
    [{"status_code": 502}, {"status_code": 504}, {"exc": READ_TIMEOUT}],
)
def test_given_write_that_may_have_arrived_when_it_fails_then_outcome_unknown_without_resend(
    fake_sentry, failure
):
    fake_sentry.post(releases_url(), **failure)
    with pytest.raises(OutcomeUnknown, match="may have been recorded"):
        api().request("POST", f"organizations/{ORG}/releases/", json_body={}, idempotent=False)
    assert fake_sentry.call_count == 1


def test_given_write_whose_connection_never_opened_when_sent_then_retried_once(fake_sentry):
    clock = FakeClock()
    fake_sentry.post(releases_url(), [{"exc": NEVER_CONNECTED}, {"status_code": 201}])
    got = api(clock).request("POST", f"organizations/{ORG}/releases/", json_body={}, idempotent=False)
    assert got.status_code == 201
    assert clock.sleeps == [0.5]


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
    fake_sentry.get(
        project_detail_url("web"), status_code=403, json={"detail": "You do not have permission"}
    )
    fake_sentry.get(releases_url(), json=[])
    info = check_connection(config(project="web"), purpose="notify", api=api())
    assert info.projects == (("web", None),)


def test_given_org_token_that_cannot_read_projects_when_checking_read_then_fails(fake_sentry):
    fake_sentry.get(ORG_URL, json={"slug": ORG})
    fake_sentry.get(
        project_detail_url("web"), status_code=403, json={"detail": "You do not have permission"}
    )
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
