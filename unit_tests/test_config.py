"""source_sentry.config: the base URL from a hostname, the spec's hostname pattern, settings
resolved from a config."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import jsonschema
import pytest

from source_sentry.config import (
    HOSTNAME_PATTERN,
    ConfigError,
    base_api_url,
    org_token_claims,
    project_slugs,
    resolve_settings,
)
from unit_tests.sentry import (
    BASE,
    ORG,
    TOKEN,
    config,
)

ORG_URL = f"{BASE}/organizations/{ORG}/"


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
    assert settings.token == TOKEN
