"""A target's sender after a 410: nothing more is sent to the target than was claimed before the
sender saw the 410, even while other sends finish and free their slots before the 410 is
recorded (the outbox's disabled flag, which every claim checks, only holds once it commits)."""

from __future__ import annotations

import asyncio
import base64
import json
import threading

import httpx
from prometheus_client import CollectorRegistry

from source_sentry.webhooks.forward.config import ForwardSettings, Target
from source_sentry.webhooks.forward.metrics import ForwardMetrics
from source_sentry.webhooks.forward.outbox import Claimed, Outcome
from source_sentry.webhooks.forward.sender import TargetSender

TARGET = Target(
    name="gone",
    kind="webhook",
    url="http://target.invalid/hook",
    secret="whsec_" + base64.b64encode(b"k" * 32).decode(),
)
SETTINGS = ForwardSettings(
    targets=(TARGET,), retry_seconds=(0.01,), timeout_seconds=5, concurrency=4, poll_seconds=0.01
)


def row(n: int) -> Claimed:
    return Claimed(
        id=n,
        target=TARGET.name,
        seq=n,
        webhook_id=f"msg_{n}",
        attempts=0,
        created_ms=0,
        claim="",
        resource="issue",
        action="created",
        body=json.dumps({"n": n}).encode(),
    )


class Outbox:
    """The outbox as the sender sees it: due rows handed out in order until the target is
    disabled; the 410's record and any chosen claim wait at a gate the test opens."""

    def __init__(self, rows: int) -> None:
        self.due = [row(n) for n in range(1, rows + 1)]
        self.disabled = False
        self.claims = 0
        self.released: list[int] = []
        self.record_gate = threading.Event()
        self.claim_gates: dict[int, threading.Event] = {}

    def claim(self, target: str, limit: int, now_ms: int, lease_ms: int) -> list[Claimed]:
        self.claims += 1
        taken = [] if self.disabled else self.due[:limit]
        self.due = self.due[len(taken) :]
        gate = self.claim_gates.get(self.claims)
        if gate is not None:  # the claim has read its rows; its answer is late
            assert gate.wait(10), "the test never opened the claim's gate"
        return taken

    def record(self, outcomes: list[Outcome]) -> int:
        assert [o.kind for o in outcomes] == ["gone"]
        assert self.record_gate.wait(10), "the test never opened the record's gate"
        self.disabled = True
        return 1

    def release(self, rows: list[Claimed]) -> int:
        self.released += [r.id for r in rows]
        self.due = rows + self.due
        return len(rows)


class Recorder:
    def __init__(self) -> None:
        self.outcomes: list[Outcome] = []

    def put(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)


async def until(check, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.005)


def sender_for(outbox: Outbox, recorder: Recorder, handler) -> TargetSender:
    sender = TargetSender(TARGET, outbox, SETTINGS, ForwardMetrics(CollectorRegistry()), recorder)  # type: ignore[arg-type]
    sender._client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return sender


def test_given_a_410_not_yet_recorded_when_other_sends_free_their_slots_then_nothing_more_is_claimed():
    outbox, recorder, sent = Outbox(rows=8), Recorder(), []

    async def handler(request: httpx.Request) -> httpx.Response:
        n = json.loads(request.content)["n"]
        sent.append(n)
        return httpx.Response(410 if n == 1 else 200)

    async def scenario() -> None:
        sender = sender_for(outbox, recorder, handler)
        task = asyncio.create_task(sender.run())
        try:
            # The three 200s are recorded and their slots free while the 410's record waits.
            await until(lambda: len(recorder.outcomes) == 3)
            await asyncio.sleep(20 * SETTINGS.poll_seconds)  # many polls: time to claim, were it allowed
            assert sorted(sent) == [1, 2, 3, 4]
            assert outbox.claims == 1
            outbox.record_gate.set()
            await until(lambda: outbox.disabled)
            await asyncio.sleep(20 * SETTINGS.poll_seconds)
        finally:
            task.cancel()
            await sender.close(0)
        assert sorted(sent) == [1, 2, 3, 4]
        assert [o.kind for o in recorder.outcomes] == ["sent"] * 3
        assert outbox.claims > 1  # it went on polling, and the outbox said the target is disabled
        assert [r.id for r in outbox.due] == [5, 6, 7, 8]

    asyncio.run(scenario())


def test_given_a_claim_running_when_a_410_arrives_then_the_rows_it_brings_back_are_given_back_unsent():
    outbox, recorder, sent = Outbox(rows=5), Recorder(), []
    answer_410 = asyncio.Event()
    outbox.record_gate.set()
    outbox.claim_gates[2] = threading.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        n = json.loads(request.content)["n"]
        sent.append(n)
        if n == 1:
            await answer_410.wait()
            return httpx.Response(410)
        return httpx.Response(200)

    async def scenario() -> None:
        sender = sender_for(outbox, recorder, handler)
        task = asyncio.create_task(sender.run())
        try:
            # Rows 2 to 4 are sent and free their slots: the second claim starts and waits.
            await until(lambda: outbox.claims == 2 and len(recorder.outcomes) == 3)
            answer_410.set()
            await until(lambda: outbox.disabled)
            outbox.claim_gates[2].set()  # the claim now returns row 5, claimed before the disable
            await until(lambda: outbox.released == [5])
            await asyncio.sleep(20 * SETTINGS.poll_seconds)
        finally:
            task.cancel()
            await sender.close(0)
        assert sorted(sent) == [1, 2, 3, 4]
        assert [r.id for r in outbox.due] == [5]

    asyncio.run(scenario())
