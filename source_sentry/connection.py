"""Where Sentry is, who we are to it, and one careful way to talk to it.

Shared by the connector's ``check`` and by ``source-sentry notify``. It imports only the
standard library and ``requests`` so that the notifier starts without the Airbyte CDK.

The HTTP rules (``SentryApi.request``):

- 429: Sentry's Web API sends no ``Retry-After``; ``X-Sentry-Rate-Limit-Reset`` is the
  Unix time the window restarts, so we sleep until then (``Retry-After`` wins when a proxy
  sends one), never longer than ``max_wait`` seconds, a bounded number of times.
- 502/503/504, read timeouts and dropped connections are retried with exponential
  backoff, a bounded number of times, when the request is safe to repeat.
- A connection that cannot even be opened is retried once, briefly: an unreachable host
  must fail in seconds, not minutes.
- 500 is a server bug, not a blip: it is not retried.
- Requests that are not safe to repeat (``idempotent=False``) are never re-sent after a
  failure that may have reached the server; ``OutcomeUnknown`` is raised instead so the
  caller can look before it writes again.

The auth token never appears in an exception, a message or a ``repr``.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import html
import json
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

import requests

DEFAULT_HOSTNAME = "sentry.io"

READ_SCOPES = ("org:read", "project:read", "event:read")
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


class SentryUnavailable(Exception):
    """Sentry could not be reached, or kept failing (5xx), after bounded retries."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class OutcomeUnknown(SentryUnavailable):
    """A request that is not safe to repeat may or may not have reached Sentry."""


