"""Where each setting comes from: flags, then the environment, then the config file.

CI systems spell the same setting differently, so each has several environment names:
sentry-cli's (``SENTRY_AUTH_TOKEN``), the Drone Sentry plugin's (``sentry_auth_token``, in
any case) and those with the ``PLUGIN_`` prefix Drone and Woodpecker add to plugin
settings (``PLUGIN_SENTRY_AUTH_TOKEN``). The first non-empty one in ``ENV_NAMES`` order wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from source_sentry.config import JsonFileError, read_json_object, split_slugs
from source_sentry.notify.payloads import InputError

_BASE_NAMES: dict[str, tuple[str, ...]] = {
    "auth_token": ("SENTRY_AUTH_TOKEN",),
    "organization": ("SENTRY_ORG", "SENTRY_ORGANIZATION"),
    "projects": ("SENTRY_PROJECT",),
    "hostname": ("SENTRY_URL",),
    "release": ("SENTRY_RELEASE", "SENTRY_RELEASE_VERSION"),
    "environment": ("SENTRY_ENVIRONMENT", "SENTRY_RELEASE_ENVIRONMENT"),
    "commits": ("SENTRY_COMMITS",),
}
# Upper-case names; matched case-insensitively. Plain names before PLUGIN_ ones.
ENV_NAMES: dict[str, tuple[str, ...]] = {
    key: names + tuple(f"PLUGIN_{name}" for name in names) for key, names in _BASE_NAMES.items()
}


def from_environment(environ: Mapping[str, str], key: str) -> str | None:
    """The value of setting ``key`` from the first non-empty environment name, if any."""
    by_upper: dict[str, list[str]] = {}
    for name in sorted(environ):
        by_upper.setdefault(name.upper(), []).append(name)
    for wanted in ENV_NAMES[key]:
        # The exact upper-case spelling first, then any other case (sorted, so runs repeat).
        for name in sorted(by_upper.get(wanted, []), key=lambda n: n != wanted):
            value = environ[name].strip()
            if value:
                return value
    return None


def load_config_file(path: str | None) -> dict[str, Any]:
    """The connector's config JSON (auth_token, hostname, organization, project(s))."""
    if path is None:
        return {}
    try:
        return read_json_object(path, "config")
    except JsonFileError as error:
        raise InputError(f"--config {path}: {error.problem}.") from None


def connection_config(
    *,
    flag_projects: list[str] | None,
    environ: Mapping[str, str],
    file_config: Mapping[str, Any],
) -> dict[str, Any]:
    """A config for ``check_connection``: each setting from flags, else environment, else file.

    Settings absent everywhere are left out so an organization token's embedded host and
    organization can fill them in.
    """
    config: dict[str, Any] = {}
    for key in ("auth_token", "organization", "hostname"):
        value = from_environment(environ, key) or file_config.get(key)
        if value:
            config[key] = value
    if file_config.get("server"):
        config["server"] = file_config["server"]
    env_projects = from_environment(environ, "projects")
    if flag_projects:
        config["projects"] = [slug for item in flag_projects for slug in split_slugs(item)]
    elif env_projects:
        config["projects"] = split_slugs(env_projects)
    else:
        for key in ("projects", "project"):
            if file_config.get(key):
                config[key] = file_config[key]
    return config
