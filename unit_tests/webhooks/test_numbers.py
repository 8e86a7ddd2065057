"""Number settings, the receiver's own and forwarding's, read by one rule with one message:
the setting, what is wrong with the value, what to give."""

from __future__ import annotations

import json

import pytest

from source_sentry.webhooks.settings import SettingsError, load_settings

BASE = {"client_secrets": ["s" * 32], "database": "a.sqlite3", "feed_token": "f" * 20}


def _refused(tmp_path, **values) -> str:
    path = tmp_path / "receiver.json"
    path.write_text(json.dumps({**BASE, **values}))
    with pytest.raises(SettingsError) as raised:
        load_settings(path, {})
    return str(raised.value)


def _loaded(tmp_path, **values):
    path = tmp_path / "receiver.json"
    path.write_text(json.dumps({**BASE, **values}))
    return load_settings(path, {})


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "retention_days",
            "soon",
            "retention_days: 'soon' is not a whole number; give a whole number from 1 to 3650.",
        ),
        (
            "forward_concurrency",
            "soon",
            "forward_concurrency: 'soon' is not a whole number; give a whole number from 1 to 64.",
        ),
        (
            "retention_days",
            2.5,
            "retention_days: 2.5 is not a whole number; give a whole number from 1 to 3650.",
        ),
        (
            "forward_concurrency",
            2.5,
            "forward_concurrency: 2.5 is not a whole number; give a whole number from 1 to 64.",
        ),
        ("retention_days", 0, "retention_days: 0 is out of range; give a whole number from 1 to 3650."),
        (
            "forward_concurrency",
            0,
            "forward_concurrency: 0 is out of range; give a whole number from 1 to 64.",
        ),
        (
            "shutdown_grace_seconds",
            True,
            "shutdown_grace_seconds: True is not a whole number; give a whole number from 0 to 600.",
        ),
        (
            "forward_timeout_seconds",
            True,
            "forward_timeout_seconds: True is not a number; give a number from 0.05 to 120.",
        ),
        (
            "forward_timeout_seconds",
            "",
            "forward_timeout_seconds: '' is not a number; give a number from 0.05 to 120.",
        ),
        (
            "forward_poll_seconds",
            61,
            "forward_poll_seconds: 61 is out of range; give a number from 0.01 to 60.",
        ),
        (
            "forward_poll_seconds",
            None,
            "forward_poll_seconds: None is not a number; give a number from 0.01 to 60.",
        ),
    ],
)
def test_given_a_bad_number_setting_when_loaded_then_one_message_style_for_every_setting(
    tmp_path, name, value, message
):
    assert _refused(tmp_path, **{name: value}) == message


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("forward_concurrency", "inf"),
        ("forward_concurrency", "Infinity"),
        ("forward_timeout_seconds", "nan"),
        ("forward_timeout_seconds", "\u0663"),  # an Arabic-Indic 3: int() and float() take it
        ("retention_days", "1_0"),
        ("forward_poll_seconds", "1_0"),
    ],
)
def test_given_text_that_python_reads_as_a_number_but_is_not_plain_digits_when_loaded_then_refused(
    tmp_path, name, value
):
    assert " is not a " in _refused(tmp_path, **{name: value})


def test_given_numbers_as_text_when_loaded_then_read_as_numbers(tmp_path):
    settings = _loaded(
        tmp_path,
        retention_days=" 7 ",
        forward_concurrency="8",
        forward_timeout_seconds="2.5",
        forward_poll_seconds="5e-1",
        forward_retry_seconds=[1, "2"],
    )
    assert settings.retention_days == 7
    assert (settings.forward.concurrency, settings.forward.timeout_seconds) == (8, 2.5)
    assert (settings.forward.poll_seconds, settings.forward.retry_seconds) == (0.5, (1.0, 2.0))


def test_given_a_very_long_number_when_loaded_then_out_of_range_shown_short(tmp_path):
    message = _refused(tmp_path, feed_max_limit="9" * 5000)
    assert message.startswith("feed_max_limit: 9999")
    assert message.endswith("... is out of range; give a whole number from 1 to 100000.")
    assert len(message) < 120