class SentryError(Exception):
    """Sentry answered with an error the caller did not expect (e.g. 400, 500)."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


def base_api_url(hostname: str) -> str:
    """The ``.../api/0`` base for the ``hostname`` setting (no trailing slash)."""
    if not isinstance(hostname, str):
        raise ConfigError(f"hostname must be text: {_ACCEPTED_FORMS}.")
    match = _HOSTNAME_RE.search(hostname)
    if not match:
        shown = hostname.strip()[:80] or "(empty)"
        raise ConfigError(f"hostname {shown!r} is not usable: give {_ACCEPTED_FORMS}.")
    scheme, url_host, url_port, path, bare_host, bare_port = match.groups()
    host, port = (url_host, url_port) if url_host else (bare_host, bare_port)
    path = (path or "").rstrip("/")
    if path.endswith("/api/0"):
        path = path[: -len("/api/0")]
    netloc = f"{host}:{port}" if port else host
    return f"{(scheme or 'https').lower()}://{netloc}{path}/api/0"


def project_slugs(config: Mapping[str, Any]) -> list[str]:
    """Configured project slugs (``projects`` then ``project``), de-duplicated, in order."""
    found: list[str] = []
    for key in ("projects", "project"):
        value = config.get(key)
        if value is None:
            continue
        items = re.split(r"[\s,]+", value) if isinstance(value, str) else list(value)
        for item in items:
            slug = str(item).strip()
            if slug and slug not in found:
                found.append(slug)
    return found


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


@dataclass(frozen=True)
class Settings:
    """Resolved connection settings; the token is kept out of ``repr``."""

    base_url: str
    organization: str
    projects: tuple[str, ...]
    token: str = field(repr=False)


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
    )


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


def _clock() -> float:
    return time.time()


def _user_agent() -> str:
    from importlib import metadata

    try:
        version = metadata.version("source-sentry")
    except metadata.PackageNotFoundError:  # running from a checkout
        from source_sentry import __version__ as version
    return f"source-sentry/{version}"


def describe_error(response: requests.Response) -> str:
    """A short, readable reason from an error body that may be JSON or an HTML page.

    No final full stop, so callers can carry on the sentence.
    """
    text = response.text or ""
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if isinstance(body, str):
        return body.strip().rstrip(".")
    if isinstance(body, dict):
        parts = []
        for key, value in body.items():
            if key == "errorId":
                continue
            if isinstance(value, dict):
                value = value.get("message") or value.get("detail") or json.dumps(value)
            elif isinstance(value, list):
                value = " ".join(str(v) for v in value)
            value = str(value).strip().rstrip(".")
            parts.append(value if key == "detail" else f"{key}: {value}")
        message = "; ".join(parts) or "no details"
        if body.get("errorId"):
            message += f" (errorId {body['errorId']})"
        return message
    if isinstance(body, list):
        return "; ".join(str(v).rstrip(".") for v in body)
    title = re.search(r"<title[^>]*>(.*?)</title>", text, re.I | re.S)
    plain = title.group(1) if title else re.sub(r"<[^>]+>", " ", text)
    plain = " ".join(html.unescape(plain).split())
    return (plain[:200] + "...") if len(plain) > 200 else (plain or response.reason or "no details")


class SentryApi:
    """A requests session aimed at one Sentry base URL, with the retry rules above."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        session: requests.Session | None = None,
        timeout: float = 10,
        connect_timeout: float = 2,
        max_wait: float = 60,
        max_rate_limit_waits: int = 5,
        max_retries: int = 3,
        max_connect_retries: int = 1,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._session = session or requests.Session()
        self._timeout = (min(connect_timeout, timeout), timeout)
        self._max_wait = max_wait
        self._max_rate_limit_waits = max_rate_limit_waits
        self._max_retries = max_retries
        self._max_connect_retries = max_connect_retries
        self._sleep = sleep or _sleep
        self._clock = clock or _clock
        self._headers = {
            "Authorization": f"Bearer {token}",
            "User-Agent": _user_agent(),
            "Accept": "application/json",
        }

    def __repr__(self) -> str:
        return f"SentryApi({self.base_url!r})"

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).netloc

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def pause(self, seconds: float) -> None:
        self._sleep(seconds)

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based) after a 5xx or a drop."""
        return float(min(2 ** (attempt - 1), 8))

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        idempotent: bool = True,
    ) -> requests.Response:
        """Send one request with bounded retries; return the response whatever its status
        (except 502/503/504 after the last retry, which raise ``SentryUnavailable``)."""
        url = self.url(path)
        rate_limit_waits = retries = connect_retries = 0
        while True:
            status: int | None = None
            try:
                response = self._session.request(
                    method, url, params=params, json=json_body, headers=self._headers, timeout=self._timeout
                )
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
                problem = _reason(exc)
                never_sent = isinstance(exc, requests.exceptions.ConnectTimeout) or _never_connected(exc)
            else:
                status = response.status_code
                if status == 429:
                    if rate_limit_waits >= self._max_rate_limit_waits:
                        raise SentryUnavailable(
                            f"Sentry kept rate-limiting {method} {path} (429): {describe_error(response)}",
                            status=429,
                        )
                    rate_limit_waits += 1
                    self._sleep(self.rate_limit_wait(response, rate_limit_waits))
                    continue
                if status not in (502, 503, 504):
                    return response
                problem, never_sent = f"answered {status}", False

            if never_sent:
                if connect_retries >= self._max_connect_retries:
                    raise SentryUnavailable(f"{self.host} {problem}.")
                connect_retries += 1
                self._sleep(0.5)
            elif not idempotent:
                raise OutcomeUnknown(
                    f"{method} {path}: {self.host} {problem}; it may have been recorded.", status=status
                )
            elif retries >= self._max_retries:
                raise SentryUnavailable(
                    f"{self.host} {problem} ({method} {path}, {retries + 1} tries).", status=status
                )
            else:
                retries += 1
                self._sleep(self.backoff(retries))

    def rate_limit_wait(self, response: requests.Response, attempt: int) -> float:
        """How long a 429 asks us to wait, capped at ``max_wait``."""
        wait: float | None = None
        retry_after = response.headers.get("Retry-After")
        reset = response.headers.get("X-Sentry-Rate-Limit-Reset")
        if retry_after:
            try:
                wait = float(retry_after)
            except ValueError:
                try:
                    wait = email.utils.parsedate_to_datetime(retry_after).timestamp() - self._clock()
                except (TypeError, ValueError):
                    wait = None
        if wait is None and reset:
            try:
                wait = float(reset) - self._clock()
            except ValueError:
                wait = None
        if wait is None:
            wait = self.backoff(attempt)
        # A reset already in the past (clock skew) still deserves a short pause.
        return min(self._max_wait, wait if wait > 0 else 1.0)

    def get_json(
        self, path: str, params: Mapping[str, Any] | None = None
    ) -> tuple[int, Any, requests.Response]:
        response = self.request("GET", path, params=params)
        try:
            body = response.json()
        except ValueError:
            body = None
        return response.status_code, body, response

    def paginate(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        on_error: Callable[[requests.Response], None] | None = None,
        max_pages: int = 1000,
    ) -> Iterator[Any]:
        """Items of every page of a list, following the ``next`` cursor of the Link header.

        A non-200 page goes to ``on_error`` (which should raise), else raises ``SentryError``.
        """
        query = dict(params or {})
        for _ in range(max_pages):
            response = self.request("GET", path, params=query)
            if response.status_code != 200:
                (on_error or (lambda r: raise_for_status(r, f"GET {path}")))(response)
                raise_for_status(response, f"GET {path}")
            try:
                items = response.json()
            except ValueError:
                items = None
            if not isinstance(items, list):
                raise SentryError(f"GET {path}: Sentry answered 200 without a JSON list", status=200)
            yield from items
            following = response.links.get("next", {})
            if following.get("results") != "true" or not following.get("cursor"):
                return
            query["cursor"] = following["cursor"]


def raise_for_status(response: requests.Response, what: str) -> None:
    """Raise ``SentryError`` (4xx/5xx) with the body's reason; return for 2xx."""
    if response.status_code < 400:
        return
    raise SentryError(
        f"{what}: Sentry answered {response.status_code}: {describe_error(response)}",
        status=response.status_code,
    )


