"""The bench's open loop sends each delivery when it is due, however many are still waiting for an
answer: the server's slowness shows as latency, never as a generator holding deliveries back."""

from __future__ import annotations

from tools.bench import webhooks
from tools.forward_target import Behaviour, ForwardTarget

ANSWER_AFTER_S = 0.25
PATH = "/sentry/webhook"


def most_held_at_once(read_at: list[float]) -> int:
    """The most requests the target held at once: each is held for ANSWER_AFTER_S from when it
    was read."""
    read_at = sorted(read_at)
    most, first = 0, 0
    for last, at in enumerate(read_at):
        while read_at[first] <= at - ANSWER_AFTER_S:
            first += 1
        most = max(most, last - first + 1)
    return most


def test_given_a_server_holding_more_requests_than_the_closed_loop_keeps_then_each_is_sent_when_due() -> None:
    rate = 400.0  # 100 in flight at 0.25 s each: more than CONNECTIONS
    assert rate * ANSWER_AFTER_S > webhooks.CONNECTIONS
    with ForwardTarget() as target:
        target.plan(*[Behaviour(delay=ANSWER_AFTER_S)] * int(rate), path=PATH)
        result = webhooks._worker(target.url(""), "open-loop-", rate, 1.0)
        read_at = [received.at for received in target.requests(PATH)]
    assert result["errors"] == 0
    assert len(result["answered"]) == 400
    # Capped at CONNECTIONS (128 answers a second here), the last deliveries would have waited
    # about 2 s for a free connection on top of the server's 0.25 s (measured: 2.35 s in all).
    assert max(result["latencies"]) < ANSWER_AFTER_S + 0.75
    assert most_held_at_once(read_at) > webhooks.CONNECTIONS
