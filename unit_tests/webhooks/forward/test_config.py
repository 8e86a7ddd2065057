"""The `forward` settings: a problem names the target and the key to fix, and never shows a
target's URL or secret."""

from __future__ import annotations

import json

import pytest

from source_sentry.webhooks.forward.config import DEFAULT_RETRY_SECONDS
from source_sentry.webhooks.settings import SettingsError, load_settings

SLACK_URL = "https://hooks.slack.com/services/T000/B000/secretpart"
WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
BASE = {"client_secrets": ["s" * 32], "database": "/tmp/x.sqlite3", "feed_token": "f" * 20}


def load(tmp_path, **extra):
    path = tmp_path / "receiver.json"
    path.write_text(json.dumps({**BASE, **extra}))
    return load_settings(path, {})


def test_given_two_targets_with_filters_when_loaded_then_kept_with_the_defaults(tmp_path):
    settings = load(
        tmp_path,
        forward=[
            {"name": "ops", "kind": "slack", "url": SLACK_URL, "levels": ["error", "fatal"]},
            {
                "name": "catalog",
                "kind": "webhook",
                "url": "https://x.example/h",
                "secret": WHSEC,
                "resources": ["issue"],
                "actions": ["created"],
                "projects": ["backend"],
            },
        ],
        admin_token="a" * 20,
    )
    ops, catalog = settings.forward.targets
    assert (ops.kind, ops.levels, ops.secret) == ("slack", frozenset({"error", "fatal"}), None)
    assert (catalog.resources, catalog.actions, catalog.projects) == ({"issue"}, {"created"}, {"backend"})
    assert settings.forward.retry_seconds == DEFAULT_RETRY_SECONDS
    assert settings.forward.attempts == 7
    shown = json.dumps(settings.redacted())
    assert SLACK_URL not in shown
    assert WHSEC not in shown
    assert "a" * 20 not in shown
    assert '"name": "ops"' in shown


def test_given_targets_in_the_environment_when_loaded_then_the_json_is_read(tmp_path):
    env = {
        "SENTRY_WEBHOOKS_FORWARD": json.dumps([{"name": "ops", "kind": "slack", "url": SLACK_URL}]),
        "SENTRY_WEBHOOKS_FORWARD_RETRY_SECONDS": "[0.1, 0.2]",
    }
    path = tmp_path / "receiver.json"
    path.write_text(json.dumps(BASE))
    settings = load_settings(path, env)
    assert [t.name for t in settings.forward.targets] == ["ops"]
    assert settings.forward.retry_seconds == (0.1, 0.2)


@pytest.mark.parametrize(
    ("forward", "message"),
    [
        ([{"name": "x", "kind": "email", "url": SLACK_URL}], "forward[0] (x).kind: one of webhook, slack."),
        (
            [{"name": "x", "kind": "webhook", "url": SLACK_URL, "secret": "plain"}],
            "forward[0] (x).secret: give a",
        ),
        ([{"name": "x", "kind": "webhook", "url": SLACK_URL, "secret": "whsec_!!"}], "does not decode"),
        ([{"name": "x", "kind": "slack", "url": "ftp://example.com/" + "secretpart"}], "forward[0] (x).url"),
        ([{"name": "x", "kind": "slack", "url": SLACK_URL, "secret": WHSEC}], "a slack target has none"),
        ([{"name": "x", "kind": "slack", "url": SLACK_URL, "level": ["error"]}], "unknown key(s) level"),
        ([{"name": "x", "kind": "slack", "url": SLACK_URL}] * 2, "repeated: x"),
        ([{"kind": "slack", "url": SLACK_URL}], "forward[0].name"),
    ],
)
def test_given_a_bad_target_when_loaded_then_the_message_names_it_without_url_or_secret(
    tmp_path, forward, message
):
    with pytest.raises(SettingsError) as raised:
        load(tmp_path, forward=forward)
    assert message in str(raised.value)
    assert "secretpart" not in str(raised.value)
    assert "MfKQ9r8" not in str(raised.value)


def test_given_a_short_admin_token_when_loaded_then_refused(tmp_path):
    with pytest.raises(SettingsError, match="admin_token: give a random string of at least 16"):
        load(tmp_path, admin_token="short")


@pytest.mark.parametrize("schedule", [[], 5, {"first": 5}])
def test_given_a_retry_schedule_that_is_no_list_when_loaded_then_refused_with_an_example(tmp_path, schedule):
    with pytest.raises(SettingsError, match=r"forward_retry_seconds: .*\[5, 300, 1800"):
        load(tmp_path, forward_retry_seconds=schedule)


def test_given_a_bad_delay_in_the_retry_schedule_when_loaded_then_the_delay_is_named(tmp_path):
    with pytest.raises(SettingsError) as raised:
        load(tmp_path, forward_retry_seconds=[5, "soon"])
    assert str(raised.value) == (
        "forward_retry_seconds[1]: 'soon' is not a number; give a number from 0 to 604800."
    )