def _never_connected(exc: Exception) -> bool:
    # Connection refused or a failed DNS look-up: nothing was sent, so a retry is harmless.
    cause = exc.args[0] if exc.args else None
    reason = getattr(cause, "reason", cause)
    name = type(reason).__name__
    return name in ("NewConnectionError", "NameResolutionError", "ConnectTimeoutError")


def _reason(exc: Exception) -> str:
    """The failure as a verb phrase: "<host> did not answer in time"."""
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return "did not answer in time"
    cause = exc.args[0] if exc.args else exc
    text = str(getattr(cause, "reason", cause))
    # urllib3 prefixes the connection object's repr ("HTTPSConnection(host=..., port=...): "): drop it.
    text = re.sub(r"^<?\w*Connection[^:]*\)>?: ", "", text)
    return f"could not be reached ({text})"


@dataclass(frozen=True)
class ConnectionInfo:
    """What the check learned: the organization and the projects in scope.

    ``projects`` holds ``(slug, id)``; the id is None when the token may not read the
    project (an organization token used to notify).
    """

    base_url: str
    organization: str
    projects: tuple[tuple[str, str | None], ...]


def check_connection(
    config: Mapping[str, Any],
    *,
    purpose: Literal["read", "notify"] = "read",
    session: requests.Session | None = None,
    timeout: float = 10,
    api: SentryApi | None = None,
) -> ConnectionInfo:
    """Prove the config can do ``purpose``; raise ``ConfigError`` saying what to fix.

    Raises ``SentryUnavailable`` when Sentry is unreachable or failing.
    """
    settings = resolve_settings(config)
    api = api or SentryApi(settings.base_url, settings.token, session=session, timeout=timeout)
    return _Checker(api, settings, purpose).run()


