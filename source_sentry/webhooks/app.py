"""The receiver's HTTP routes, as a Starlette app.

Starlette rather than FastAPI: the webhook route must read the raw body bytes before anything
parses them, and the feed's two query parameters need no model; FastAPI's validation and
OpenAPI layers would sit unused on the one path that must answer fast.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from source_sentry.webhooks.committer import Committer
from source_sentry.webhooks.envelope import read_envelope
from source_sentry.webhooks.metrics import Metrics
from source_sentry.webhooks.settings import Settings
from source_sentry.webhooks.signature import signature_matches
from source_sentry.webhooks.store import Incoming, Store, StoreError, open_store
from source_sentry.webhooks.store.base import Extension

if TYPE_CHECKING:
    from source_sentry.webhooks.forward.service import Forwarder

log = logging.getLogger("source_sentry.webhooks")
MS_PER_DAY = 86_400_000


class BodyTooLarge(Exception):
    pass


def create_app(
    settings: Settings,
    store: Store | None = None,
    metrics: Metrics | None = None,
    extend: Extension | None = None,
    forwarder: Forwarder | None = None,
) -> Starlette:
    """The app; the store is opened at start-up (from settings.database unless given) and closed,
    after the last queued delivery is committed, at shutdown. So is the forwarder's outbox, unless
    a forwarder (built on `metrics`, and opened) is given."""
    metrics = metrics or Metrics()
    state: dict[str, Any] = {}
    # Issue 28: with targets set, chosen deliveries get outbox rows in their own transaction (and
    # with only an admin token, the status page still shows what older targets left).
    if forwarder is None and forwarding(settings):
        forwarder = new_forwarder(settings, metrics)
    if forwarder is not None and extend is None:
        extend = forwarder.extend
    state["forwarder"] = forwarder

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        opened = (
            store
            if store is not None
            else await run_in_threadpool(open_store, settings.database, settings.sqlite_synchronous)
        )
        state["store"] = opened
        state["committer"] = Committer(
            opened,
            settings.retry_window_seconds * 1000,
            extend=extend,
            on_batch=metrics.commit_batch.observe,
        )
        state["newest_seq"] = await run_in_threadpool(opened.newest_seq)
        metrics.newest_seq.set(state["newest_seq"])
        if forwarder is not None:
            await forwarder.start()
        pruner = asyncio.create_task(_prune_forever(opened, settings))
        summary = _Summary(metrics, state)
        summarising = asyncio.create_task(summary.every(settings.log_summary_seconds))
        log.info("Receiving Sentry webhooks; settings %s", settings.redacted())
        try:
            yield
        finally:
            pruner.cancel()
            summarising.cancel()
            await run_in_threadpool(state["committer"].stop)
            summary.log("Since the last summary")
            if forwarder is not None:
                await forwarder.stop()
            opened.close()
            log.info("Stopped: every delivery answered is committed")

    async def receive(request: Request) -> Response:
        started = time.perf_counter()
        try:
            return await _receive(request, settings, state, metrics)
        finally:
            metrics.latency.observe(time.perf_counter() - started)

    async def deliveries(request: Request) -> Response:
        return await _deliveries(request, settings, state["store"])

    async def healthz(_request: Request) -> Response:
        try:
            await run_in_threadpool(state["store"].check)
        except StoreError as error:
            log.warning("Health check: the store is unavailable: %s", error)
            return JSONResponse({"status": "store unavailable"}, status_code=503)
        return JSONResponse({"status": "ok"})

    async def metrics_page(_request: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return Starlette(
        routes=[
            Route("/sentry/webhook", receive, methods=["POST"]),
            Route("/v1/deliveries", deliveries, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics_page, methods=["GET"]),
            *(forwarder.routes() if forwarder is not None else []),
        ],
        lifespan=lifespan,
    )


def forwarding(settings: Settings) -> bool:
    return bool(settings.forward.targets or settings.forward.admin_token)


def new_forwarder(settings: Settings, metrics: Metrics) -> Forwarder:
    from source_sentry.webhooks.forward.service import Forwarder

    return Forwarder(settings, metrics.registry)


async def _receive(request: Request, settings: Settings, state: dict[str, Any], metrics: Metrics) -> Response:
    try:
        body = await _read_body(request, settings.max_body_bytes)
    except BodyTooLarge:
        metrics.rejected.labels(reason="too_large").inc()
        return JSONResponse({"detail": "body too large"}, status_code=413)
    signature = request.headers.get("sentry-hook-signature")
    if not signature_matches(body, signature, settings.client_secrets):
        reason = "bad_signature" if signature else "missing_signature"
        metrics.rejected.labels(reason=reason).inc()
        log.info("Rejected a delivery: %s", reason.replace("_", " "))
        return JSONResponse({"detail": "unauthorized"}, status_code=401)
    resource = request.headers.get("sentry-hook-resource")
    envelope = read_envelope(resource, body)
    incoming = Incoming(
        request_id=request.headers.get("request-id"),
        sent_at=_unix_seconds(request.headers.get("sentry-hook-timestamp")),
        received_at_ms=int(time.time() * 1000),
        body=body,
        body_sha256=hashlib.sha256(body).hexdigest(),
        envelope=envelope,
    )
    try:
        recorded = await state["committer"].record(incoming)
    except StoreError:
        metrics.rejected.labels(reason="store_unavailable").inc()
        # 503: a published app's delivery is retried by Sentry; nothing was kept.
        return JSONResponse({"detail": "store unavailable"}, status_code=503)
    if recorded.duplicate:
        metrics.duplicates.inc()
    else:
        metrics.accepted_for(resource or "unknown").inc()
        state["newest_seq"] = max(recorded.seq, state["newest_seq"])
        if state["forwarder"] is not None:
            state["forwarder"].committed()
        metrics.newest_seq.set(state["newest_seq"])
    if envelope.parse_error:
        metrics.unparseable.inc()
    log.debug(
        "Kept delivery seq=%d resource=%s action=%s duplicate=%s parse_error=%s",
        recorded.seq,
        resource,
        envelope.action,
        recorded.duplicate,
        envelope.parse_error,
    )
    # The answer's JSON, written directly: the same bytes JSONResponse renders, at a tenth of its cost.
    answer = b'{"seq":%d,"duplicate":%s}' % (recorded.seq, b"true" if recorded.duplicate else b"false")
    return Response(answer, media_type="application/json")


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


async def _deliveries(request: Request, settings: Settings, store: Store) -> Response:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        token.strip().encode("utf-8"), settings.feed_token.encode("utf-8")
    ):
        return JSONResponse(
            {"detail": "send the feed token as Authorization: Bearer <feed_token>"},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    after = _query_int(request, "after", 0)
    limit = _query_int(request, "limit", min(100, settings.feed_max_limit))
    if after is None or after < 0:
        return JSONResponse({"detail": "after: give the last seq you read (0 to start)"}, status_code=400)
    if limit is None or not 1 <= limit <= settings.feed_max_limit:
        return JSONResponse(
            {"detail": f"limit: give a whole number from 1 to {settings.feed_max_limit}"}, status_code=400
        )
    try:
        entries = await run_in_threadpool(store.feed, after, limit)
    except StoreError as error:
        log.warning("Feed: the store is unavailable: %s", error)
        return JSONResponse({"detail": "store unavailable"}, status_code=503)
    return JSONResponse(
        {
            "deliveries": entries,
            "next_after": entries[-1]["seq"] if entries else after,
            "more": len(entries) == limit,
        }
    )


def _query_int(request: Request, name: str, default: int) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    return int(raw) if raw.isdigit() else None


def _unix_seconds(value: str | None) -> int | None:
    try:
        return int(float(value)) if value else None
    except (ValueError, OverflowError):
        return None


class _Summary:
    """One line every so often that anything was kept, in place of a line per delivery: what the
    metrics counted since the last line."""

    def __init__(self, metrics: Metrics, state: dict[str, Any]) -> None:
        self._metrics = metrics
        self._state = state
        self._last = metrics.kept_and_duplicates()

    async def every(self, seconds: int) -> None:
        while True:
            await asyncio.sleep(seconds)
            self.log(f"In the last {seconds} s")

    def log(self, period: str) -> None:
        now = self._metrics.kept_and_duplicates()
        kept, duplicates = now[0] - self._last[0], now[1] - self._last[1]
        self._last = now
        if kept or duplicates:
            log.info(
                "%s: kept %d new deliveries and %d duplicates (retries of kept ones); newest seq %d",
                period,
                kept,
                duplicates,
                self._state["newest_seq"],
            )


async def _prune_forever(store: Store, settings: Settings) -> None:
    while True:
        cutoff = int(time.time() * 1000) - settings.retention_days * MS_PER_DAY
        try:
            removed = await run_in_threadpool(store.prune, cutoff)
            if removed:
                log.info(
                    "Retention: pruned %d deliveries older than %d days", removed, settings.retention_days
                )
        except StoreError as error:
            log.warning("Retention: could not prune: %s", error)
        await asyncio.sleep(settings.prune_interval_seconds)
