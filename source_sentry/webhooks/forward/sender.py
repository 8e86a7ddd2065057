"""One sender per target: claims its due outbox rows, sends each, records the outcome.

Each target has its own HTTP client, connection pool and concurrency limit, so a target that
is slow or down holds only its own slots; the receiver's answers to Sentry never wait on a
sender (they share the event loop, and every database call of a sender runs in a thread).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import Any

import httpx
from starlette.concurrency import run_in_threadpool

from source_sentry.webhooks.forward import signing, slack
from source_sentry.webhooks.forward.config import ForwardSettings, Target
from source_sentry.webhooks.forward.metrics import ForwardMetrics
from source_sentry.webhooks.forward.outbox import Claimed, Outbox, Outcome
from source_sentry.webhooks.forward.recorder import Recorder
from source_sentry.webhooks.forward.retry import next_delay, retry_after_seconds
from source_sentry.webhooks.store import StoreError

log = logging.getLogger("source_sentry.webhooks.forward")
USER_AGENT = "source-sentry-webhooks"


def lease_ms(settings: ForwardSettings) -> int:
    """How long a claimed row stays in flight: longer than any request may take, so that only a
    receiver that died leaves a row to be taken over."""
    return int((3 * settings.timeout_seconds + 2) * 1000)


def request_for(target: Target, row: Claimed, now: int) -> tuple[bytes, dict[str, str]]:
    assert row.body is not None
    if target.kind == "slack":
        return slack.message(row.resource, row.action, row.body), {"content-type": "application/json"}
    sent = signing.headers(target.signing_key(), row.webhook_id, now, row.body)
    if row.resource:
        sent["sentry-hook-resource"] = row.resource
    return row.body, sent


class TargetSender:
    def __init__(
        self,
        target: Target,
        outbox: Outbox,
        settings: ForwardSettings,
        metrics: ForwardMetrics,
        recorder: Recorder,
        rng: random.Random | None = None,
    ) -> None:
        self.target = target
        self._outbox = outbox
        self._recorder = recorder
        self._settings = settings
        self._metrics = metrics
        self._rng = rng or random.Random()
        self._wake = asyncio.Event()
        self._inflight: set[asyncio.Task[None]] = set()
        # A 410 disables the target in the outbox, which every claim checks; until that record
        # commits, this sender claims nothing (`_recording_gone`), and rows a claim brought back
        # after a 410 was seen (`_gone_seen` moved) are given back unsent.
        self._recording_gone = 0
        self._gone_seen = 0
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.timeout_seconds),
            follow_redirects=False,
            verify=True,
            limits=httpx.Limits(max_connections=settings.concurrency),
            headers={"user-agent": USER_AGENT},
        )

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            self._wake.clear()
            free = 0 if self._recording_gone else self._settings.concurrency - len(self._inflight)
            claimed: list[Claimed] = []
            if free > 0:
                seen = self._gone_seen
                try:
                    claimed = await run_in_threadpool(
                        self._outbox.claim, self.target.name, free, _now_ms(), lease_ms(self._settings)
                    )
                except StoreError as error:
                    log.warning("Forward %s: cannot claim deliveries: %s", self.target.name, error)
                if claimed and self._gone_seen != seen:
                    await self._give_back(claimed)
                    claimed = []
            for row in claimed:
                task = asyncio.create_task(self._attempt(row))
                self._inflight.add(task)
                task.add_done_callback(self._done)
            if claimed and len(claimed) < free:
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), self._settings.poll_seconds)
            except TimeoutError:
                pass

    async def _give_back(self, rows: list[Claimed]) -> None:
        try:
            await run_in_threadpool(self._outbox.release, rows)
        except StoreError as error:
            # Their leases run out and they are claimed again, by then for a disabled target.
            log.warning(
                "Forward %s: could not give back %d claimed rows: %s", self.target.name, len(rows), error
            )

    def _done(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._wake.set()

    async def close(self, grace: float) -> None:
        """Let requests in flight finish within `grace` seconds; a row cut off keeps its lease and
        is sent again (same webhook-id) once the lease runs out."""
        if self._inflight:
            await asyncio.wait(set(self._inflight), timeout=grace)
        for task in list(self._inflight):
            task.cancel()
        await self._client.aclose()

    async def _attempt(self, row: Claimed) -> None:
        try:
            await self._send(row)
        except Exception:  # noqa: BLE001 - one bad row must not end the sender
            log.exception("Forward %s: unexpected failure on outbox row %d", self.target.name, row.id)

    async def _send(self, row: Claimed) -> None:
        name = self.target.name
        if row.body is None:
            self._recorder.put(Outcome("failed", row, _now_ms(), error="delivery removed by retention"))
            self._metrics.attempts.labels(target=name, outcome="dead").inc()
            return
        content, sent_headers = request_for(self.target, row, int(time.time()))
        status: int | None = None
        retry_after: float | None = None
        try:
            answer = await asyncio.wait_for(
                self._client.post(self.target.url, content=content, headers=sent_headers),
                3 * self._settings.timeout_seconds,
            )
            status = answer.status_code
            retry_after = retry_after_seconds(answer.headers.get("retry-after"))
            error = _status_error(answer)
        except (httpx.TimeoutException, TimeoutError):
            error = "timeout"
        except httpx.HTTPError as failure:
            # The class only: an httpx message can quote the URL, and a Slack URL is a secret.
            error = f"connection failed ({type(failure).__name__})"
        now = _now_ms()
        if status is not None and 200 <= status < 300:
            self._recorder.put(Outcome("sent", row, now, status=status))
            self._metrics.attempts.labels(target=name, outcome="sent").inc()
            self._metrics.delivery_seconds.labels(target=name).observe(max(0, now - row.created_ms) / 1000)
            return
        if status == 410:
            # Recorded before this slot frees, and no slot claims meanwhile: the sender must not
            # send more to a disabled target.
            self._gone_seen += 1
            self._recording_gone += 1
            try:
                await run_in_threadpool(self._outbox.record, [Outcome("gone", row, now, status=status)])
            except StoreError as store_error:
                log.warning("Forward %s: could not record the 410 (sent again later): %s", name, store_error)
            finally:
                self._recording_gone -= 1
            self._metrics.attempts.labels(target=name, outcome="gone").inc()
            log.warning(
                "Forward target %s answered 410 Gone: disabled, its deliveries wait; after fixing it run "
                "`source-sentry webhooks forward enable %s`",
                name,
                name,
            )
            return
        delay = next_delay(row.attempts + 1, self._settings.retry_seconds, retry_after, self._rng)
        next_ms = now + int(delay * 1000) if delay is not None else None
        self._recorder.put(Outcome("failed", row, now, status=status, error=error, next_ms=next_ms))
        outcome = "failed" if delay is not None else "dead"
        self._metrics.attempts.labels(target=name, outcome=outcome).inc()
        if delay is None:
            log.warning(
                "Forward %s: delivery seq=%d (%s) dead after %d attempts (%s); "
                "`source-sentry webhooks forward replay` sends it again",
                name,
                row.seq,
                row.webhook_id,
                row.attempts + 1,
                error,
            )
        else:
            log.info(
                "Forward %s: delivery seq=%d attempt %d failed (%s); next in %.1f s",
                name,
                row.seq,
                row.attempts + 1,
                error,
                delay,
            )


def _status_error(answer: httpx.Response) -> str:
    if answer.is_redirect:
        return f"HTTP {answer.status_code} (redirects are not followed)"
    return f"HTTP {answer.status_code}"


def _now_ms() -> int:
    return int(time.time() * 1000)


__all__: list[Any] = ["TargetSender", "lease_ms", "request_for"]
