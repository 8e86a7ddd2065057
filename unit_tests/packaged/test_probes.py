"""The part planner's probes (probes.py): the stream's error handling, but a 400 handed back."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from airbyte_cdk.sources.streams.http.error_handlers.response_models import ResponseAction

from source_sentry.packaged.probes import ProbeErrors, probing_copy
from source_sentry.packaged.source import PackagedSource

CONFIG = {
    "auth_token": "t",
    "organization": "acme",
    "hostname": "http://127.0.0.1:9",
    "start_date": "2026-01-01T00:00:00Z",
}
PROBE = "http://127.0.0.1:9/api/0/projects/acme/a/events/?per_page=1&cursor=0:5000:0"


def events_requester() -> Any:
    [events] = [s for s in PackagedSource(config=CONFIG).streams(CONFIG) if s.name == "events"]
    return events._stream_partition_generator._partition_factory._retriever.requester


def answer(status: int, body: Any, headers: dict[str, str] | None = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(body).encode()
    response.headers.update({"Content-Type": "application/json", **(headers or {})})
    response.url = PROBE
    return response


def test_given_a_400_when_a_probe_is_answered_then_it_is_handed_back_with_one_line_saying_why() -> None:
    stream_errors = events_requester()._http_client._error_handler
    probe_errors = ProbeErrors(stream_errors)

    resolution = probe_errors.interpret_response(answer(400, {"detail": "Pagination offset too large"}))

    assert resolution.response_action == ResponseAction.IGNORE
    assert resolution.error_message is not None
    assert "Pagination offset too large" in resolution.error_message
    assert PROBE in resolution.error_message
    assert "read as one part" in resolution.error_message
    # A page of the read still fails on it, as the manifest says.
    assert stream_errors.interpret_response(answer(400, {})).response_action == ResponseAction.FAIL


@pytest.mark.parametrize(
    ("status", "headers"),
    [
        (403, {}),  # a project the token may not read: skipped, its one line
        (429, {"X-Sentry-Rate-Limit-Remaining": "0", "X-Sentry-Rate-Limit-Reset": "1"}),
        (500, {}),
        (503, {}),
        (401, {}),
    ],
)
def test_given_any_other_answer_when_a_probe_is_answered_then_the_streams_handling_decides(
    status: int, headers: dict[str, str]
) -> None:
    stream_errors = events_requester()._http_client._error_handler
    probe_errors = ProbeErrors(stream_errors)
    response = answer(status, {"detail": "x"}, headers)

    assert probe_errors.interpret_response(response) == stream_errors.interpret_response(response)
    assert (probe_errors.max_retries, probe_errors.max_time) == (
        stream_errors.max_retries,
        stream_errors.max_time,
    )


def test_given_a_requester_when_copied_for_probes_then_only_the_error_handler_differs() -> None:
    requester = events_requester()

    probing = probing_copy(requester)

    assert isinstance(probing._http_client._error_handler, ProbeErrors)
    assert requester._http_client._error_handler is not probing._http_client._error_handler
    assert probing._http_client._session is requester._http_client._session  # same budget and pool
    assert probing._http_client._backoff_strategies is requester._http_client._backoff_strategies
    assert probing.name == requester.name
