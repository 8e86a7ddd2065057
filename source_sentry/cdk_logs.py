"""What the CDK logs, said the way an Airbyte user needs to read it.

Five gaps, one module:

- Rate-limit waits. The CDK paces requests with the manifest's `api_budget` but reports each
  wait only at DEBUG, which Airbyte never shows, and it words every header-driven retry as
  "Rate limit exceeded", a 502 included. Airbyte users read the log to learn why a sync is
  slow, so our command (not the Cloud manifest, which cannot run Python) swaps the two CDK
  module loggers for one that rewrites exactly those messages and passes everything else
  through unchanged. Those messages are the CDK's text: parsing them is the only way in.
- Projects skipped for a 403. Each skip is logged by the CDK at INFO as it happens, among
  thousands of lines, in the words of the manifest's `forbidden_project` filter; a token that
  lacks event:read skips every project and the sync would otherwise end without a word. The
  skip lines are recognised from that filter's own template, read from the manifest, and the
  sync ends with one warning that lists every skipped project.
- A retry said twice. The `backoff` library echoes each retry of the CDK's own backoff next to
  the CDK's line; the echo is dropped.
- Optional streams skipped for a 403 (a scope the token lacks) or a 404 (a server without the
  endpoint). The CDK logs each skipped request at INFO, once per request (per project, per
  release), in the words of the manifest's `lacking_scope` and `missing_endpoint` filters. Each
  such stream gets one warning instead, naming the stream and the scope it needs (or the missing
  endpoint); the stream comes from the name of the CDK logger that logged the skip.
- A false alarm. The issues stream crosses its project partitions with the status period
  (`issue_status_refresh_hours`); the CDK warns at every start that it cannot keep a parent
  stream's state through such a product. Our parent (the project list) keeps no state, so the
  warning says nothing true; it is dropped.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import cache
from typing import Any
from urllib.parse import urlsplit

# airbyte_cdk/sources/streams/call_rate.py, APIBudget._do_acquire
_BUDGET_WAIT = re.compile(
    r"^Policy .* reached call limit for endpoint (?P<endpoint>\S+) .*Sleeping for "
    r"(?:(?P<days>\d+) days?, )?(?P<h>\d+):(?P<m>\d{2}):(?P<s>\d{2}(?:\.\d+)?)"
    r" on attempt (?P<attempt>\d+)\.$",
    re.DOTALL,
)
# airbyte_cdk/sources/streams/http/rate_limiting.py, user_defined_backoff_handler
_HEADER_RETRY = re.compile(
    r"^UserDefinedBackoffException: Rate limit exceeded(?: \(HTTP (?P<status>\d{3})\))?\. "
    r"Retrying in (?P<seconds>[0-9.]+) seconds\.$"
)

# airbyte_cdk/sources/streams/http/rate_limiting.py, the default and rate-limit backoff handlers:
# a retry no strategy gave a wait for (a 5xx, a concurrency 429, a lost connection).
_DEFAULT_RETRY = re.compile(
    r"^Caught retryable error '(?P<error>.*)' after (?P<tries>\d+) tries\. "
    r"Waiting (?P<seconds>[0-9.]+) seconds then retrying\.\.\.$",
    re.DOTALL,
)


def budget_wait_message(message: str) -> str | None:
    """Our wording for the CDK's "reached call limit ... Sleeping for" debug line, or None."""
    match = _BUDGET_WAIT.match(message)
    if not match:
        return None
    wait = timedelta(
        days=int(match["days"] or 0),
        hours=int(match["h"]),
        minutes=int(match["m"]),
        seconds=float(match["s"]),
    )
    return (
        f"Rate limit: Sentry's current window for {_path(match['endpoint'])} has no requests left "
        f"(X-Sentry-Rate-Limit-Remaining); waiting {_seconds(wait.total_seconds())} for it to reset "
        f"before the next request."
    )


def header_retry_message(message: str) -> str | None:
    """Our wording for the CDK's "Rate limit exceeded ... Retrying in" line, or None."""
    match = _HEADER_RETRY.match(message)
    if not match:
        return None
    seconds = _seconds(float(match["seconds"]))
    status = match["status"]
    if status == "429" or status is None:
        return (
            f"Rate limit: Sentry answered HTTP 429 (too many requests); waiting {seconds}, until the "
            f"time its Retry-After or X-Sentry-Rate-Limit-Reset header gives, then retrying."
        )
    return f"Sentry answered HTTP {status}; retrying in {seconds}, with longer waits after each failure."


