"""The packaged connector's concurrency pacing (source_sentry/pacing.py) around the manifest's
api_budget: threads take a slot per endpoint before a request and give it back with the answer."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import requests

from source_sentry.packaged.pacing import UNLIMITED, ConcurrencyPacedBudget
from unit_tests.test_manifest import _api_budget

EVENTS = "https://sentry.io/api/0/projects/acme/billing/events/"
OTHER_EVENTS = "https://sentry.io/api/0/projects/acme/web/events/"
ISSUES = "https://sentry.io/api/0/organizations/acme/issues/"


def _request(url: str) -> requests.PreparedRequest:
    return requests.Request("GET", url).prepare()


def _answer(status: int = 200, concurrent_limit: int | None = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    if concurrent_limit is not None:
        response.headers.update(
            {
                "X-Sentry-Rate-Limit-Limit": "60",
                "X-Sentry-Rate-Limit-Remaining": "50",
                "X-Sentry-Rate-Limit-Reset": str(int(time.time()) + 30),
                "X-Sentry-Rate-Limit-ConcurrentLimit": str(concurrent_limit),
                "X-Sentry-Rate-Limit-ConcurrentRemaining": "0",
            }
        )
    return response


class Sender:
    """One worker thread: acquire (maybe waiting), then hold the request until told to answer."""

    def __init__(self, budget: ConcurrencyPacedBudget, url: str) -> None:
        self.budget, self.request = budget, _request(url)
        self.sent = threading.Event()
        self._answer: requests.Response | None = None
        self._go = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        self.budget.acquire_call(self.request)
        self.sent.set()
        self._go.wait(5)
        assert self._answer is not None
        self.budget.update_from_response(self.request, self._answer)

    def answer(self, response: requests.Response) -> None:
        self._answer = response
        self._go.set()
        self.thread.join(5)


def _paced(**kwargs: Any) -> ConcurrencyPacedBudget:
    return ConcurrencyPacedBudget(_api_budget(), **kwargs)


def test_given_limit_not_yet_told_when_two_send_then_second_waits_for_the_first_answer() -> None:
    budget = _paced()
    first = Sender(budget, EVENTS)
    assert first.sent.wait(2)
    second = Sender(budget, OTHER_EVENTS)  # another project, the same endpoint and policy

    assert not second.sent.wait(0.3)
    first.answer(_answer(concurrent_limit=1))
    assert second.sent.wait(2)
    second.answer(_answer(concurrent_limit=1))
    assert budget.in_flight(_request(EVENTS)) == 0


def test_given_server_allows_two_when_three_send_then_two_in_flight_and_third_waits() -> None:
    budget = _paced()
    probe = Sender(budget, EVENTS)
    assert probe.sent.wait(2)
    probe.answer(_answer(concurrent_limit=2))

    senders = [Sender(budget, EVENTS) for _ in range(3)]
    time.sleep(0.3)
    waiting = [s for s in senders if not s.sent.is_set()]
    assert budget.in_flight(_request(EVENTS)) == 2
    assert len(waiting) == 1
    next(s for s in senders if s.sent.is_set()).answer(_answer(concurrent_limit=2))
    assert waiting[0].sent.wait(2)
    for s in senders:
        if s.thread.is_alive():
            s.answer(_answer(concurrent_limit=2))
    assert budget.in_flight(_request(EVENTS)) == 0


def test_given_one_endpoint_busy_when_another_endpoint_sends_then_it_does_not_wait() -> None:
    budget = _paced()
    events = Sender(budget, EVENTS)
    assert events.sent.wait(2)

    issues = Sender(budget, ISSUES)
    assert issues.sent.wait(1)
    events.answer(_answer(concurrent_limit=1))
    issues.answer(_answer(concurrent_limit=25))


def test_given_good_answer_without_rate_limit_headers_then_no_cap() -> None:
    budget = _paced()
    probe = Sender(budget, EVENTS)
    assert probe.sent.wait(2)
    probe.answer(_answer(200))

    senders = [Sender(budget, EVENTS) for _ in range(5)]
    assert all(s.sent.wait(2) for s in senders)
    assert budget.limit(_request(EVENTS)) == UNLIMITED
    for s in senders:
        s.answer(_answer(200))


def test_given_proxy_error_without_headers_then_the_cap_stays_one_at_a_time() -> None:
    budget = _paced()
    probe = Sender(budget, EVENTS)
    assert probe.sent.wait(2)
    probe.answer(_answer(502))

    assert budget.limit(_request(EVENTS)) is None
    first, second = Sender(budget, EVENTS), Sender(budget, EVENTS)
    assert first.sent.wait(2) != second.sent.wait(0.3)  # exactly one of them went
    for s in (first, second):
        s.answer(_answer(200, concurrent_limit=1))


def test_given_request_raised_when_same_thread_sends_again_then_its_slot_was_free() -> None:
    budget = _paced(stale_after=30)
    request = _request(EVENTS)

    def worker() -> None:
        budget.acquire_call(request)  # ... and the connection was reset: no answer, no update
        budget.acquire_call(request)  # the CDK's retry, on the same thread: must not wait on itself
        budget.update_from_response(request, _answer(concurrent_limit=1))

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    thread.join(2)

    assert not thread.is_alive()
    assert budget.in_flight(request) == 0


def test_given_slot_lost_by_another_thread_then_taken_back_after_stale_after() -> None:
    budget = _paced(stale_after=0.3)
    lost = threading.Thread(target=budget.acquire_call, args=(_request(EVENTS),))
    lost.start()
    lost.join(2)  # holds its slot and never sends again

    started = time.monotonic()
    budget.acquire_call(_request(EVENTS))
    waited = time.monotonic() - started
    budget.update_from_response(_request(EVENTS), _answer(concurrent_limit=1))

    assert 0.2 <= waited < 2


def test_given_window_spent_when_acquiring_then_the_inner_budget_still_paces() -> None:
    from airbyte_cdk.sources.streams.call_rate import CallRateLimitHit

    budget = _paced()
    request = _request(ISSUES)
    budget.acquire_call(request)
    spent = _answer(concurrent_limit=25)
    spent.headers["X-Sentry-Rate-Limit-Remaining"] = "0"
    budget.update_from_response(request, spent)

    with pytest.raises(CallRateLimitHit):
        budget.acquire_call(request, block=False)
    # The refused call gave its slot back.
    assert budget.in_flight(request) == 0


@pytest.mark.parametrize("packaged", [True, False], ids=["packaged", "declarative"])
def test_given_variant_when_streams_built_then_only_the_packaged_one_paces_concurrency(
    packaged: bool,
) -> None:
    from source_sentry.packaged.source import PackagedSource
    from source_sentry.source import SourceSentry

    config = {"auth_token": "t" * 64, "organization": "acme", "hostname": "http://127.0.0.1:9"}
    source = (PackagedSource if packaged else SourceSentry)(config=config)
    source.streams(config)

    budget = source._constructor._api_budget
    assert isinstance(budget, ConcurrencyPacedBudget) is packaged
    assert budget is not None
    assert budget.get_matching_policy(_request(EVENTS)) is not None


def test_given_an_endpoint_not_answered_when_asked_its_limit_then_none_now_and_the_told_one_later() -> None:
    budget = _paced()
    assert budget.wait_for_limit(_request(EVENTS), timeout=0) is None
    waited: list[int | None] = []
    asker = threading.Thread(target=lambda: waited.append(budget.wait_for_limit(_request(OTHER_EVENTS), 5)))
    asker.start()
    first = Sender(budget, EVENTS)
    assert first.sent.wait(2)
    time.sleep(0.1)
    assert waited == []  # still waiting: nothing has answered yet

    first.answer(_answer(concurrent_limit=1))
    asker.join(2)

    assert waited == [1]
    assert budget.wait_for_limit(_request(ISSUES), timeout=0) is None  # another endpoint: not told


def test_given_a_good_answer_without_the_header_when_asked_its_limit_then_unlimited() -> None:
    budget = _paced()
    sender = Sender(budget, ISSUES)
    assert sender.sent.wait(2)
    sender.answer(_answer())

    assert budget.wait_for_limit(_request(ISSUES), timeout=0) == UNLIMITED


def test_given_an_error_answer_without_the_header_when_asked_its_limit_then_none_without_waiting() -> None:
    # A proxy's 502 tells nothing: whoever waits for the endpoint's first answer stops waiting.
    budget = _paced()
    sender = Sender(budget, EVENTS)
    assert sender.sent.wait(2)
    sender.answer(_answer(status=502))

    started = time.monotonic()
    assert budget.wait_for_limit(_request(EVENTS), timeout=5) is None
    assert time.monotonic() - started < 1
