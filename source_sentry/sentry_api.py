"""One careful way to talk to Sentry: HTTP with bounded retries.

Shared by the connection check and by ``source-sentry notify``. It imports only the standard
library (HTTP goes through ``source_sentry.transport``: ``http.client`` with one kept-alive
connection per host, the CA bundle and proxy settings ``requests`` honoured) so that the
notifier starts without the Airbyte CDK or ``requests``.

The HTTP rules (``SentryApi.request``):

- 429: Sentry's Web API sends no ``Retry-After``; ``X-Sentry-Rate-Limit-Reset`` is the
  Unix time the window restarts, so we sleep until then (``Retry-After`` wins when a proxy
  sends one), never longer than ``max_wait`` seconds, a bounded number of times.
- Each request has a connect timeout (``connect_timeout``, TCP, proxy tunnel and TLS) and a
  read timeout (``timeout``, each wait for the server).
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

import json
import re
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit

from source_sentry import __version__
from source_sentry.config import site_url
from source_sentry.transport import Response, Transport, TransportError


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


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


def _clock() -> float:
    return time.time()


def _user_agent() -> str:
    # __version__, not the installed metadata: looking that up scans sys.path at every start.
    # unit_tests/test_connection.py keeps the two equal.
    return f"source-sentry/{__version__}"


class ErrorAnswer(Protocol):
    """What describe_error reads of an answer: ours (transport.Response) or requests' (the CDK's)."""

    @property
    def text(self) -> str: ...

    @property
    def reason(self) -> str: ...

    def json(self) -> Any: ...


def describe_error(response: ErrorAnswer) -> str:
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
    import html

    title = re.search(r"<title[^>]*>(.*?)</title>", text, re.I | re.S)
    plain = title.group(1) if title else re.sub(r"<[^>]+>", " ", text)
    plain = " ".join(html.unescape(plain).split())
    return (plain[:200] + "...") if len(plain) > 200 else (plain or response.reason or "no details")


class SentryApi:
    """HTTP aimed at one Sentry base URL, with the retry rules above. ``transport`` sends one
    request (tests give a fake one); by default a ``Transport`` reading proxy and CA settings
    from the environment."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        transport: Transport | None = None,
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
        self._transport = transport or default_transport()
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
        """Where Sentry is, for messages (see ``site_url``)."""
        return site_url(self.base_url)

    def url(self, path: str, params: Mapping[str, Any] | None = None) -> str:
        """The URL of ``path`` under the base URL, ``.`` and ``..`` segments resolved (the
        GlitchTip probe asks for ``../settings/``), with ``params`` added to the query (None
        values left out, lists repeated; a path may carry a query of its own, as the manifest's
        ``user-feedback/?status=`` does)."""
        url = _remove_dot_segments(f"{self.base_url}/{path.lstrip('/')}")
        query = {k: v for k, v in (params or {}).items() if v is not None}
        if not query:
            return url
        return f"{url}{'&' if '?' in url else '?'}{urlencode(query, doseq=True)}"

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
    ) -> Response:
        """Send one request with bounded retries; return the response whatever its status
        (except 502/503/504 after the last retry, which raise ``SentryUnavailable``)."""
        url = self.url(path, params)
        headers = self._headers
        body = None
        if json_body is not None:
            body = json.dumps(json_body, allow_nan=False).encode()
            headers = {**headers, "Content-Type": "application/json"}
        rate_limit_waits = retries = connect_retries = 0
        while True:
            status: int | None = None
            try:
                response = self._transport.send(
                    method,
                    url,
                    headers=headers,
                    body=body,
                    connect_timeout=self._timeout[0],
                    read_timeout=self._timeout[1],
                )
            except TransportError as exc:
                problem, never_sent = exc.reason, exc.never_sent
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

    def rate_limit_wait(self, response: Response, attempt: int) -> float:
        """How long a 429 asks us to wait, capped at ``max_wait``."""
        wait: float | None = None
        retry_after = response.headers.get("Retry-After")
        reset = response.headers.get("X-Sentry-Rate-Limit-Reset")
        if retry_after:
            try:
                wait = float(retry_after)
            except ValueError:
                import email.utils

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

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> tuple[int, Any, Response]:
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
        on_error: Callable[[Response], None] | None = None,
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


def raise_for_status(response: Response, what: str) -> None:
    """Raise ``SentryError`` (4xx/5xx) with the body's reason; return for 2xx."""
    if response.status_code < 400:
        return
    raise SentryError(
        f"{what}: Sentry answered {response.status_code}: {describe_error(response)}",
        status=response.status_code,
    )


def default_transport() -> Transport:
    """The transport of a ``SentryApi`` given none (unit tests replace it with a fake)."""
    return Transport()


def _remove_dot_segments(url: str) -> str:
    parts = urlsplit(url)
    if "/." not in parts.path:
        return url
    segments: list[str] = []
    for segment in parts.path.split("/")[1:]:
        if segment == "..":
            if segments:
                segments.pop()
        elif segment != ".":
            segments.append(segment)
    # A path ending in "/." or "/.." names a directory: keep the trailing slash.
    if parts.path.endswith(("/.", "/..")):
        segments.append("")
    path = "/" + "/".join(segments)
    return parts._replace(path=path).geturl()
