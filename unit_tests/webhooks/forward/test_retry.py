"""The retry schedule: each failure's delay within ±20% of its step, Retry-After never undercut,
dead after the last step."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from source_sentry.webhooks.forward.config import DEFAULT_RETRY_SECONDS
from source_sentry.webhooks.forward.retry import next_delay, retry_after_seconds


@pytest.mark.parametrize(("failures", "step"), list(enumerate(DEFAULT_RETRY_SECONDS, start=1)))
def test_given_n_failures_when_scheduled_then_the_nth_step_with_jitter(failures, step):
    delays = [next_delay(failures, DEFAULT_RETRY_SECONDS, None, random.Random(seed)) for seed in range(50)]
    assert all(step * 0.8 <= d <= step * 1.2 for d in delays)
    assert len(set(delays)) > 40, "jitter spreads retries that failed together"


def test_given_every_step_used_when_it_fails_again_then_no_delay_and_the_delivery_is_dead():
    assert next_delay(len(DEFAULT_RETRY_SECONDS) + 1, DEFAULT_RETRY_SECONDS, None, random.Random(1)) is None


def test_given_retry_after_longer_than_the_step_when_scheduled_then_the_target_is_obeyed():
    assert next_delay(1, (5.0,), 120.0, random.Random(1)) == 120.0


def test_given_retry_after_shorter_than_the_step_when_scheduled_then_the_step_stands():
    assert 240 <= next_delay(1, (300.0, 600.0), 1.0, random.Random(1)) <= 360


def test_given_retry_after_as_seconds_or_http_date_when_read_then_seconds_from_now():
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("30") == 30.0
    assert retry_after_seconds("Thu, 01 Jan 2026 12:01:00 GMT", now) == 60.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None
