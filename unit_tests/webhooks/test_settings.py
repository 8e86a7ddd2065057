from __future__ import annotations

import json

import pytest

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
