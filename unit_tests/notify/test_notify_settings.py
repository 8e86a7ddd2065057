from __future__ import annotations

import json

import pytest

from source_sentry.notify.cli import env_requests_notify
from source_sentry.notify.payloads import InputError
from source_sentry.notify.settings import connection_config, from_environment, load_config_file

FILE = {
    "auth_token": "file-token",
    "hostname": "file.example.com",
    "organization": "file-org",
    "project": "file-p",
}


def resolve(flag_projects=None, environ=None, file_config=None):
    return connection_config(
        flag_projects=flag_projects, environ=environ or {}, file_config=file_config or {}
    )


def test_given_only_config_file_when_resolving_then_file_settings_used():
    assert resolve(file_config=FILE) == {
        "auth_token": "file-token",
        "organization": "file-org",
        "hostname": "file.example.com",
        "project": "file-p",
    }


def test_given_environment_and_file_when_resolving_then_environment_wins():
    environ = {
        "SENTRY_AUTH_TOKEN": "env-token",
        "SENTRY_ORG": "env-org",
        "SENTRY_URL": "env.example.com",
        "SENTRY_PROJECT": "env-a, env-b",
    }
    assert resolve(environ=environ, file_config=FILE) == {
        "auth_token": "env-token",
        "organization": "env-org",
        "hostname": "env.example.com",
        "projects": ["env-a", "env-b"],
    }


def test_given_project_flags_environment_and_file_when_resolving_then_flags_win():
    config = resolve(
        flag_projects=["web,api", "worker"], environ={"SENTRY_PROJECT": "env-a"}, file_config=FILE
    )
    assert config["projects"] == ["web", "api", "worker"]
    assert "project" not in config


@pytest.mark.parametrize(
    "name",
    [
        "SENTRY_AUTH_TOKEN",
        "sentry_auth_token",
        "Sentry_Auth_Token",
        "PLUGIN_SENTRY_AUTH_TOKEN",
        "plugin_sentry_auth_token",
    ],
)
def test_given_token_under_any_known_name_when_reading_environment_then_found(name):
    assert from_environment({name: " tok "}, "auth_token") == "tok"


@pytest.mark.parametrize(
    ("key", "name"),
    [
        ("organization", "sentry_organization"),
        ("organization", "PLUGIN_SENTRY_ORGANIZATION"),
        ("projects", "sentry_project"),
        ("release", "sentry_release_version"),
        ("release", "PLUGIN_SENTRY_RELEASE_VERSION"),
        ("environment", "sentry_release_environment"),
        ("environment", "SENTRY_ENVIRONMENT"),
        ("hostname", "PLUGIN_SENTRY_URL"),
    ],
)
def test_given_drone_plugin_names_when_reading_environment_then_found(key, name):
    assert from_environment({name: "value"}, key) == "value"


def test_given_several_names_set_when_reading_environment_then_first_listed_non_empty_wins():
    environ = {"SENTRY_RELEASE": "", "sentry_release_version": "drone", "PLUGIN_SENTRY_RELEASE": "plugin"}
    assert from_environment(environ, "release") == "drone"
    assert (
        from_environment({"sentry_auth_token": "lower", "SENTRY_AUTH_TOKEN": "upper"}, "auth_token")
        == "upper"
    )


@pytest.mark.parametrize(
    ("environ", "asks"),
    [
        ({"SENTRY_RELEASE": "1.0", "SENTRY_AUTH_TOKEN": "t"}, True),
        ({"PLUGIN_SENTRY_RELEASE_VERSION": "1.0", "plugin_sentry_auth_token": "t"}, True),
        ({"SENTRY_RELEASE": "1.0"}, False),
        ({"SENTRY_AUTH_TOKEN": "t", "SENTRY_ENVIRONMENT": "production"}, False),
        ({"SENTRY_RELEASE": " ", "SENTRY_AUTH_TOKEN": "t"}, False),
        ({}, False),
    ],
)
def test_given_environment_when_asked_whether_it_requests_notify_then_needs_release_and_token(environ, asks):
    assert env_requests_notify(environ) is asks


def test_given_config_file_when_loaded_then_json_object(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(FILE))
    assert load_config_file(str(path)) == FILE


@pytest.mark.parametrize(
    ("content", "fragment"),
    [(None, "does not exist"), ("{not json", "not valid JSON"), ("[1]", "must hold a JSON object")],
)
def test_given_unusable_config_file_when_loaded_then_input_error_names_file(tmp_path, content, fragment):
    path = tmp_path / "config.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(InputError, match=f"--config {path}: .*{fragment}"):
        load_config_file(str(path))
