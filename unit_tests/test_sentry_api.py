"""source_sentry.sentry_api: what each request sends, error bodies worded, retries and waits bounded."""

from __future__ import annotations

import re

import pytest

from source_sentry import __version__
from source_sentry.sentry_api import OutcomeUnknown, SentryUnavailable, describe_error
from source_sentry.transport import Response
from unit_tests.conftest import FakeClock
from unit_tests.conftest import clocked_api as api
from unit_tests.fake_sentry import NEVER_CONNECTED, READ_TIMEOUT
from unit_tests.sentry import (
    BASE,
    ORG,
    TOKEN,
    releases_url,
)

ORG_URL = f"{BASE}/organizations/{ORG}/"


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


def test_given_api_when_shown_then_token_not_in_repr():
    assert TOKEN not in repr(api())


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
