"""The control API's webhook actions (``/_emulator/<action>``, see ``..control``)."""

from __future__ import annotations

from ..control import action
from ..host import Host
from .apps import OPTIONS


def _options(d: dict) -> dict[str, float]:
    return {k: float(d[k]) for k in OPTIONS if k in d}


@action("add_sentry_app")
def _add_sentry_app(emu: Host, d: dict) -> dict:
    resources = d.get("resources", ["issue", "error", "comment"])
    if isinstance(resources, str):
        resources = [r for r in resources.split(",") if r]
    published = d.get("published", False)
    if isinstance(published, str):
        published = published.lower() in ("1", "true", "yes")
    return emu.webhooks.register(
        d["webhook_url"],
        d["client_secret"],
        resources,
        published=bool(published),
        name=d.get("name"),
        ca_cert=d.get("ca_cert"),
        **_options(d),
    )


@action("sentry_apps")
def _sentry_apps(emu: Host, d: dict) -> list[dict]:
    return emu.webhooks.apps()


@action("webhook_options")
def _webhook_options(emu: Host, d: dict) -> dict:
    return emu.webhooks.set_options(d["slug"], **_options(d))


@action("webhook_requests")
def _webhook_requests(emu: Host, d: dict) -> list[dict]:
    return emu.webhooks.requests(d.get("slug"))


@action("drain_webhooks")
def _drain_webhooks(emu: Host, d: dict) -> dict:
    return {"drained": emu.webhooks.drain(float(d.get("timeout", 10.0)))}
