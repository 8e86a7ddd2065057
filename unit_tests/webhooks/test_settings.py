from __future__ import annotations

import json
from dataclasses import fields

import pytest

from source_sentry.webhooks.forward.config import SETTING_NAMES as FORWARD_SETTING_NAMES
from source_sentry.webhooks.settings import Settings, SettingsError, load_settings, redact_url, scrub

SECRET = "s3cr3t-client-secret-value"
TOKEN = "feed-token-0123456789abcdef"


def _file(tmp_path, **values):
    path = tmp_path / "receiver.json"
    path.write_text(json.dumps(values))
    return path


def test_given_file_with_required_settings_when_loaded_then_defaults_fill_the_rest(tmp_path):
    path = _file(tmp_path, client_secrets=[SECRET], database="/data/w.sqlite3", feed_token=TOKEN)
    settings = load_settings(path, {})
    assert settings == Settings(client_secrets=(SECRET,), database="/data/w.sqlite3", feed_token=TOKEN)
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)


def test_given_environment_only_when_loaded_then_every_setting_comes_from_it():
    env = {
        "SENTRY_WEBHOOKS_CLIENT_SECRETS": f"{SECRET}, older-secret",
        "SENTRY_WEBHOOKS_DATABASE": "postgresql://hooks:pw@db:5432/hooks",
        "SENTRY_WEBHOOKS_FEED_TOKEN": TOKEN,
        "SENTRY_WEBHOOKS_LISTEN": "0.0.0.0:9000",
        "SENTRY_WEBHOOKS_RETENTION_DAYS": "7",
        "SENTRY_WEBHOOKS_MAX_BODY_BYTES": "2048",
        "SENTRY_WEBHOOKS_LOG_LEVEL": "WARNING",
    }
    settings = load_settings(None, env)
    assert settings.client_secrets == (SECRET, "older-secret")
    assert (settings.host, settings.port, settings.retention_days) == ("0.0.0.0", 9000, 7)
    assert (settings.max_body_bytes, settings.log_level) == (2048, "warning")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("true", True),
        ("Yes", True),
        ("on", True),
        ("1", True),
        ("false", False),
        ("NO", False),
        ("off", False),
        ("0", False),
    ],
)
def test_given_access_log_in_environment_when_loaded_then_read_as_yes_or_no(given, expected):
    env = {
        "SENTRY_WEBHOOKS_CLIENT_SECRETS": SECRET,
        "SENTRY_WEBHOOKS_DATABASE": "a.sqlite3",
        "SENTRY_WEBHOOKS_FEED_TOKEN": TOKEN,
        "SENTRY_WEBHOOKS_ACCESS_LOG": given,
    }
    assert load_settings(None, env).access_log is expected


def test_given_access_log_in_file_when_not_a_boolean_then_refused_naming_it(tmp_path):
    path = _file(
        tmp_path, client_secrets=[SECRET], database="a.sqlite3", feed_token=TOKEN, access_log="maybe"
    )
    with pytest.raises(SettingsError, match=r"^access_log: true or false \(got 'maybe'\)\.$"):
        load_settings(path, {})
    path = _file(tmp_path, client_secrets=[SECRET], database="a.sqlite3", feed_token=TOKEN, access_log=True)
    assert load_settings(path, {}).access_log is True
    path = _file(tmp_path, client_secrets=[SECRET], database="a.sqlite3", feed_token=TOKEN)
    assert load_settings(path, {}).access_log is False


def test_given_file_and_environment_when_loaded_then_the_environment_wins(tmp_path):
    path = _file(tmp_path, client_secrets=[SECRET], database="a.sqlite3", feed_token=TOKEN, retention_days=30)
    settings = load_settings(path, {"SENTRY_WEBHOOKS_RETENTION_DAYS": "3"})
    assert settings.retention_days == 3


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"database": "a.sqlite3", "feed_token": TOKEN}, "client_secrets"),
        ({"client_secrets": [], "database": "a.sqlite3", "feed_token": TOKEN}, "client_secrets"),
        ({"client_secrets": [SECRET], "feed_token": TOKEN}, "database"),
        ({"client_secrets": [SECRET], "database": "a.sqlite3", "feed_token": "short"}, "feed_token"),
        (
            {"client_secrets": [SECRET], "database": "a.sqlite3", "feed_token": TOKEN, "listen": "8080"},
            "listen",
        ),
        (
            {"client_secrets": [SECRET], "database": "a.sqlite3", "feed_token": TOKEN, "retention_days": 0},
            "retention_days",
        ),
        (
            {
                "client_secrets": [SECRET],
                "database": "a.sqlite3",
                "feed_token": TOKEN,
                "max_body_bytes": "1e6",
            },
            "max_body_bytes",
        ),
        ({"client_secrets": [SECRET], "database": "a.sqlite3", "feed_token": TOKEN, "port": 1}, "Unknown"),
    ],
)
def test_given_bad_setting_when_loaded_then_the_error_names_it(tmp_path, values, named):
    with pytest.raises(SettingsError, match=named):
        load_settings(_file(tmp_path, **values), {})


