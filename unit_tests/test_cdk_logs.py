"""Rate-limit waits are reported in words Airbyte shows: how long, and why.

The CDK's own code paths produce the messages here, so a CDK release that changes its wording
fails these tests instead of silently dropping our log lines.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import pytest
import requests
from airbyte_cdk.sources.streams import call_rate
from airbyte_cdk.sources.streams.call_rate import (
    FixedWindowCallRatePolicy,
    HttpAPIBudget,
    HttpRequestRegexMatcher,
)
from airbyte_cdk.sources.streams.http import rate_limiting
from airbyte_cdk.sources.streams.http.exceptions import (
    DefaultBackoffException,
    RateLimitBackoffException,
    UserDefinedBackoffException,
)
from airbyte_cdk.test.mock_http import HttpMocker
from freezegun import freeze_time

from source_sentry import cdk_logs
from unit_tests.conftest import read_stream
from unit_tests.sentry import (
    config,
    error,
    events_request,
    events_url,
    page,
    projects_request,
    projects_url,
    record,
)

URL = "https://sentry.example.com/api/0/projects/acme/billing/events/?full=true&cursor=0:100:0"


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture):
    monkeypatch.setattr(call_rate, "logger", call_rate.logger)
    monkeypatch.setattr(rate_limiting, "logger", rate_limiting.logger)
    monkeypatch.setattr("time.sleep", lambda seconds: None)
    cdk_logs.install_rate_limit_wording()
    caplog.set_level(logging.INFO, logger="airbyte")
    return caplog


def _info(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]


def test_given_budget_used_up_when_next_request_then_info_says_path_and_seconds(installed) -> None:
    created = datetime.now()
    policy = FixedWindowCallRatePolicy(
        next_reset_ts=created + timedelta(seconds=42),
        period=timedelta(minutes=1),
        call_limit=1,
        matchers=[HttpRequestRegexMatcher(url_path_pattern="/events$")],
    )
    # A few tries, not the CDK's 100,000: with time.sleep a no-op each try logs a line, and on a
    # loaded machine 100,000 of them outlast the 42 s window, which then lets the call through.
    budget = HttpAPIBudget(policies=[policy], maximum_attempts_to_acquire=5)
    request = requests.Request("GET", URL).prepare()

    budget.acquire_call(request)
    # time.sleep is a no-op here, so the window never resets and the CDK gives up after its tries.
    with pytest.raises(call_rate.CallRateLimitHit):
        budget.acquire_call(request)

    waits = [m for m in _info(installed) if m.startswith("Rate limit:")]
    assert waits
    assert "/api/0/projects/acme/billing/events/ has no requests left" in waits[0]
    assert "cursor" not in waits[0]
    seconds = float(waits[0].split("waiting ")[1].split(" s")[0])
    # The wait is what was left of the 42 s when the CDK asked: a loaded machine may take a while
    # to get there, so the lower bound is measured, not assumed.
    elapsed = (datetime.now() - created).total_seconds()
    assert 42 - elapsed - 1 <= seconds <= 42


def _retry_log(status: int | None, backoff: float, caplog: pytest.LogCaptureFixture) -> list[str]:
    response = requests.Response()
    response.status_code = status or 0
    request = requests.Request("GET", URL).prepare()
    error = UserDefinedBackoffException(backoff=backoff, request=request, response=response)
    if not status:
        error.response = None
    calls = iter([error])

    @rate_limiting.user_defined_backoff_handler(max_tries=2)
    def send() -> str:
        error = next(calls, None)
        if error:
            raise error
        return "ok"

    assert send() == "ok"
    return _info(caplog)


def test_given_429_when_retrying_then_info_names_rate_limit_and_wait(installed) -> None:
    messages = _retry_log(429, 4.5, installed)

    assert messages == [
        "Rate limit: Sentry answered HTTP 429 (too many requests); waiting 5.5 s, until the time its "
        "Retry-After or X-Sentry-Rate-Limit-Reset header gives, then retrying."
    ]


def test_given_server_error_when_retrying_then_info_does_not_call_it_a_rate_limit(installed) -> None:
    messages = _retry_log(502, 2, installed)

    assert messages == ["Sentry answered HTTP 502; retrying in 3.0 s, with longer waits after each failure."]


def _default_retry_log(
    handler, error: type[Exception], status: int | None, caplog: pytest.LogCaptureFixture
) -> list[str]:
    """What the CDK's own backoff handler (no strategy gave a wait) logs for one retry."""
    request = requests.Request("GET", URL).prepare()
    response = None
    if status:
        response = requests.Response()
        response.status_code = status
    calls = iter([error(request=request, response=response, error_message="Sentry said no.")])

    @handler(max_tries=2)
    def send() -> str:
        failure = next(calls, None)
        if failure:
            raise failure
        return "ok"

    assert send() == "ok"
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "airbyte" and r.levelno == logging.INFO and not r.getMessage().startswith("Status code:")
    ]