def default_retry_message(message: str, status: int | None) -> str | None:
    """Our wording for the CDK's "Caught retryable error ... Waiting" line, or None. `status` is
    that of the answer being retried (None for a lost connection)."""
    match = _DEFAULT_RETRY.match(message)
    if not match:
        return None
    seconds = _seconds(float(match["seconds"]))
    if status == 429:
        return (
            f"Rate limit: Sentry answered HTTP 429 (too many requests). {match['error']} Waiting {seconds}."
        )
    what = f"Sentry answered HTTP {status}" if status else f"The request failed ({match['error']})"
    return f"{what}; retrying in {seconds}, with longer waits after each failure."


def _status_being_retried() -> int | None:
    """The status of the answer whose retry is being logged: the CDK logs it while handling the
    exception that carries that answer."""
    error = sys.exc_info()[1]
    response = getattr(error, "response", None)
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def _path(endpoint: str) -> str:
    try:
        return urlsplit(endpoint).path or endpoint
    except ValueError:
        return endpoint


def _seconds(value: float) -> str:
    return f"{value:.1f} s" if value < 120 else f"{value / 60:.1f} min"


class _PacingLogger:
    """Stands in for a CDK module's logger; only the wait messages are reworded."""

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger

    def debug(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        reworded = budget_wait_message(msg) if isinstance(msg, str) and msg.startswith("Policy ") else None
        if reworded:
            self._logger.info(reworded)
        else:
            self._logger.debug(msg, *args, **kwargs)

    def info(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        reworded = None
        if isinstance(msg, str):
            reworded = header_retry_message(msg) or default_retry_message(msg, _status_being_retried())
        self._logger.info(reworded or msg, *([] if reworded else args), **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._logger, name)


def install_rate_limit_wording() -> None:
    """Reword the CDK's rate-limit wait messages for this process (idempotent)."""
    from airbyte_cdk.sources.streams import call_rate
    from airbyte_cdk.sources.streams.http import rate_limiting

    for module in (call_rate, rate_limiting):
        # Each module looks up its global `logger` at call time: replacing it is the way in.
        names = vars(module)
        if not isinstance(names["logger"], _PacingLogger):
            names["logger"] = _PacingLogger(names["logger"])


# airbyte_cdk/sources/declarative/partition_routers/cartesian_product_stream_slicer.py
PARENT_STATE_NOTICE = "Parent state handling is not supported for CartesianProductStreamSlicer."
CARTESIAN_LOGGER = "airbyte.CartesianProductStreamSlicer"


class _DropParentStateNotice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != PARENT_STATE_NOTICE


# The `backoff` library logs each retry of the CDK's own backoff ("Backing off _send(...) for
# 1.0s (...)") beside the CDK's line, which is reworded above: one line per retry is enough.
BACKOFF_LOGGER = "backoff"


class _DropBackoffEcho(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Backing off ")


def install() -> None:
    """Every rewording of this module, for this process (idempotent)."""
    install_rate_limit_wording()
    install_stream_skip_warnings()
    cartesian = logging.getLogger(CARTESIAN_LOGGER)
    if not any(isinstance(f, _DropParentStateNotice) for f in cartesian.filters):
        cartesian.addFilter(_DropParentStateNotice())
    backoff = logging.getLogger(BACKOFF_LOGGER)
    if not any(isinstance(f, _DropBackoffEcho) for f in backoff.filters):
        backoff.addFilter(_DropBackoffEcho())


# ------------------------------------------------------------------------------ 403 skips
SKIP_FILTER = "forbidden_project"
URL_PLACEHOLDER = "{{ request_url }}"


@cache
def skip_message_template() -> tuple[str, str]:
    """The text before and after the URL in the manifest's message for a skipped project."""
    from source_sentry.manifest import shared_manifest

    template = shared_manifest()["definitions"]["filters"][SKIP_FILTER]["error_message"]
    before, _, after = template.partition(URL_PLACEHOLDER)
    return before, after


def skipped_project(message: str) -> tuple[str, str] | None:
    """``(slug, endpoint)`` of a project skipped for a 403, from the CDK's log line of it."""
    before, after = skip_message_template()
    if not (message.startswith(before) and message.endswith(after)):
        return None
    url = message[len(before) : len(message) - len(after)]
    segments = urlsplit(url).path.split("/")
    if "projects" not in segments:
        return None
    _org, slug, endpoint = (segments[segments.index("projects") + 1 :] + ["", "", ""])[:3]
    if not slug:
        return None
    return slug, endpoint or "project_detail"


def skipped_summary(skipped: dict[str, set[str]]) -> str:
    projects = ", ".join(f"{slug} ({', '.join(sorted(kinds))})" for slug, kinds in sorted(skipped.items()))
    return (
        f"{len(skipped)} project(s) were skipped because Sentry answered 403, the auth token may not "
        f"read them: {projects}. Give the token's user access to them, or leave them out of "
        f"`projects`. If this is every project, the token lacks a scope: reading needs org:read, "
        f"project:read and event:read."
    )


class SkipTally(logging.Handler):
    """Gathers the projects skipped for a 403, by slug, from the CDK's log; prints nothing."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.skipped: dict[str, set[str]] = {}

    def emit(self, record: logging.LogRecord) -> None:
        found = skipped_project(record.getMessage())
        if found:
            slug, endpoint = found
            self.skipped.setdefault(slug, set()).add(endpoint)


@contextmanager
def skipped_projects_warning(logger: logging.Logger) -> Iterator[SkipTally]:
    """While inside, tally the skipped projects; after a sync that ends normally, one warning
    names them all."""
    tally = SkipTally()
    logger.addHandler(tally)
    try:
        yield tally
    finally:
        logger.removeHandler(tally)
    if tally.skipped:
        logger.warning(skipped_summary(tally.skipped))


# ------------------------------------------------------------------ optional streams skipped
SCOPE_FILTER = "lacking_scope"
ENDPOINT_FILTER = "missing_endpoint"
UNSERVED_FILTER = "unserved_endpoint"
UNSERVED = 0  # the status `skipped_request` gives an unserved_endpoint skip (405, 410, a web page)
# airbyte_cdk/sources/declarative/requesters/http_requester.py, HttpRequester.logger
REQUESTER_LOGGER = "airbyte.HttpRequester."


@cache
def optional_stream_scopes() -> dict[str, str]:
    """The optional streams (those the manifest gives a `$parameters.scope`) and their scopes."""
    from source_sentry.manifest import shared_manifest, stream_names

    streams = shared_manifest()["definitions"]["streams"]
    return {
        name: str(streams[name]["$parameters"]["scope"])
        for name in stream_names()
        if "scope" in streams[name].get("$parameters", {})
    }


@cache
def _skip_template(filter_name: str) -> tuple[str, str]:
    """The fixed text before the URL in a filter's message, and the fixed text right after it."""
    from source_sentry.manifest import shared_manifest

    template = shared_manifest()["definitions"]["filters"][filter_name]["error_message"]
    before, _, after = template.partition(URL_PLACEHOLDER)
    return before, after.split("{{", 1)[0]


def skipped_request(message: str) -> tuple[int, str] | None:
    """``(status, url)`` of a request an optional stream skipped (403, 404, or UNSERVED for a 405,
    410 or web page), from its log line."""
    for status, name in ((403, SCOPE_FILTER), (404, ENDPOINT_FILTER), (UNSERVED, UNSERVED_FILTER)):
        before, after = _skip_template(name)
        end = message.find(after, len(before)) if message.startswith(before) else -1
        if end > len(before):
            return status, message[len(before) : end]
    return None


def stream_skipped_message(stream: str, scope: str, status: int, url: str) -> str:
    path = _path(url)
    if status == 403:
        return (
            f"Stream `{stream}` skipped: the auth token lacks the scope {scope} (Sentry answered 403 for "
            f"{path}). The other streams sync; give the token {scope} to read this one."
        )
    if status == UNSERVED:
        return (
            f"Stream `{stream}` skipped: this server does not serve {path} as an API (it answered a web "
            f"page, a 405 or a 410 where Sentry answers JSON), so the stream was not asked again this "
            f"sync. The other streams sync."
        )
    return (
        f"Stream `{stream}` skipped: this server does not have {path} (404); older Sentry versions "
        f"and GlitchTip lack some endpoints. The other streams sync."
    )


class _StreamSkips(logging.Filter):
    """On an optional stream's requester logger: turns the CDK's INFO line per skipped request into
    one warning for the stream, and drops the rest."""

    def __init__(self, stream: str, scope: str, out: logging.Logger) -> None:
        super().__init__()
        self.stream, self.scope, self.out = stream, scope, out
        self.warned = False
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        found = skipped_request(record.getMessage())
        if found is None:
            return True
        with self._lock:
            first, self.warned = not self.warned, True
        if first:
            self.out.warning(stream_skipped_message(self.stream, self.scope, *found))
        return False


def install_stream_skip_warnings(out: logging.Logger | None = None) -> None:
    """One warning per optional stream skipped for a 403 or 404, for this process (idempotent)."""
    for stream, scope in optional_stream_scopes().items():
        logger = logging.getLogger(REQUESTER_LOGGER + stream)
        for old in [f for f in logger.filters if isinstance(f, _StreamSkips)]:
            logger.removeFilter(old)
        logger.addFilter(_StreamSkips(stream, scope, out or logging.getLogger("airbyte")))