def test_given_feed_token_equal_to_a_client_secret_when_loaded_then_refused_without_echoing_it(tmp_path):
    path = _file(tmp_path, client_secrets=[TOKEN], database="a.sqlite3", feed_token=TOKEN)
    with pytest.raises(SettingsError, match="must differ") as raised:
        load_settings(path, {})
    assert TOKEN not in str(raised.value)


def test_given_missing_or_broken_file_when_loaded_then_the_error_says_so(tmp_path):
    with pytest.raises(SettingsError, match="Cannot read"):
        load_settings(tmp_path / "absent.json", {})
    broken = tmp_path / "broken.json"
    broken.write_text("{client_secrets: [")
    with pytest.raises(SettingsError, match="not valid JSON"):
        load_settings(broken, {})


def test_given_settings_when_redacted_then_no_secret_token_or_password_shows():
    settings = Settings(
        client_secrets=(SECRET,), database="postgresql://hooks:pw-XYZ@db/hooks", feed_token=TOKEN
    )
    shown = json.dumps(settings.redacted())
    assert SECRET not in shown
    assert TOKEN not in shown
    assert "pw-XYZ" not in shown
    assert "postgresql://hooks:***@db/hooks" in shown
    assert redact_url("/data/w.sqlite3") == "/data/w.sqlite3"


def test_given_sqlite_synchronous_when_loaded_then_full_by_default_normal_on_request(tmp_path):
    path = _file(tmp_path, client_secrets=[SECRET], database="a.sqlite3", feed_token=TOKEN)
    assert load_settings(path, {}).sqlite_synchronous == "full"
    chosen = load_settings(path, {"SENTRY_WEBHOOKS_SQLITE_SYNCHRONOUS": "NORMAL"})
    assert chosen.sqlite_synchronous == "normal"


def test_given_sqlite_synchronous_off_when_loaded_then_refused_naming_both_choices(tmp_path):
    path = _file(
        tmp_path, client_secrets=[SECRET], database="a.sqlite3", feed_token=TOKEN, sqlite_synchronous="off"
    )
    with pytest.raises(SettingsError) as refused:
        load_settings(path, {})
    assert str(refused.value).startswith("sqlite_synchronous: full (")
    assert "normal (" in str(refused.value)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://hooks:pw-XYZ@db:5432/hooks", "postgresql://hooks:***@db:5432/hooks"),
        ("postgresql://hooks@db/hooks", "postgresql://hooks@db/hooks"),
        (
            "postgresql://db/hooks?sslmode=require&password=pw-XYZ",
            "postgresql://db/hooks?sslmode=require&password=***",
        ),
        ("postgres://hooks:p%40w-XYZ@db/hooks?PASSWORD=pw-XYZ", "postgres://hooks:***@db/hooks?PASSWORD=***"),
    ],
)
def test_given_database_url_when_redacted_then_every_password_is_hidden(url, shown):
    assert redact_url(url) == shown


def test_given_driver_message_quoting_the_password_when_scrubbed_then_it_is_hidden_raw_and_decoded():
    url = "postgresql://hooks:p%40w-XYZ%zz@db/hooks"
    said = 'invalid percent-encoded token: "p%40w-XYZ%zz"; user p@w-XYZ%zz at db'
    assert scrub(said, url) == 'invalid percent-encoded token: "***"; user *** at db'
    assert scrub("could not connect to db", "/data/w.sqlite3") == "could not connect to db"


