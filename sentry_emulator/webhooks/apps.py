"""A Sentry App (an integration of the organization) as far as webhooks go: where they go, the
secret they are signed with, what it subscribed to, and how the emulator delivers them."""

from __future__ import annotations

import random
import threading
import uuid
from dataclasses import dataclass, field

from ..data import _hex32

# What an app subscribes to: Sentry's resources, each standing for these actions.
RESOURCES: dict[str, tuple[str, ...]] = {
    "issue": ("created", "resolved", "unresolved", "ignored", "assigned"),
    "error": ("created",),
    "comment": ("created", "updated", "deleted"),
    # Accepted as subscriptions; the emulator has nothing that triggers them.
    "installation": ("created", "deleted"),
    "event_alert": ("triggered",),
    "metric_alert": ("critical", "warning", "resolved", "open"),
    "seer": (),
}
# Sentry stores an app's subscription expanded to `resource.action` names and accepts those too.
# `issue.archived` (the documentation's name for ignoring) is in no resource's expansion: Sentry
# sends it, beside `issue.ignored`, only to apps whose stored events name it (older subscriptions).
SINGLE_EVENTS = frozenset({"issue.archived"})
OPTIONS = ("retry_delay", "timeout", "reorder_window", "duplicate_rate")


@dataclass
class SentryApp:
    """``published``: Sentry retries a failed delivery (timeout, connection error, 5xx) up to
    3 times; an internal integration gets none. ``retry_delay``: Sentry's 5 minutes between
    tries (tests shorten it). ``reorder_window``: each delivery waits a random time below this
    many seconds before its first try, so later ones overtake it as Sentry's independent tasks
    do. ``duplicate_rate``: the share of deliveries answered 2xx that are sent once more after
    ``retry_delay``, as Sentry's retry does when it did not see the answer (new Request-ID and
    timestamp, the same body)."""

    slug: str
    name: str
    webhook_url: str
    client_secret: str
    events: frozenset[str]  # expanded `resource.action` names
    published: bool
    installation_uuid: str
    retry_delay: float = 300.0
    timeout: float = 1.0
    reorder_window: float = 0.0
    duplicate_rate: float = 0.0
    ca_cert: str | None = None
    rng: random.Random = field(default_factory=random.Random, repr=False)
    requests: list[dict] = field(default_factory=list, repr=False)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def subscribed(self, resource: str, action: str) -> bool:
        return f"{resource}.{action}" in self.events

    @property
    def max_retries(self) -> int:
        return 3 if self.published else 0

    def set_options(self, **options: float) -> None:
        for key, value in options.items():
            if key not in OPTIONS:
                raise ValueError(f"unknown webhook option {key!r}; known: {', '.join(OPTIONS)}")
            value = float(value)
            if value < 0 or (key == "duplicate_rate" and value > 1) or (key == "timeout" and value == 0):
                raise ValueError(f"{key} out of range: {value}")
            setattr(self, key, value)

    def describe(self) -> dict:
        return {
            "slug": self.slug,
            "name": self.name,
            "webhookUrl": self.webhook_url,
            "events": sorted({e.split(".", 1)[0] for e in self.events}),
            "status": "published" if self.published else "internal",
            "installation": {"uuid": self.installation_uuid},
            **{key: getattr(self, key) for key in OPTIONS},
        }


def expand(subscriptions: list[str] | tuple[str, ...]) -> frozenset[str]:
    """Resources (``issue``) and single events (``issue.resolved``) as `resource.action` names."""
    out: set[str] = set()
    for raw in subscriptions:
        name = raw
        resource, _, action = name.partition(".")
        known_action = not action or action in RESOURCES.get(resource, ()) or name in SINGLE_EVENTS
        if resource not in RESOURCES or not known_action:
            known = ", ".join(sorted(RESOURCES))
            raise ValueError(f"unknown webhook resource {raw!r}; resources: {known}")
        out |= {name} if action else {f"{resource}.{a}" for a in RESOURCES[resource]}
    return frozenset(out)


def make_app(
    seed: int,
    n: int,
    *,
    webhook_url: str,
    client_secret: str,
    resources: list[str] | tuple[str, ...],
    published: bool = False,
    name: str | None = None,
    ca_cert: str | None = None,
    **options: float,
) -> SentryApp:
    if not webhook_url.startswith(("http://", "https://")):
        raise ValueError("webhook_url must be an http:// or https:// URL")
    if not client_secret:
        raise ValueError("client_secret must not be empty")
    name = name or f"Webhook Receiver {n}"
    slug = "-".join(name.lower().split()) + f"-{_hex32(seed, 'app-slug', n)[:6]}"
    app = SentryApp(
        slug=slug,
        name=name,
        webhook_url=webhook_url,
        client_secret=client_secret,
        events=expand(resources),
        published=bool(published),
        installation_uuid=str(uuid.UUID(hex=_hex32(seed, "installation", n), version=4)),
        ca_cert=ca_cert,
        rng=random.Random(f"{seed}|{n}"),
    )
    app.set_options(**options)
    return app
