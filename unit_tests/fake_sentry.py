"""A fake ``Transport`` for unit tests of what ``SentryApi`` sends: it records each request as it
would go on the wire (method, full URL with the query, headers, body bytes, timeouts) and answers
from what the test registered, in the manner of requests-mock (``fake.post(url, status_code=201,
json=...)``, a list of answers taken in turn, the last repeated). The transport itself is tested
over real loopback HTTP in unit_tests/test_transport.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from source_sentry.transport import Headers, Response, TransportError

# Failures to give as ``exc``: what the real transport raises for each.
READ_TIMEOUT = TransportError("did not answer in time", never_sent=False, timed_out=True)
NEVER_CONNECTED = TransportError("could not be reached ([Errno 111] Connection refused)", never_sent=True)
DROPPED = TransportError(
    "could not be reached (the connection dropped: Remote end closed connection without response)",
    never_sent=False,
)


class Unanswered(AssertionError):
    """A request the test registered no answer for."""


@dataclass
class SentRequest:
    method: str
    url: str
    headers: Headers
    body: bytes | None
    timeout: tuple[float, float]

    def json(self) -> Any:
        return json.loads(self.body or b"")

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def qs(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.url).query)


@dataclass
class _Route:
    method: str
    url: str
    answers: list[dict[str, Any]]
    taken: int = 0

    def matches(self, method: str, url: str) -> bool:
        want, got = urlsplit(self.url), urlsplit(url)
        if method != self.method or want._replace(query="") != got._replace(query=""):
            return False
        sent = parse_qs(got.query)
        return all(sent.get(k) == v for k, v in parse_qs(want.query).items())

    def next_answer(self) -> dict[str, Any]:
        answer = self.answers[min(self.taken, len(self.answers) - 1)]
        self.taken += 1
        return answer


@dataclass
class FakeSentry:
    """``strict``: a request nobody registered fails the test (``Unanswered``); otherwise it
    fails as an unreachable host would."""

    strict: bool = True
    request_history: list[SentRequest] = field(default_factory=list)
    _routes: list[_Route] = field(default_factory=list)

    def register(
        self, method: str, url: str, answers: list[dict[str, Any]] | None = None, **answer: Any
    ) -> None:
        self._routes.insert(0, _Route(method, url, answers or [answer]))  # the latest wins

    def get(self, url: str, answers: list[dict[str, Any]] | None = None, **answer: Any) -> None:
        self.register("GET", url, answers, **answer)

    def post(self, url: str, answers: list[dict[str, Any]] | None = None, **answer: Any) -> None:
        self.register("POST", url, answers, **answer)

    def put(self, url: str, answers: list[dict[str, Any]] | None = None, **answer: Any) -> None:
        self.register("PUT", url, answers, **answer)

    @property
    def call_count(self) -> int:
        return len(self.request_history)

    @property
    def last_request(self) -> SentRequest:
        return self.request_history[-1]

    def send(
        self,
        method: str,
        url: str,
        *,
        headers: Any,
        body: bytes | None = None,
        connect_timeout: float,
        read_timeout: float,
    ) -> Response:
        self.request_history.append(
            SentRequest(method, url, Headers(dict(headers)), body, (connect_timeout, read_timeout))
        )
        route = next((r for r in self._routes if r.matches(method, url)), None)
        if route is None:
            if self.strict:
                raise Unanswered(f"no answer registered for {method} {url}")
            raise TransportError("could not be reached (no answer registered in this test)", never_sent=True)
        return answer(route.next_answer(), url)

    def close(self) -> None:
        pass


def answer(spec: dict[str, Any], url: str = "") -> Response:
    """A ``Response`` from requests-mock style keywords: status_code, json, text, content,
    headers, reason, or exc (an exception to raise instead)."""
    if spec.get("exc") is not None:
        raise spec["exc"]
    headers = dict(spec.get("headers") or {})
    if "json" in spec:
        content = json.dumps(spec["json"]).encode()
        headers.setdefault("Content-Type", "application/json")
    elif "text" in spec:
        content = spec["text"].encode()
        headers.setdefault("Content-Type", "text/html; charset=utf-8")
    else:
        content = spec.get("content", b"")
    return Response(spec.get("status_code", 200), content, headers, reason=spec.get("reason", ""), url=url)


class ViaRequests:
    """A transport through ``requests``, for stream tests whose HttpMocker (requests-mock
    underneath) is to answer ``SentryApi`` as it answers the CDK."""

    def send(
        self,
        method: str,
        url: str,
        *,
        headers: Any,
        body: bytes | None = None,
        connect_timeout: float,
        read_timeout: float,
    ) -> Response:
        import requests

        try:
            got = requests.request(
                method, url, headers=dict(headers), data=body, timeout=(connect_timeout, read_timeout)
            )
        except requests.exceptions.Timeout:
            raise TransportError("did not answer in time", never_sent=False, timed_out=True) from None
        except requests.exceptions.RequestException as error:
            raise TransportError(f"could not be reached ({type(error).__name__})", never_sent=True) from None
        return Response(got.status_code, got.content, list(got.headers.items()), reason=got.reason, url=url)

    def connect(self, url: str, *, timeout: float) -> None:
        """HttpMocker answers requests, not connections: each opens."""

    def close(self) -> None:
        pass
