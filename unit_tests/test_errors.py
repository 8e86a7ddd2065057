"""How the connector answers Sentry's failures: rate limits, server errors, bad bodies, auth."""

from __future__ import annotations

import calendar
import json
from unittest import TestCase

import pytest
from airbyte_cdk.models import FailureType, SyncMode
from airbyte_cdk.test.mock_http import HttpMocker, HttpResponse
from freezegun import freeze_time

from unit_tests.conftest import SLEEPS, read_stream
from unit_tests.sentry import TOKEN, config, error, page, projects_request, projects_url, record

NOW = "2024-06-01T12:00:00Z"
NOW_EPOCH = calendar.timegm((2024, 6, 1, 12, 0, 0))


def projects_page() -> HttpResponse:
    return page(projects_url(), [record("projects", slug="backend", id="11")])


@freeze_time(NOW)
class RateLimitTest(TestCase):
    @HttpMocker()
    def test_given_429_with_reset_header_when_read_then_waits_until_reset_and_retries(
        self, http_mocker: HttpMocker
    ) -> None:
        limited = error(
            429,
            "You are attempting to use this endpoint too frequently. Limit is 40 requests in 1 seconds",
            {
                "X-Sentry-Rate-Limit-Reset": str(NOW_EPOCH + 7),
                "X-Sentry-Rate-Limit-Remaining": "0",
                "X-Sentry-Rate-Limit-Limit": "40",
                "Content-Type": "text/html",
            },
        )
        req = projects_request()
        http_mocker.get(req, [limited, projects_page()])

        output = read_stream("projects", config(), sync_mode=SyncMode.full_refresh)

        assert [r.record.data["slug"] for r in output.records] == ["backend"]
        # the reset is 7 s away; the CDK adds one second of margin to a header-derived wait
        assert SLEEPS
        assert 7 <= SLEEPS[0] <= 8, SLEEPS
        http_mocker.assert_number_of_calls(req, 2)

    @HttpMocker()
    def test_given_429_with_retry_after_when_read_then_waits_that_long(self, http_mocker: HttpMocker) -> None:
        req = projects_request()
        http_mocker.get(req, [error(429, {"detail": "Limit is 3/1s"}, {"Retry-After": "3"}), projects_page()])

        output = read_stream("projects", config(), sync_mode=SyncMode.full_refresh)

        assert len(output.records) == 1
        assert 3 <= SLEEPS[0] <= 4, SLEEPS


# Which wait each retryable answer gets, in both variants (the packaged connector's error handler
# keeps the manifest's backoff strategies). SLEEPS holds the waits actually slept.
VARIANTS = pytest.mark.parametrize("packaged", [True, False], ids=["packaged", "manifest"])
CONCURRENCY_429 = error(
    429,
    "You are attempting to go above the allowed concurrency for this endpoint. Concurrency limit is 1",
    {
        "X-Sentry-Rate-Limit-Limit": "60",
        "X-Sentry-Rate-Limit-Remaining": "57",
        "X-Sentry-Rate-Limit-Reset": str(NOW_EPOCH + 50),
        "X-Sentry-Rate-Limit-ConcurrentLimit": "1",
        "X-Sentry-Rate-Limit-ConcurrentRemaining": "0",
        "Content-Type": "text/html",
    },
)


def _read_after(answers: list[HttpResponse], packaged: bool) -> list[float]:
    """Read `projects` whose first answers are `answers`, then its page: the waits slept."""
    with freeze_time(NOW), HttpMocker() as http_mocker:
        req = projects_request()
        http_mocker.get(req, [*answers, projects_page()])
        output = read_stream("projects", config(), sync_mode=SyncMode.full_refresh, packaged=packaged)
        assert [r.record.data["slug"] for r in output.records] == ["backend"]
        http_mocker.assert_number_of_calls(req, len(answers) + 1)
    return list(SLEEPS)


@VARIANTS
def test_given_concurrency_429_when_read_then_retried_after_a_second_not_at_the_window_reset(
    packaged: bool,
) -> None:
    assert _read_after([CONCURRENCY_429], packaged) == [1]