def test_given_5xx_retried_by_the_cdk_default_backoff_then_info_says_status_and_wait(installed) -> None:
    messages = _default_retry_log(
        rate_limiting.http_client_default_backoff_handler, DefaultBackoffException, 503, installed
    )

    assert messages == ["Sentry answered HTTP 503; retrying in 1.0 s, with longer waits after each failure."]


def test_given_concurrency_429_retried_by_the_cdk_backoff_then_info_calls_it_a_rate_limit(installed) -> None:
    messages = _default_retry_log(
        rate_limiting.rate_limit_default_backoff_handler, RateLimitBackoffException, 429, installed
    )

    assert messages == [
        "Rate limit: Sentry answered HTTP 429 (too many requests). Sentry said no. Waiting 1.0 s."
    ]


def test_given_wording_installed_when_the_cdk_backs_off_then_one_line_per_retry(installed) -> None:
    try:
        cdk_logs.install()
        _default_retry_log(
            rate_limiting.http_client_default_backoff_handler, DefaultBackoffException, 502, installed
        )
    finally:
        logging.getLogger(cdk_logs.CARTESIAN_LOGGER).filters.clear()
        logging.getLogger(cdk_logs.BACKOFF_LOGGER).filters.clear()

    retries = [
        r.getMessage()
        for r in installed.records
        if "502" in r.getMessage() or "Backing off" in r.getMessage()
    ]
    assert retries == ["Sentry answered HTTP 502; retrying in 1.0 s, with longer waits after each failure."]


def test_given_lost_connection_retried_then_info_says_the_request_failed(installed) -> None:
    messages = _default_retry_log(
        rate_limiting.http_client_default_backoff_handler, DefaultBackoffException, None, installed
    )

    assert messages == [
        "The request failed (Sentry said no.); retrying in 1.0 s, with longer waits after each failure."
    ]


@pytest.mark.parametrize(
    "message",
    [
        "Acquiring call for endpoint https://x/ using policy: p",
        "Caught retryable error 'boom' after 1 tries. Waiting 1 seconds then rejoicing...",
        "Policy p matched nothing",
    ],
)
def test_given_other_messages_then_passed_through_unchanged(message: str) -> None:
    assert cdk_logs.budget_wait_message(message) is None
    assert cdk_logs.header_retry_message(message) is None
    assert cdk_logs.default_retry_message(message, 502) is None


def test_given_long_wait_then_said_in_minutes() -> None:
    message = cdk_logs.budget_wait_message(
        f"Policy P reached call limit for endpoint {URL} (rate). Sleeping for 0:03:00 on attempt 1."
    )

    assert message is not None
    assert "waiting 3.0 min" in message


def test_given_install_twice_then_wrapped_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(call_rate, "logger", call_rate.logger)
    monkeypatch.setattr(rate_limiting, "logger", rate_limiting.logger)

    cdk_logs.install_rate_limit_wording()
    first = call_rate.logger
    cdk_logs.install_rate_limit_wording()

    assert call_rate.logger is first
    assert isinstance(first, cdk_logs._PacingLogger)


def test_given_manifest_skips_a_forbidden_project_when_its_log_is_read_then_slug_and_endpoint_are_named() -> (
    None
):
    # The window ends at the default settling time (300 s) before now; the request reaches an hour on.
    start, end = "2024-05-01T00:00:00.000000", "2024-06-01T12:55:00.000000"
    projects = [record("projects", slug="backend", id="11"), record("projects", slug="secret", id="12")]
    with freeze_time("2024-06-01T12:00:00Z"), HttpMocker() as http_mocker:
        http_mocker.get(projects_request(), page(projects_url(), projects))
        http_mocker.get(events_request("backend", start, end), page(events_url("backend"), []))
        http_mocker.get(events_request("secret", start, end), error(403, {"detail": "No."}))

        # one request window per project (event_window_days 0), as the mocks above
        output = read_stream("events", config(start_date="2024-05-01T00:00:00Z", event_window_days=0))

    found = [cdk_logs.skipped_project(m.log.message) for m in output.logs]
    assert [f for f in found if f] == [("secret", "events")]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://sentry.example.com/prefix/api/0/projects/acme/web/", ("web", "project_detail")),
        ("http://127.0.0.1:9000/api/0/projects/acme/web/events/?full=true&cursor=0:100:0", ("web", "events")),
        ("https://sentry.io/api/0/organizations/acme/issues/?project=12", None),
    ],
)
def test_given_skip_line_in_the_manifest_wording_then_project_and_endpoint_are_read_from_its_url(
    url: str, expected: tuple[str, str] | None
) -> None:
    before, after = cdk_logs.skip_message_template()

    assert cdk_logs.skipped_project(f"{before}{url}{after}") == expected
    assert cdk_logs.skipped_project(f"{before}{url}: something else") is None


