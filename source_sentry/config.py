"""The connector's config: how it is read, checked against the spec, and resolved.

Where Sentry is (the ``hostname`` grammar), who we are to it (the token, an organization
token's embedded claims), and which projects are in scope. Shared by the connector and by
``source-sentry notify``: only the standard library here, ``yaml`` and ``jsonschema`` are
imported when the spec is checked.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from pathlib import Path  # in annotations only: the notifier never needs pathlib

DEFAULT_HOSTNAME = "sentry.io"

READ_SCOPES = ("org:read", "project:read", "event:read")
# GlitchTip lists releases only to a token with project:releases (Sentry: project:read).
GLITCHTIP_READ_SCOPES = (*READ_SCOPES, "project:releases")
NOTIFY_SCOPES = ("project:releases", "project:write", "org:ci")

# One regex, usable both here and as the connector spec's JSON-schema ``pattern``
# (ECMA-compatible: no lookbehind, no inline flags). Accepted:
#   bare host or IP            sentry.io, de.sentry.io, 10.0.0.5, [::1]
#   host with a port           sentry.internal:9000
#   http(s) URL, optional path http://127.0.0.1:9000, https://sentry.example.com/sentry/
# with surrounding whitespace and trailing slashes allowed. No user info, query or fragment.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_HOST = rf"(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9A-Fa-f:.]+\])"
_PORT = r"(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
_SEGMENT = r"[A-Za-z0-9._~%!$&'()*+,;=:@-]+"
_SCHEME = r"[Hh][Tt][Tt][Pp][Ss]?"
HOSTNAME_PATTERN = (
    rf"^\s*(?:(?:({_SCHEME})://({_HOST})(?::({_PORT}))?((?:/{_SEGMENT})*)/*)"
    rf"|(?:({_HOST})(?::({_PORT}))?/*))\s*$"
)
_HOSTNAME_RE = re.compile(HOSTNAME_PATTERN)

_ACCEPTED_FORMS = (
    "a host name (sentry.io, de.sentry.io), a host and port (sentry.internal:9000), "
    "or a base URL with http or https and an optional path (http://127.0.0.1:9000, "
    "https://sentry.example.com/sentry)"
)


class ConfigError(Exception):
    """A problem the person running us can fix; the message says what to change.

    ``status`` is the HTTP status Sentry answered with, or None when the problem was found
    before anything was sent.
    """

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def base_api_url(hostname: str) -> str:
    """The ``.../api/0`` base for the ``hostname`` setting (no trailing slash)."""
    if not isinstance(hostname, str):
        raise ConfigError(f"hostname must be text: {_ACCEPTED_FORMS}.")
    match = _HOSTNAME_RE.search(hostname)
    if not match:
        shown = _without_secrets(hostname.strip())[:80] or "(empty)"
        raise ConfigError(f"hostname {shown!r} is not usable: give {_ACCEPTED_FORMS}.")
    scheme, url_host, url_port, path, bare_host, bare_port = match.groups()
    host, port = (url_host, url_port) if url_host else (bare_host, bare_port)
    path = (path or "").rstrip("/")
    if path.endswith("/api/0"):
        path = path[: -len("/api/0")]
    netloc = f"{host}:{port}" if port else host
    return f"{(scheme or 'https').lower()}://{netloc}{path}/api/0"


def _without_secrets(url: str) -> str:
    """``url`` with what may hold a password or a token (user info, query, fragment) masked."""
    url = re.sub(r"^([^/?#]*//)?[^/?#]*@", lambda m: f"{m.group(1) or ''}***@", url)
    return re.sub(r"[?#].*", "?***", url, flags=re.S)


def site_url(base_url: str) -> str:
    """Where Sentry is, as messages name it: the base URL without ``/api/0`` (scheme, host, port
    and path prefix: a wrong prefix or scheme is as likely the mistake as the host)."""
    return base_url.rstrip("/").removesuffix("/api/0")


def project_slugs(config: Mapping[str, Any]) -> list[str]:
    """Configured project slugs (``projects`` then ``project``), de-duplicated, in order."""
    found: list[str] = []
    for key in ("projects", "project"):
        value = config.get(key)
        if value is None:
            continue
        items = split_slugs(value) if isinstance(value, str) else list(value)
        for item in items:
            slug = str(item).strip()
            if slug and slug not in found:
                found.append(slug)
    return found


def split_slugs(text: str) -> list[str]:
    """Project slugs written in one string, separated by commas or white space."""
    return [slug for slug in re.split(r"[\s,]+", text) if slug]


def org_token_claims(token: str) -> dict[str, str]:
    """``url``, ``region_url`` and ``org`` embedded in an ``sntrys_`` organization token."""
    if not token.startswith("sntrys_"):
        return {}
    body = token[len("sntrys_") :]
    # The secret follows the last "_" but the payload may itself use url-safe base64: try each split.
    candidates = [body[:i] for i in range(len(body), 0, -1) if i == len(body) or body[i] == "_"]
    for candidate in candidates:
        claims = _decode_claims(candidate)
        if claims is not None:
            return {
                k: v for k, v in claims.items() if k in ("url", "region_url", "org") and isinstance(v, str)
            }
    return {}


def _decode_claims(text: str) -> dict[str, Any] | None:
    padded = text + "=" * (-len(text) % 4)
    for decode in (base64.b64decode, base64.urlsafe_b64decode):
        try:
            value = json.loads(decode(padded.encode("ascii")))
        except (binascii.Error, ValueError, UnicodeError):
            continue
        if isinstance(value, dict):
            return value
    return None


def scrub_token(text: str, token: str) -> str:
    """``text`` with every copy of the token replaced: the last line of defence for a message
    printed whatever produced it. Tokens shorter than 4 characters are not real ones, and
    replacing them would garble the text."""
    return text.replace(token, "[token]") if len(token) >= 4 else text


# A NamedTuple, not a dataclass: dataclasses (and the inspect module it loads) add measurably to
# `notify`'s start-up (docs/benchmarks.md, "Figures behind the code"); immutable all the same.
class Settings(NamedTuple):
    """Resolved connection settings; the token is kept out of ``repr``."""

    base_url: str
    organization: str
    projects: tuple[str, ...]
    token: str
    server: str = "sentry"  # or "glitchtip"

    def __repr__(self) -> str:
        return (
            f"Settings(base_url={self.base_url!r}, organization={self.organization!r}, "
            f"projects={self.projects!r}, server={self.server!r})"
        )

    @property
    def read_scopes(self) -> tuple[str, ...]:
        """The scopes a token needs to sync from this server."""
        return GLITCHTIP_READ_SCOPES if self.server == "glitchtip" else READ_SCOPES


def resolve_settings(config: Mapping[str, Any]) -> Settings:
    """Token, base URL, organization and projects from a config, with org-token defaults."""
    token = str(config.get("auth_token") or "").strip()
    if not token:
        raise ConfigError(
            "auth_token is empty: create a token in Sentry (Settings > Auth Tokens) and set it."
        )
    claims = org_token_claims(token)
    hostname = str(config.get("hostname") or "").strip() or claims.get("region_url") or claims.get("url")
    organization = str(config.get("organization") or "").strip() or claims.get("org", "")
    if not organization:
        raise ConfigError("organization is empty: set it to your organization's slug (as in its Sentry URL).")
    return Settings(
        base_url=base_api_url(hostname or DEFAULT_HOSTNAME),
        organization=organization,
        projects=tuple(project_slugs(config)),
        token=token,
        server="glitchtip" if config.get("server") == "glitchtip" else "sentry",
    )


def config_problem(config: Mapping[str, Any]) -> str | None:
    """What stops this config before any request, in words that quote no config value: an
    unusable `hostname` (the spec's pattern would only show a raw regular expression), else the
    ways it breaks the spec. The CDK checks the spec only after the source is built, and building
    it evaluates settings such as `num_workers`: a wrong type would end in a stack trace."""
    if "hostname" in config:
        try:
            base_api_url(str(config["hostname"]))
        except ConfigError as error:
            return f"`hostname` is not usable: {error}"
    problems = config_problems(config)
    return f"The config does not fit the connector's spec: {'; '.join(problems)}." if problems else None


def config_problems(config: Mapping[str, Any], spec: Mapping[str, Any] | None = None) -> list[str]:
    """The ways `config` breaks the connector's spec, described without any value from the config:
    jsonschema's own messages quote the offending value, or the whole config for a missing
    field, and that would print the token."""
    import jsonschema

    from source_sentry.manifest import connection_specification

    spec = spec or connection_specification()
    problems: list[str] = []
    validator = jsonschema.validators.validator_for(spec)(spec)
    for error in sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path))):
        name = ".".join(map(str, error.absolute_path)) or "(top level)"
        rule = error.validator
        required, instance = error.validator_value, error.instance
        if rule == "required" and isinstance(required, list) and isinstance(instance, Mapping):
            missing = [key for key in required if key not in instance]
            problems.extend(f"`{key}` is missing (it is required)" for key in missing)
            continue
        schema = error.schema if isinstance(error.schema, dict) else {}
        if rule == "type":
            what = f"must be of type {error.validator_value}"
        elif rule == "pattern":
            examples = schema.get("pattern_descriptor") or ", ".join(map(str, schema.get("examples", [])))
            what = "is not in the expected form" + (f" (for example {examples})" if examples else "")
        elif rule in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            what = f"is out of range ({rule} {error.validator_value})"
        elif rule == "enum":
            what = f"must be one of {error.validator_value}"
        else:
            what = f"breaks the rule `{rule}`"
        problems.append(f"`{name}` {what}")
    return problems


class JsonFileError(ValueError):
    """A JSON input file that cannot be used. ``problem`` completes "the file <path> ...", quoting
    nothing of the file's content (a config file holds the token)."""

    def __init__(self, path: str | Path, what: str, problem: str, *, missing: bool = False) -> None:
        super().__init__(f"the {what} file {path} {problem}")
        self.path = str(path)
        self.problem = problem
        self.missing = missing


def read_json_file(path: str | Path, what: str = "config") -> Any:
    """The decoded content of a JSON file (``what`` names it in errors: config, state)."""
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except FileNotFoundError:
        raise JsonFileError(path, what, "does not exist", missing=True) from None
    except IsADirectoryError:
        raise JsonFileError(path, what, "is a directory, not a file") from None
    except PermissionError:
        raise JsonFileError(path, what, "cannot be read (permission denied)") from None
    except UnicodeDecodeError:
        raise JsonFileError(path, what, "is not UTF-8 text") from None
    except OSError as error:
        raise JsonFileError(path, what, f"cannot be read ({error.strerror})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        # error.msg names the problem, never the content.
        problem = f"is not valid JSON (line {error.lineno} column {error.colno}: {error.msg})"
        raise JsonFileError(path, what, problem) from None


def read_json_object(path: str | Path, what: str = "config") -> dict[str, Any]:
    """A JSON file that must hold one object, as a config file does."""
    data = read_json_file(path, what)
    if not isinstance(data, dict):
        raise JsonFileError(path, what, "must hold a JSON object")
    return data