SLACK_URL = "https://hooks.slack.com/services/T0/B0/slack-Secretpart-3"
# One bad value for every setting the environment can give, and the start of the message.
BAD_IN_ENVIRONMENT = {
    "client_secrets": (" , ", "SENTRY_WEBHOOKS_CLIENT_SECRETS: give the Client Secret"),
    "database": ("  ", "SENTRY_WEBHOOKS_DATABASE: give a file path"),
    "feed_token": ("short", "SENTRY_WEBHOOKS_FEED_TOKEN: give a random string of at least 16"),
    "listen": ("8080", "SENTRY_WEBHOOKS_LISTEN: give host:port"),
    "max_body_bytes": ("1e6", "SENTRY_WEBHOOKS_MAX_BODY_BYTES: '1e6' is not a whole number; give"),
    "retention_days": ("0", "SENTRY_WEBHOOKS_RETENTION_DAYS: 0 is out of range; give a whole number"),
    "retry_window_seconds": ("-1", "SENTRY_WEBHOOKS_RETRY_WINDOW_SECONDS: -1 is out of range"),
    "feed_max_limit": ("many", "SENTRY_WEBHOOKS_FEED_MAX_LIMIT: 'many' is not a whole number"),
    "prune_interval_seconds": ("5", "SENTRY_WEBHOOKS_PRUNE_INTERVAL_SECONDS: 5 is out of range"),
    "shutdown_grace_seconds": ("601", "SENTRY_WEBHOOKS_SHUTDOWN_GRACE_SECONDS: 601 is out of range"),
    "log_level": ("loud", "SENTRY_WEBHOOKS_LOG_LEVEL: one of debug, info, warning, error"),
    "access_log": ("sometimes", "SENTRY_WEBHOOKS_ACCESS_LOG: true or false (got 'sometimes')."),
    "log_summary_seconds": ("0", "SENTRY_WEBHOOKS_LOG_SUMMARY_SECONDS: 0 is out of range"),
    "sqlite_synchronous": ("off", "SENTRY_WEBHOOKS_SQLITE_SYNCHRONOUS: full ("),
    "forward": (
        json.dumps([{"name": "ops", "kind": "email", "url": SLACK_URL}]),
        "SENTRY_WEBHOOKS_FORWARD[0] (ops).kind: one of webhook, slack.",
    ),
    "admin_token": ("short", "SENTRY_WEBHOOKS_ADMIN_TOKEN: give a random string of at least 16"),
    "forward_retry_seconds": ("[5, -1]", "SENTRY_WEBHOOKS_FORWARD_RETRY_SECONDS[1]: -1 is out of range"),
    "forward_timeout_seconds": ("0", "SENTRY_WEBHOOKS_FORWARD_TIMEOUT_SECONDS: 0 is out of range"),
    "forward_concurrency": ("inf", "SENTRY_WEBHOOKS_FORWARD_CONCURRENCY: 'inf' is not a whole number"),
    "forward_poll_seconds": ("soon", "SENTRY_WEBHOOKS_FORWARD_POLL_SECONDS: 'soon' is not a number"),
}


def test_given_the_bad_values_table_when_read_then_it_covers_every_setting():
    assert set(BAD_IN_ENVIRONMENT) == {f.name for f in fields(Settings) if f.name != "forward"} | set(
        FORWARD_SETTING_NAMES
    )


@pytest.mark.parametrize("name", sorted(BAD_IN_ENVIRONMENT))
def test_given_a_bad_value_in_the_environment_when_loaded_then_the_message_names_the_variable(tmp_path, name):
    value, start = BAD_IN_ENVIRONMENT[name]
    path = _file(tmp_path, client_secrets=[SECRET], database="a.sqlite3", feed_token=TOKEN)
    with pytest.raises(SettingsError) as raised:
        load_settings(path, {"SENTRY_WEBHOOKS_" + name.upper(): value})
    message = str(raised.value)
    assert message.startswith(start)
    assert "\n" not in message
    assert SECRET not in message
    assert "slack-Secretpart-3" not in message


@pytest.mark.parametrize(
    ("forward", "message"),
    [
        (
            '[{"name": "ops", "kind": "slack", "url": "https://[::1/slack-Secretpart-3"}]',
            "SENTRY_WEBHOOKS_FORWARD[0] (ops).url: give an http:// or https:// URL (not shown here).",
        ),
        ("[{", "SENTRY_WEBHOOKS_FORWARD: not valid JSON (column 3); give JSON text, e.g. [{"),
    ],
)
def test_given_targets_in_the_environment_that_cannot_be_read_when_loaded_then_named_without_traceback(
    tmp_path, forward, message
):
    path = _file(tmp_path, client_secrets=[SECRET], database="a.sqlite3", feed_token=TOKEN)
    with pytest.raises(SettingsError) as raised:
        load_settings(path, {"SENTRY_WEBHOOKS_FORWARD": forward})
    assert str(raised.value).startswith(message)
    assert "slack-Secretpart-3" not in str(raised.value)


def test_given_a_bad_value_in_the_file_when_loaded_then_the_message_names_the_setting(tmp_path):
    path = _file(tmp_path, client_secrets=[SECRET], database="a.sqlite3", feed_token=TOKEN, retention_days=0)
    with pytest.raises(SettingsError) as raised:
        load_settings(path, {"SENTRY_WEBHOOKS_SHUTDOWN_GRACE_SECONDS": "5"})
    assert str(raised.value).startswith("retention_days: 0 is out of range")