class _Checker:
    def __init__(self, api: SentryApi, settings: Settings, purpose: Literal["read", "notify"]) -> None:
        self.api = api
        self.settings = settings
        self.purpose = purpose
        self.org = settings.organization

    def run(self) -> ConnectionInfo:
        self._check_organization()
        if self.settings.projects:
            projects = tuple(self._check_project(slug) for slug in self.settings.projects)
        elif self.purpose == "read":
            projects = self._list_projects()
        else:
            projects = ()
        if self.purpose == "read" and projects:
            self._check_event_access(projects[0][0])
        # Reading needs it too: the releases list is the one org-level read that wants
        # project:read, which listing projects (org:read) does not prove.
        self._check_release_access()
        return ConnectionInfo(self.api.base_url, self.org, projects)

    def _needed_scopes(self) -> str:
        if self.purpose == "read":
            return "the scopes " + ", ".join(READ_SCOPES)
        return "the scope project:releases (or project:write, or org:ci as organization tokens have)"

    def _fail(self, response: requests.Response, what: str) -> None:
        status = response.status_code
        reason = describe_error(response)
        if status == 401:
            raise ConfigError(
                f"Sentry rejected the auth token (401): {reason}. Check auth_token: it may be mistyped, "
                f"revoked, or from another Sentry server than {self.api.host}.",
                status=401,
            )
        if status == 403:
            raise ConfigError(
                f"The auth token may not {what} (403): {reason}. Give the token {self._needed_scopes()}.",
                status=403,
            )
        raise_for_status(response, what)

    def _check_organization(self) -> None:
        path = f"organizations/{self.org}/"
        status, _, response = self.api.get_json(path)
        if status == 404:
            raise ConfigError(
                f"Organization {self.org!r} was not found on {self.api.host} (404): check organization "
                "(the slug in your Sentry URL) and hostname (EU organizations use de.sentry.io).",
                status=404,
            )
        if status == 403 and self.purpose == "notify":
            return  # organization tokens may lack org:read; the releases check below decides.
        if status != 200:
            self._fail(response, f"read organization {self.org!r}")

    def _check_project(self, slug: str) -> tuple[str, str | None]:
        status, body, response = self.api.get_json(f"projects/{self.org}/{slug}/")
        if status == 404:
            raise ConfigError(
                f"Project {slug!r} was not found in organization {self.org!r} (404): check the project "
                "slug (Project Settings > General) and that the token can see it.",
                status=404,
            )
        if status == 403 and self.purpose == "notify":
            return slug, None  # an org:ci token cannot read projects; the release POST validates them.
        if status != 200:
            self._fail(response, f"read project {slug!r}")
        return slug, str(body.get("id")) if isinstance(body, dict) and body.get("id") is not None else None

    def _list_projects(self) -> tuple[tuple[str, str | None], ...]:
        pages = self.api.paginate(
            f"organizations/{self.org}/projects/",
            {"per_page": 100},
            on_error=lambda response: self._fail(response, f"list the projects of {self.org!r}"),
        )
        return tuple((str(p["slug"]), str(p["id"])) for p in pages)

    def _check_event_access(self, slug: str) -> None:
        """event:read is only needed for events and issues: without this probe a token lacking it
        would pass the check and fail on the first sync."""
        status, _, response = self.api.get_json(f"projects/{self.org}/{slug}/events/", {"per_page": 1})
        if status != 200:
            self._fail(response, f"read the events of project {slug!r}")

    def _check_release_access(self) -> None:
        status, _, response = self.api.get_json(f"organizations/{self.org}/releases/", {"per_page": 1})
        if status == 404:
            raise ConfigError(
                f"Organization {self.org!r} was not found on {self.api.host} (404): check organization "
                "and hostname.",
                status=404,
            )
        if status != 200:
            self._fail(response, f"read the releases of {self.org!r}")