@VARIANTS
def test_given_concurrency_429_again_and_again_when_read_then_each_wait_doubles(
    packaged: bool,
) -> None:
    assert _read_after([CONCURRENCY_429] * 3, packaged) == [1, 2, 4]


@VARIANTS
def test_given_sentry_500_with_its_rate_limit_headers_when_read_then_retried_after_a_second(
    packaged: bool,
) -> None:
    # Sentry's middleware puts its rate-limit headers on every answer, a 500 included: the reset
    # there says when the window restarts, not when the server mends.
    failed = error(
        500,
        {"detail": "Internal Error", "errorId": "abc"},
        {
            "X-Sentry-Rate-Limit-Remaining": "38",
            "X-Sentry-Rate-Limit-Reset": str(NOW_EPOCH + 50),
            "X-Sentry-Rate-Limit-ConcurrentRemaining": "24",
        },
    )
    assert _read_after([failed], packaged) == [1]


@VARIANTS
def test_given_proxy_errors_when_read_then_first_retry_after_a_second_then_doubling(
    packaged: bool,
) -> None:
    answers = [error(502, "<html><body>Bad Gateway</body></html>"), error(503, "<html>Unavailable</html>")]
    assert _read_after(answers, packaged) == [1, 2]


@VARIANTS
def test_given_spent_window_429_when_read_then_waits_for_its_reset(packaged: bool) -> None:
    spent = error(
        429,
        "You are attempting to use this endpoint too frequently. Limit is 60 requests in 60 seconds",
        {
            "X-Sentry-Rate-Limit-Limit": "60",
            "X-Sentry-Rate-Limit-Remaining": "0",
            "X-Sentry-Rate-Limit-Reset": str(NOW_EPOCH + 30),
            "X-Sentry-Rate-Limit-ConcurrentLimit": "1",
            "Content-Type": "text/html",
        },
    )
    sleeps = _read_after([spent], packaged)
    # The budget may wait for the reset first (it reads Remaining: 0); then no wait is left to back
    # off. Either way the first request after the 429 is sent at the reset, plus the CDK's second.
    assert 30 <= sum(sleeps) <= 31.01, sleeps


@freeze_time(NOW)
class TransientFailureTest(TestCase):
    @HttpMocker()
    def test_given_502_html_page_then_success_when_read_then_page_is_not_lost(
        self, http_mocker: HttpMocker
    ) -> None:
        req = projects_request()
        http_mocker.get(req, [error(502, "<html><body>Bad Gateway</body></html>"), projects_page()])

        output = read_stream("projects", config(), sync_mode=SyncMode.full_refresh)

        assert len(output.records) == 1
        http_mocker.assert_number_of_calls(req, 2)

    @HttpMocker()
    def test_given_500_json_then_success_when_read_then_retried(self, http_mocker: HttpMocker) -> None:
        req = projects_request()
        http_mocker.get(req, [error(500, {"detail": "Internal Error", "errorId": "x"}), projects_page()])

        output = read_stream("projects", config(), sync_mode=SyncMode.full_refresh)

        assert len(output.records) == 1

    @HttpMocker()
    def test_given_truncated_json_with_200_when_read_then_retried_instead_of_read_as_empty(
        self, http_mocker: HttpMocker
    ) -> None:
        truncated = HttpResponse('[{"id": "11", "slug": "back', 200)
        req = projects_request()
        http_mocker.get(req, [truncated, projects_page()])

        output = read_stream("projects", config(), sync_mode=SyncMode.full_refresh)

        assert [r.record.data["slug"] for r in output.records] == ["backend"]
        http_mocker.assert_number_of_calls(req, 2)

    @HttpMocker()
    def test_given_server_errors_that_never_end_when_read_then_sync_fails_loudly(
        self, http_mocker: HttpMocker
    ) -> None:
        req = projects_request()
        http_mocker.get(req, [error(503, "<html>Service Unavailable</html>")] * 9)

        output = read_stream("projects", config(), sync_mode=SyncMode.full_refresh, expecting_exception=True)

        assert output.records == []
        assert output.errors