def test_given_skipped_projects_when_sync_ends_normally_then_one_warning_lists_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = logging.getLogger("airbyte.test_tally")
    before, after = cdk_logs.skip_message_template()
    caplog.set_level(logging.INFO, logger="airbyte.test_tally")

    with cdk_logs.skipped_projects_warning(logger):
        logger.info(f"{before}https://sentry.io/api/0/projects/acme/web/events/{after}")
        logger.info(f"{before}https://sentry.io/api/0/projects/acme/web/{after}")

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [cdk_logs.skipped_summary({"web": {"events", "project_detail"}})]
    assert warnings[0].startswith("1 project(s) were skipped because Sentry answered 403")
    assert "web (events, project_detail)" in warnings[0]


def test_given_issues_stream_built_when_wording_installed_then_the_cdk_parent_state_notice_is_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from source_sentry.packaged.source import PackagedSource

    cartesian = logging.getLogger(cdk_logs.CARTESIAN_LOGGER)
    caplog.set_level(logging.WARNING, logger="airbyte")
    try:
        PackagedSource(config=config()).streams(config())
        notices_before = [r for r in caplog.records if r.getMessage() == cdk_logs.PARENT_STATE_NOTICE]
        caplog.clear()
        cdk_logs.install()
        cdk_logs.install()
        installed_filters = len(cartesian.filters)
        PackagedSource(config=config()).streams(config())
        notices_after = [r for r in caplog.records if r.getMessage() == cdk_logs.PARENT_STATE_NOTICE]
    finally:
        cartesian.filters.clear()
        logging.getLogger(cdk_logs.BACKOFF_LOGGER).filters.clear()

    assert len(notices_before) >= 1
    assert notices_after == []
    assert installed_filters == 1


@pytest.fixture
def skip_warnings(caplog: pytest.LogCaptureFixture):
    out = logging.getLogger("airbyte.test_stream_skips")
    caplog.set_level(logging.INFO)
    cdk_logs.install_stream_skip_warnings(out)
    yield lambda: [r.getMessage() for r in caplog.records if r.name == out.name]
    for stream in cdk_logs.optional_stream_scopes():
        logging.getLogger(cdk_logs.REQUESTER_LOGGER + stream).filters.clear()


def test_given_token_without_member_read_when_members_read_then_one_warning_names_stream_and_scope(
    skip_warnings,
) -> None:
    from unit_tests.sentry import FORBIDDEN, members_request

    with HttpMocker() as http_mocker:
        http_mocker.get(members_request(), error(403, FORBIDDEN))
        output = read_stream("members", config())

    assert skip_warnings() == [
        "Stream `members` skipped: the auth token lacks the scope member:read (Sentry answered 403 for "
        "/api/0/organizations/acme/members/). The other streams sync; give the token member:read to read "
        "this one."
    ]
    assert not [m for m in output.logs if m.log.message.startswith("Skipping ")]
    assert not output.errors


def test_given_server_without_the_endpoint_when_every_project_answers_404_then_one_warning(
    skip_warnings,
) -> None:
    from unit_tests.sentry import environments_request, projects_page

    with HttpMocker() as http_mocker:
        http_mocker.get(projects_request(), projects_page(**{"11": "backend", "12": "web", "13": "mobile"}))
        for slug in ("backend", "web", "mobile"):
            http_mocker.get(environments_request(slug), error(404, {"detail": "Not Found"}))
        output = read_stream("environments", config())

    (warning,) = skip_warnings()
    assert warning.startswith("Stream `environments` skipped: this server does not have /api/0/projects/")
    assert "(404); older Sentry versions and GlitchTip lack some endpoints." in warning
    assert not [m for m in output.logs if m.log.message.startswith("Skipping ")]


def test_given_other_lines_of_an_optional_stream_then_they_pass_unchanged() -> None:
    before, after = cdk_logs.skip_message_template()

    assert cdk_logs.skipped_request("Retrying the request to https://sentry.io/api/0/x/") is None
    assert cdk_logs.skipped_request(f"{before}https://sentry.io/api/0/projects/acme/web/{after}") is None
