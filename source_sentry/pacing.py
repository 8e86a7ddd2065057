"""Say in the sync log when and why the connector waits for Sentry's rate limits.

The CDK paces requests with the manifest's `api_budget` but reports each wait only at DEBUG,
which Airbyte never shows, and it words every header-driven retry as "Rate limit exceeded",
a 502 included. Airbyte users read the log to learn why a sync is slow, so our command (not
the Cloud manifest, which cannot run Python) swaps the two CDK module loggers for one that
rewrites exactly those messages and passes everything else through unchanged.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
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


def _path(endpoint: str) -> str:
    try:
        return urlsplit(endpoint).path or endpoint
    except ValueError:
        return endpoint


def _seconds(value: float) -> str:
    return f"{value:.1f} s" if value < 120 else f"{value / 60:.1f} min"


class _PacingLogger:
    """Stands in for a CDK module's logger; only the two wait messages are reworded."""

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger

    def debug(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        reworded = budget_wait_message(msg) if isinstance(msg, str) and msg.startswith("Policy ") else None
        if reworded:
            self._logger.info(reworded)
        else:
            self._logger.debug(msg, *args, **kwargs)

    def info(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        reworded = header_retry_message(msg) if isinstance(msg, str) else None
        self._logger.info(reworded or msg, *([] if reworded else args), **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._logger, name)


def install() -> None:
    """Reword the CDK's rate-limit wait messages for this process (idempotent)."""
    from airbyte_cdk.sources.streams import call_rate
    from airbyte_cdk.sources.streams.http import rate_limiting

    for module in (call_rate, rate_limiting):
        if not isinstance(module.logger, _PacingLogger):
            module.logger = _PacingLogger(module.logger)
