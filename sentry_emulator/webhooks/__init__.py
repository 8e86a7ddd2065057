"""Webhooks as Sentry's integration platform sends them: Sentry Apps registered on the
emulator, the changes that trigger a webhook, and the deliveries (see README.md, Webhooks).

``Emulator.webhooks`` is a `Webhooks`; the control API's webhook actions are in ``control`` (the
server imports it, so that this package does not depend on the control API)."""

from __future__ import annotations

import threading
import uuid

from ..data import Issue, World
from . import payloads
from .apps import SentryApp, make_app
from .delivery import Delivery, Outbox

__all__ = ["Webhooks", "payloads"]


class Webhooks:
    """The organization's Sentry Apps and what they are sent."""

    def __init__(self, world: World, seed: int) -> None:
        self.world = world
        self.seed = seed
        self._apps: dict[str, SentryApp] = {}
        self._lock = threading.Lock()
        self._outbox = Outbox()
        world.on_ingest = self._ingested

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self._outbox.start()

    def stop(self) -> None:
        self._outbox.stop()

    # ------------------------------------------------------------------ test-facing
    def register(
        self,
        webhook_url: str,
        client_secret: str,
        resources: list[str] | tuple[str, ...] = ("issue", "error", "comment"),
        *,
        published: bool = False,
        name: str | None = None,
        ca_cert: str | None = None,
        **options: float,
    ) -> dict:
        """A Sentry App installed on the organization (internal unless ``published``) whose
        webhooks go to ``webhook_url``. ``resources``: ``issue``, ``error``, ``comment``, ... or
        single events (``issue.resolved``). ``options``: see `SentryApp`."""
        with self._lock:
            app = make_app(
                self.seed,
                len(self._apps) + 1,
                webhook_url=webhook_url,
                client_secret=client_secret,
                resources=resources,
                published=published,
                name=name,
                ca_cert=ca_cert,
                **options,
            )
            self._apps[app.slug] = app
        return app.describe()

    def set_options(self, slug: str, **options: float) -> dict:
        app = self._app(slug)
        with app.lock:
            app.set_options(**options)
        return app.describe()

    def apps(self) -> list[dict]:
        with self._lock:
            return [a.describe() for a in self._apps.values()]

    def requests(self, slug: str | None = None) -> list[dict]:
        """Every try made, in the order made: ``request_id``, ``delivery_id`` (the same on each
        try of one delivery), ``resource``, ``action``, ``event_type``, ``status`` (0: timeout or
        connection error, then ``error`` says which), ``attempt`` (1 for the first), ``duplicate``,
        ``wait`` (seconds it waited once scheduled: reordering, or the retry's spacing),
        ``timestamp`` (the header), ``time`` (when the try ended), ``signature`` and ``body`` (the exact
        text sent)."""
        with self._lock:
            apps = [self._app(slug)] if slug else list(self._apps.values())
        out: list[dict] = []
        for app in apps:
            with app.lock:
                out.extend(dict(r, app=app.slug) for r in app.requests)
        return sorted(out, key=lambda r: r["time"])

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until every delivery, retries included, has been made; False if ``timeout`` ran out."""
        return self._outbox.drain(timeout)

    def _app(self, slug: str) -> SentryApp:
        app = self._apps.get(slug)
        if app is None:
            raise KeyError(f"unknown sentry app {slug!r}")
        return app

    # ------------------------------------------------------------------ triggers
    def issue(self, iss: Issue, action: str, actor: dict, **extra: object) -> None:
        """``issue.<action>``; ``extra`` joins ``data`` beside the issue (``assignee``, ...)."""
        if self._subscribers("issue", action):
            self._send("issue", action, {"issue": payloads.issue_data(self.world, iss), **extra}, actor)

    def comment(self, iss: Issue, action: str, comment_id: str, text: str, at_us: int, actor: dict) -> None:
        if self._subscribers("comment", action):
            self._send("comment", action, payloads.comment_data(iss, comment_id, text, at_us), actor)

    def _ingested(self, ev: dict, first: bool, regressed: bool) -> None:
        """An event became visible: its issue is new (first event) or regressed, and it is an error."""
        iss: Issue = ev["issue"]
        if first:
            self.issue(iss, "created", payloads.SENTRY_ACTOR)
        if regressed:
            self.issue(iss, "unresolved", payloads.SENTRY_ACTOR)
        if self._subscribers("error", "created"):
            self._send(
                "error", "created", {"error": payloads.error_data(self.world, ev)}, payloads.SENTRY_ACTOR
            )

    def _subscribers(self, resource: str, action: str) -> list[SentryApp]:
        with self._lock:
            return [a for a in self._apps.values() if a.subscribed(resource, action)]

    def _send(self, resource: str, action: str, data: dict, actor: dict) -> None:
        for app in self._subscribers(resource, action):
            body = payloads.body_bytes(action, app.installation_uuid, data, actor)
            with app.lock:
                wait = app.rng.random() * app.reorder_window if app.reorder_window else 0.0
            delivery = Delivery(
                app=app,
                delivery_id=uuid.uuid4().hex,
                resource=resource,
                action=action,
                body=body,
                signature=payloads.signature(app.client_secret, body),
                wait=wait,
            )
            self._outbox.put(delivery)
