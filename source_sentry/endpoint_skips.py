"""Endpoints an optional stream found unserved in this sync, so that its later partitions (other
releases, projects, days) are not asked again.

Only an answer the manifest's optional error handlers ignore comes back to the requester with
these statuses (a core stream fails on them): a web page where JSON belongs, a 405 or a 410 say
the server does not serve the stream at all; a 404 says only that path is missing (a day of
`sessions` asks the same path again, a release deleted meanwhile does not stop the others). The
Cloud manifest cannot remember across partitions: there each partition costs one request, never
a retry.
"""

from __future__ import annotations

import threading
from urllib.parse import urlsplit

import requests

WHOLE_STREAM = ""
_lock = threading.Lock()
_unserved: set[tuple[str, str]] = set()


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
