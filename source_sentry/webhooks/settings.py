"""The receiver's settings: a JSON file, then the environment (which wins, for containers).

Every setting has an environment variable named `SENTRY_WEBHOOKS_` + its name in capitals;
`SENTRY_WEBHOOKS_CLIENT_SECRETS` takes a comma-separated list. A problem names the setting and
what to fix, never a secret's value.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from source_sentry.webhooks.forward.config import (
    SETTING_NAMES as FORWARD_SETTING_NAMES,
)
from source_sentry.webhooks.forward.config import (
    ForwardConfigError,
    ForwardSettings,
    Label,
    read_forward_settings,
)
from source_sentry.webhooks.numbers import NumberError, whole_number

ENV_PREFIX = "SENTRY_WEBHOOKS_"
SECRET_SETTINGS = frozenset({"client_secrets", "feed_token"})
MIN_FEED_TOKEN_LENGTH = 16


class SettingsError(ValueError):
    """A setting the operator must fix; the message says which and how."""


@dataclass(frozen=True)
class Settings:
    client_secrets: tuple[str, ...]
    database: str
    feed_token: str
    listen: str = "127.0.0.1:8080"
    # Sentry's error.created bodies carry a whole event; the largest events it accepts are
    # about 1 MB of JSON, so 5 MiB refuses only what cannot be a real delivery.
    max_body_bytes: int = 5 * 1024 * 1024
    retention_days: int = 30
    # Sentry retries a published app's delivery up to 3 times, 5 minutes apart: an hour holds
    # every retry with room for a queue that runs late.
    retry_window_seconds: int = 3600
    feed_max_limit: int = 1000
    prune_interval_seconds: int = 3600
    shutdown_grace_seconds: int = 10
    log_level: str = "info"
    # uvicorn's line per request. Off by default: at Sentry's rates it is a line per delivery on
    # the path that must answer within a second, and the TLS proxy in front logs requests anyway.
    # Deliveries kept are summed up in one line every `log_summary_seconds` instead.
    access_log: bool = False
    log_summary_seconds: int = 60
    # SQLite only: "full" fsyncs each commit (survives a power loss), "normal" does not (survives
    # the process being killed); store/sqlite.py says more.
    sqlite_synchronous: str = "full"
    # Issue 28: targets that get chosen deliveries re-sent (forward/), from the settings
    # FORWARD_SETTING_NAMES.
    forward: ForwardSettings = ForwardSettings()

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])

    def redacted(self) -> dict[str, Any]:
        """The settings as a log line may show them: secrets and the database password hidden."""
        shown: dict[str, Any] = {}
        for field in fields(self):
            value = getattr(self, field.name)
            if field.name == "client_secrets":
                value = f"{len(value)} secret(s)"
            elif field.name == "feed_token":
                value = "***"
            elif field.name == "database":
                value = redact_url(value)
            elif field.name == "forward":
                value = value.redacted()
            shown[field.name] = value
        return shown


INTEGER_BOUNDS = {
    "max_body_bytes": (1024, 100 * 1024 * 1024),
    "retention_days": (1, 3650),
    "retry_window_seconds": (0, 7 * 86400),
    "feed_max_limit": (1, 100_000),
    "prune_interval_seconds": (10, 7 * 86400),
    "shutdown_grace_seconds": (0, 600),
    "log_summary_seconds": (1, 86400),
}
LOG_LEVELS = ("debug", "info", "warning", "error")
SQLITE_SYNCHRONOUS = ("full", "normal")


def load_settings(path: str | Path | None, environ: Mapping[str, str]) -> Settings:
    raw: dict[str, Any] = {}
    if path is not None:
        raw = _read_file(Path(path))
    from_environment = _from_environment(environ)
    raw.update(from_environment)

    def label(name: str) -> str:
        """How a problem names a setting: by its environment variable when it came from there."""
        return ENV_PREFIX + name.upper() if name in from_environment else name

    return _validate(raw, label)


def redact_url(database: str) -> str:
    """A PostgreSQL URL without its password (`postgresql://user:***@host/db`, `password=***`)."""
    scheme, sep, rest = database.partition("://")
    if not sep:
        return database
    location, mark, query = rest.partition("?")
    if "@" in location:
        credentials, _, host = location.rpartition("@")
        user, colon, _password = credentials.partition(":")
        location = f"{user}:***@{host}" if colon else location
    if mark:
        query = "&".join(
            f"{part.partition('=')[0]}=***" if part.partition("=")[0].lower() == "password" else part
            for part in query.split("&")
        )
    return f"{scheme}://{location}{mark}{query}"


def scrub(text: str, database: str) -> str:
    """`text` (a driver's message about `database`) with the URL's password hidden: libpq quotes
    parts of a URL it cannot read, the password included."""
    for secret in sorted(_url_passwords(database), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def _url_passwords(database: str) -> set[str]:
    scheme, sep, rest = database.partition("://")
    if not sep:
        return set()
    location, _, query = rest.partition("?")
    found = []
    if "@" in location:
        credentials = location.rpartition("@")[0]
        if ":" in credentials:
            found.append(credentials.partition(":")[2])
    for part in query.split("&"):
        name, _, value = part.partition("=")
        if name.lower() == "password":
            found.append(value)
    return {form for raw in found if raw for form in (raw, unquote(raw)) if form}


def _read_file(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise SettingsError(f"Cannot read the settings file {path}: {error.strerror}.") from None
    except json.JSONDecodeError as error:
        raise SettingsError(
            f"The settings file {path} is not valid JSON (line {error.lineno}, column {error.colno})."
        ) from None
    if not isinstance(data, dict):
        raise SettingsError(f"The settings file {path} must hold a JSON object of settings.")
    known = {field.name for field in fields(Settings)} | set(FORWARD_SETTING_NAMES)
    unknown = sorted(set(data) - known)
    if unknown:
        raise SettingsError(
            f"Unknown setting(s) in {path}: {', '.join(unknown)}. Known: {', '.join(sorted(known))}."
        )
    return data


def _from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name in dict.fromkeys([*(field.name for field in fields(Settings)), *FORWARD_SETTING_NAMES]):
        value = environ.get(ENV_PREFIX + name.upper())
        if value is None:
            continue
        if name == "client_secrets":
            found[name] = [part.strip() for part in value.split(",") if part.strip()]
        else:
            found[name] = value
    return found


def _validate(raw: dict[str, Any], label: Label) -> Settings:
    secrets = raw.get("client_secrets")
    if isinstance(secrets, str):
        secrets = [secrets]
    if not isinstance(secrets, list) or not secrets or not all(isinstance(s, str) and s for s in secrets):
        raise SettingsError(
            f"{label('client_secrets')}: give the Client Secret of the Sentry integration (a list, "
            f"newest first while you rotate; environment: {ENV_PREFIX}CLIENT_SECRETS=secret1,secret2)."
        )
    database = raw.get("database")
    if not isinstance(database, str) or not database.strip():
        raise SettingsError(
            f"{label('database')}: give a file path for SQLite (e.g. /data/webhooks.sqlite3) or a "
            f"postgresql:// URL (environment: {ENV_PREFIX}DATABASE)."
        )
    token = raw.get("feed_token")
    if not isinstance(token, str) or len(token) < MIN_FEED_TOKEN_LENGTH:
        raise SettingsError(
            f"{label('feed_token')}: give a random string of at least {MIN_FEED_TOKEN_LENGTH} "
            "characters that readers of the feed send as a bearer token (environment: "
            f"{ENV_PREFIX}FEED_TOKEN)."
        )
    if token in secrets:
        raise SettingsError(
            f"{label('feed_token')}: must differ from every client secret (a reader must not hold one)."
        )
    values: dict[str, Any] = {
        "client_secrets": tuple(secrets),
        "database": database.strip(),
        "feed_token": token,
    }
    listen = raw.get("listen", Settings.listen)
    if not isinstance(listen, str) or not _valid_listen(listen):
        raise SettingsError(f"{label('listen')}: give host:port, e.g. 0.0.0.0:8080 (got {listen!r}).")
    values["listen"] = listen
    for name, (low, high) in INTEGER_BOUNDS.items():
        if name in raw:
            try:
                values[name] = whole_number(label(name), raw[name], low, high)
            except NumberError as error:
                raise SettingsError(str(error)) from None
    level = str(raw.get("log_level", Settings.log_level)).lower()
    if level not in LOG_LEVELS:
        raise SettingsError(f"{label('log_level')}: one of {', '.join(LOG_LEVELS)} (got {level!r}).")
    values["log_level"] = level
    values["access_log"] = _yes_or_no(label("access_log"), raw.get("access_log", Settings.access_log))
    synchronous = str(raw.get("sqlite_synchronous", Settings.sqlite_synchronous)).lower()
    if synchronous not in SQLITE_SYNCHRONOUS:
        raise SettingsError(
            f"{label('sqlite_synchronous')}: full (a delivery answered 2xx survives a power loss) or normal "
            f"(it survives the process being killed, not a power loss) (got {synchronous!r})."
        )
    values["sqlite_synchronous"] = synchronous
    try:
        values["forward"] = read_forward_settings(raw, values["client_secrets"], label)
    except ForwardConfigError as error:
        raise SettingsError(str(error)) from None
    return Settings(**values)


YES = ("true", "yes", "on", "1")
NO = ("false", "no", "off", "0")


def _yes_or_no(name: str, value: Any) -> bool:
    """A JSON boolean, or from the environment one of true/false, yes/no, on/off, 1/0."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in YES:
        return True
    if text in NO:
        return False
    raise SettingsError(f"{name}: true or false (got {value!r}).")


def _valid_listen(listen: str) -> bool:
    host, sep, port = listen.rpartition(":")
    return bool(sep and host and port.isdigit() and 0 < int(port) < 65536)
