"""Endpoints an optional stream found unserved in this sync, so that its later partitions (other
releases, projects, days) are not asked again.

Only an answer the manifest's optional error handlers ignore comes back to the requester with
these statuses (a core stream fails on them): a web page where JSON belongs, a 405 or a 410 say
the server does not serve the stream at all; a 404 says only that path is missing (a day of
`sessions` asks the same path again, a release deleted meanwhile does not stop the others). An
optional stream's first request goes alone, so that its partitions running side by side do not
all ask before the first answer is known. The Cloud manifest cannot remember across partitions:
there each partition costs one request, never a retry.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import cache
from urllib.parse import urlsplit

import requests

WHOLE_STREAM = ""
_lock = threading.Lock()
_unserved: set[tuple[str, str]] = set()
_first: dict[str, threading.Lock] = {}  # per optional stream, held while its first request runs
_answered: set[str] = set()

Send = Callable[[], "requests.Response | None"]


@cache
def _optional_streams() -> frozenset[str]:
    from source_sentry.cdk_logs import optional_stream_scopes

    return frozenset(optional_stream_scopes())


def send(stream: str, url: str, request: Send) -> requests.Response | None:
    """`request()`'s answer, or None without a request when this sync knows the server does not
    serve `stream` at `url`."""
    if stream not in _optional_streams():
        return request()
    with _lock:
        first = _first.setdefault(stream, threading.Lock())
    with first:
        if skipped(stream, url):
            return None
        if stream not in _answered:
            try:
                response = request()
            finally:
                with _lock:
                    _answered.add(stream)
            note(stream, url, response)
            return response
    response = request()
    note(stream, url, response)
    return response


def skipped(stream: str, url: str) -> bool:
    """Whether this sync already knows that `stream` cannot be read at `url`."""
    with _lock:
        return (stream, WHOLE_STREAM) in _unserved or (stream, urlsplit(url).path) in _unserved


def note(stream: str, url: str, response: requests.Response | None) -> None:
    """Remember an answer that says the server does not serve `stream` (or that path of it)."""
    if response is None:
        return
    web_page = "text/html" in (response.headers.get("Content-Type") or "")
    if web_page or response.status_code in (405, 410):
        key = (stream, WHOLE_STREAM)
    elif response.status_code == 404:
        key = (stream, urlsplit(url).path)
    else:
        return
    with _lock:
        _unserved.add(key)


def forget() -> None:
    """A new sync starts knowing nothing (tests run several in one process)."""
    with _lock:
        _unserved.clear()
        _first.clear()
        _answered.clear()
