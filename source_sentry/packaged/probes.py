"""The part planner's probes (parts.py), sent as the stream's requester sends a page (same URL,
authentication, budget, retries and backoff: a 429 or a 5xx waits and is asked again as any page
is), except that a 400 comes back to the planner as its answer instead of failing the read.

Sentry's paginators answer 400 `{"detail": "Pagination offset too large"}` to an offset at or past
their limit, and some versions set that limit at or below the probe's offset (5,000): there the
planner reads the project's span as one part, as it was read before parts, and this module's one
line says so. Through the stream's own error handler the 400 would fail the read with an ERROR line
of the CDK's, and the planner could only tell it from the exception's wording.

Only the packaged connector plans, so only it sends probes; a page of the read still fails on a
400 as the manifest says.
"""

from __future__ import annotations

import copy
from typing import Final, TypeVar

import requests
from airbyte_cdk.sources.declarative.requesters.http_requester import HttpRequester
from airbyte_cdk.sources.streams.http.error_handlers import ErrorHandler
from airbyte_cdk.sources.streams.http.error_handlers.response_models import ErrorResolution, ResponseAction

from source_sentry.sentry_api import describe_error

# The status of a probe the server would not page to: the planner reads the span as one part.
REFUSED_OFFSET: Final = 400

Requester = TypeVar("Requester", bound=HttpRequester)


class ProbeErrors(ErrorHandler):
    """The stream's error handler, but for a 400, which is handed back to the planner with one
    INFO line (the CDK logs an ignored answer's message at INFO)."""

    def __init__(self, stream_errors: ErrorHandler) -> None:
        self._stream_errors = stream_errors

    @property
    def max_retries(self) -> int | None:
        return self._stream_errors.max_retries

    @property
    def max_time(self) -> int | None:
        return self._stream_errors.max_time

    def interpret_response(self, response: requests.Response | Exception | None) -> ErrorResolution:
        if isinstance(response, requests.Response) and response.status_code == REFUSED_OFFSET:
            return ErrorResolution(response_action=ResponseAction.IGNORE, error_message=refused(response))
        return self._stream_errors.interpret_response(response)


def refused(response: requests.Response) -> str:
    """What the log says of a probe answered 400."""
    return (
        f"Sentry answered {response.status_code} ({describe_error(response)}) to the probe {response.url}, "
        "which asks one record deep in the project's span to cut it in parts: this server does not "
        "page that deep, so the rest of the project's span is read as one part."
    )


def probing_copy(requester: Requester) -> Requester:
    """`requester` sending through a copy of its HTTP client (the same session, budget and backoff)
    whose error handler is `ProbeErrors` over the stream's. Upstream first: the CDK's requester
    takes no error handler per request; the day it does, this copy goes."""
    client = copy.copy(requester._http_client)
    client._error_handler = ProbeErrors(client._error_handler)
    probing = copy.copy(requester)
    probing._http_client = client
    return probing