@freeze_time(NOW)
class ConfigErrorTest(TestCase):
    def _assert_config_error(self, output, *fragments: str) -> None:
        traces = [m.trace.error for m in output.errors]
        assert traces, "expected an error trace"
        assert traces[0].failure_type == FailureType.config_error
        for fragment in fragments:
            assert fragment in traces[0].message, traces[0].message
        assert TOKEN not in json.dumps(
            [m.model_dump(mode="json") if hasattr(m, "model_dump") else str(m) for m in output.errors],
            default=str,
        )

    @HttpMocker()
    def test_given_rejected_token_when_read_then_config_error_says_to_replace_it(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(projects_request(), error(401, {"detail": "Invalid token"}))

        output = read_stream("projects", config(), sync_mode=SyncMode.full_refresh, expecting_exception=True)

        self._assert_config_error(output, "401", "auth_token")

    @HttpMocker()
    def test_given_unknown_organization_when_read_then_config_error_names_the_slug(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(projects_request(), error(404, {"detail": "The requested resource does not exist"}))

        output = read_stream("projects", config(), sync_mode=SyncMode.full_refresh, expecting_exception=True)

        self._assert_config_error(output, "404", "`acme`")

    @HttpMocker()
    def test_given_token_without_scope_when_read_then_config_error_names_the_scopes(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(
            projects_request(), error(403, {"detail": "You do not have permission to perform this action."})
        )

        output = read_stream("projects", config(), sync_mode=SyncMode.full_refresh, expecting_exception=True)

        self._assert_config_error(output, "403", "org:read", "project:read")


@freeze_time(NOW)
class UnexpectedClientErrorTest(TestCase):
    """A 4xx that no retry can fix fails on the first answer, with Sentry's words and the path."""

    def _assert_failed_at_once(
        self, http_mocker: HttpMocker, status: int, body, *fragments: str, server: str = "sentry"
    ) -> str:
        req = projects_request()
        http_mocker.get(req, error(status, body))

        output = read_stream(
            "projects", config(server=server), sync_mode=SyncMode.full_refresh, expecting_exception=True
        )

        http_mocker.assert_number_of_calls(req, 1)
        assert SLEEPS == []
        traces = [m.trace.error for m in output.errors]
        assert traces[0].failure_type == FailureType.system_error
        for fragment in ("/api/0/organizations/acme/projects/", *fragments):
            assert fragment in traces[0].message, traces[0].message
        return str(traces[0].message)

    @HttpMocker()
    def test_given_410_brownout_when_read_then_fails_at_once_saying_the_endpoint_is_gone(
        self, http_mocker: HttpMocker
    ) -> None:
        self._assert_failed_at_once(
            http_mocker,
            410,
            {"detail": "This API no longer exists."},
            "410 Gone",
            "This API no longer exists.",
        )

    @HttpMocker()
    def test_given_422_with_validation_detail_when_read_then_fails_at_once_quoting_it(
        self, http_mocker: HttpMocker
    ) -> None:
        self._assert_failed_at_once(
            http_mocker,
            422,
            {"detail": "sort: value is not a valid enumeration member"},
            "422 Unprocessable Entity",
            "not a valid enumeration",
            "for GlitchTip, set `server` to `glitchtip`",
        )

    @HttpMocker()
    def test_given_glitchtip_set_and_a_422_when_read_then_the_message_does_not_advise_setting_it(
        self, http_mocker: HttpMocker
    ) -> None:
        message = self._assert_failed_at_once(
            http_mocker, 422, {"detail": [{"msg": "Field required"}]}, "Field required", server="glitchtip"
        )

        assert "`server`" not in message

    @HttpMocker()
    def test_given_409_with_a_bare_json_string_when_read_then_fails_at_once_quoting_it(
        self, http_mocker: HttpMocker
    ) -> None:
        self._assert_failed_at_once(
            http_mocker, 409, "Conflict on this resource", "Conflict on this resource"
        )

    @HttpMocker()
    def test_given_413_html_page_when_read_then_fails_at_once_naming_the_request(
        self, http_mocker: HttpMocker
    ) -> None:
        self._assert_failed_at_once(http_mocker, 413, "<html>Request Entity Too Large</html>", "client error")
