"""The check of the webhook receiver's change feed (`webhooks_url`, `webhooks_token`): one feed
request, so that a mistyped URL or token fails the connection check, not the first sync, and the
message says which of the two to fix."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from source_sentry.config import ConfigError
from source_sentry.transport import Transport, TransportError

FEED_PATH = "/v1/deliveries"


def feed_settings(config: Mapping[str, Any]) -> tuple[str, str] | None:
    """``(base_url, token)`` of the receiver, None when the connection does not use one."""
    url = str(config.get("webhooks_url") or "").strip()
    token = str(config.get("webhooks_token") or "").strip()
    if not url and not token:
        return None
    if not url or not token:
        missing = "webhooks_url" if not url else "webhooks_token"
        raise ConfigError(
            f"{missing} is empty: set both webhooks_url and webhooks_token to read the webhook "
            "receiver's feed, or neither."
        )
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            "webhooks_url must be the receiver's base URL with http:// or https:// "
            "(e.g. https://hooks.example.com)."
        )
    return url.rstrip("/"), token


def shown(url: str) -> str:
    """The URL as messages may print it: a user name or password in it is left out."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def check_feed(
    config: Mapping[str, Any], *, transport: Transport | None = None, timeout: float = 10
) -> str | None:
    """Ask the feed for one delivery; None when no receiver is configured, else a sentence
    saying it answered. Raises ``ConfigError`` saying what to fix when it did not."""
    settings = feed_settings(config)
    if settings is None:
        return None
    base, token = settings
    url = base + FEED_PATH
    where = shown(url)
    transport = transport or Transport()
    try:
        response = transport.send(
            "GET",
            f"{url}?after=0&limit=1",
            headers={"Authorization": f"Bearer {token}", "User-Agent": "source-sentry"},
            connect_timeout=timeout,
            read_timeout=timeout,
        )
    except TransportError as error:
        raise ConfigError(
            f"The webhook receiver at {where} {error.reason}: check webhooks_url and that the "
            "receiver (`source-sentry webhooks`) runs and is reachable from here."
        ) from None
    finally:
        transport.close()
    status = response.status_code
    if status in (401, 403):
        raise ConfigError(
            f"The webhook receiver at {where} refused webhooks_token ({status}): give the "
            "receiver's feed_token.",
            status=status,
        )
    if status == 404:
        raise ConfigError(
            f"Nothing serves the webhook feed at {where} (404): webhooks_url must be the "
            "receiver's base URL, without /v1/deliveries or /sentry/webhook.",
            status=status,
        )
    if status != 200:
        raise ConfigError(
            f"The webhook receiver at {where} answered {status} {response.reason}: "
            "check webhooks_url, or the receiver's log if it is the receiver (503: its database).",
            status=status,
        )
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("deliveries"), list):
        raise ConfigError(
            f"{where} answered, but not as the webhook receiver's feed does (a JSON object with "
            "`deliveries`): webhooks_url must be the base URL of `source-sentry webhooks`.",
            status=status,
        )
    return f"The webhook receiver's feed at {shown(base)} answered."
