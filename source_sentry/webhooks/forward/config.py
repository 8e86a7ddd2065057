"""The `forward` settings: which targets get which deliveries, and how hard to try.

A target is `{"name", "kind": "webhook" | "slack", "url", "secret"}` plus filters (`resources`,
`actions`, `projects`, `levels`); a filter left out lets every value through. The URL and the
secret are never shown: a Slack incoming-webhook URL is itself a credential. Everything that
names a target in logs, metrics, the status page and the CLI uses its `name`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from source_sentry.webhooks.numbers import NumberError, number, whole_number

KINDS = ("webhook", "slack")
FILTERS = ("resources", "actions", "projects", "levels")
# Seconds to wait after the 1st, 2nd, ... failed attempt; the delivery is dead after the last.
# 5 s rides out a restart or a blip; 5 and 30 min a deploy or an overloaded target; 2, 5 and
# 10 h an outage that lasts into the next working day: about 17.6 hours and 7 attempts in all.
DEFAULT_RETRY_SECONDS = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0)
MAX_RETRY_SECONDS = 7 * 86400
MIN_ADMIN_TOKEN_LENGTH = 16
# How a problem names a setting: by its name, or by its environment variable when it came from there.
Label = Callable[[str], str]


class ForwardConfigError(ValueError):
    """A forwarding setting the operator must fix; the message never holds a URL or secret."""


@dataclass(frozen=True)
class Target:
    name: str
    kind: str
    url: str = field(repr=False)
    secret: str | None = field(default=None, repr=False)
    resources: frozenset[str] = frozenset()
    actions: frozenset[str] = frozenset()
    projects: frozenset[str] = frozenset()
    levels: frozenset[str] = frozenset()

    def public(self) -> dict[str, Any]:
        """What may be shown: no URL, no secret."""
        shown: dict[str, Any] = {"name": self.name, "kind": self.kind}
        for name in FILTERS:
            values = getattr(self, name)
            if values:
                shown[name] = sorted(values)
        return shown

    def signing_key(self) -> bytes:
        assert self.secret is not None  # checked when the settings were read
        return base64.b64decode(self.secret.removeprefix("whsec_"))


@dataclass(frozen=True)
class ForwardSettings:
    targets: tuple[Target, ...] = ()
    admin_token: str | None = field(default=None, repr=False)
    retry_seconds: tuple[float, ...] = DEFAULT_RETRY_SECONDS
    timeout_seconds: float = 10.0
    concurrency: int = 4
    poll_seconds: float = 1.0

    @property
    def attempts(self) -> int:
        return len(self.retry_seconds) + 1

    def redacted(self) -> dict[str, Any]:
        return {
            "targets": [target.public() for target in self.targets],
            "admin_token": "***" if self.admin_token else None,
            "retry_seconds": list(self.retry_seconds),
            "timeout_seconds": self.timeout_seconds,
            "concurrency": self.concurrency,
            "poll_seconds": self.poll_seconds,
        }


# The receiver's setting names this module reads (`forward_*` map to ForwardSettings fields).
SETTING_NAMES = (
    "forward",
    "admin_token",
    "forward_retry_seconds",
    "forward_timeout_seconds",
    "forward_concurrency",
    "forward_poll_seconds",
)


def read_forward_settings(
    raw: dict[str, Any], secrets: tuple[str, ...], label: Label = str
) -> ForwardSettings:
    targets = _targets(raw.get("forward", []), label("forward"))
    token = raw.get("admin_token")
    if token is not None and (not isinstance(token, str) or len(token) < MIN_ADMIN_TOKEN_LENGTH):
        raise ForwardConfigError(
            f"{label('admin_token')}: give a random string of at least {MIN_ADMIN_TOKEN_LENGTH} characters "
            "(the status page asks for it)."
        )
    if token is not None and (token in secrets or token == raw.get("feed_token")):
        raise ForwardConfigError(
            f"{label('admin_token')}: must differ from the client secrets and the feed token."
        )
    retry = raw.get("forward_retry_seconds", list(DEFAULT_RETRY_SECONDS))
    if isinstance(retry, str):
        retry = _json(retry, label("forward_retry_seconds"), "[5, 300, 1800]")
    if not isinstance(retry, list) or not retry:
        raise ForwardConfigError(
            f"{label('forward_retry_seconds')}: give a list of delays in seconds, one per retry, "
            "e.g. [5, 300, 1800, 7200, 18000, 36000]."
        )
    try:
        return ForwardSettings(
            targets=targets,
            admin_token=token,
            retry_seconds=tuple(
                number(f"{label('forward_retry_seconds')}[{index}]", delay, 0, MAX_RETRY_SECONDS)
                for index, delay in enumerate(retry)
            ),
            timeout_seconds=number(
                label("forward_timeout_seconds"), raw.get("forward_timeout_seconds", 10.0), 0.05, 120
            ),
            concurrency=whole_number(label("forward_concurrency"), raw.get("forward_concurrency", 4), 1, 64),
            poll_seconds=number(
                label("forward_poll_seconds"), raw.get("forward_poll_seconds", 1.0), 0.01, 60
            ),
        )
    except NumberError as error:
        raise ForwardConfigError(str(error)) from None


def _targets(value: Any, name: str) -> tuple[Target, ...]:
    example = '[{"name": "ops", "kind": "slack", ...}]'
    if isinstance(value, str):
        value = _json(value, name, example)
    if not isinstance(value, list):
        raise ForwardConfigError(f"{name}: give a list of targets, e.g. {example}.")
    targets = [_target(f"{name}[{index}]", item) for index, item in enumerate(value)]
    names = [target.name for target in targets]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ForwardConfigError(f"{name}: each target needs its own name; repeated: {', '.join(repeated)}.")
    return tuple(targets)


def _target(where: str, item: Any) -> Target:
    if not isinstance(item, dict):
        raise ForwardConfigError(f"{where}: give an object with name, kind, url (and secret for webhook).")
    known = {"name", "kind", "url", "secret", *FILTERS}
    unknown = sorted(set(item) - known)
    if unknown:
        raise ForwardConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}."
        )
    name = item.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 64 or not name.isprintable():
        raise ForwardConfigError(
            f"{where}.name: give a short name (it labels logs, metrics and the status page)."
        )
    where = f"{where} ({name})"
    kind = item.get("kind")
    if kind not in KINDS:
        raise ForwardConfigError(f"{where}.kind: one of {', '.join(KINDS)}.")
    url = item.get("url")
    try:
        parts = urlsplit(url) if isinstance(url, str) else None
    except ValueError:  # an unclosed "[" of an IPv6 address
        parts = None
    if not isinstance(url, str) or not parts or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ForwardConfigError(f"{where}.url: give an http:// or https:// URL (not shown here).")
    secret = item.get("secret")
    if kind == "webhook":
        secret = _whsec(where, secret)
    elif secret is not None:
        raise ForwardConfigError(f"{where}.secret: a slack target has none (its URL is the credential).")
    filters: dict[str, frozenset[str]] = {}
    for name_ in FILTERS:
        values = item.get(name_, [])
        if isinstance(values, str):
            values = [values]
        if not isinstance(values, list) or not all(isinstance(v, str | int) for v in values):
            raise ForwardConfigError(f"{where}.{name_}: give a list of strings.")
        filters[name_] = frozenset(str(v) for v in values)
    return Target(name=name.strip(), kind=kind, url=url, secret=secret, **filters)


def _whsec(where: str, secret: Any) -> str:
    hint = (
        f"{where}.secret: give a Standard Webhooks secret, whsec_ followed by base64 of 24 to 64 random bytes"
    )
    if not isinstance(secret, str) or not secret.startswith("whsec_"):
        raise ForwardConfigError(hint + ".")
    try:
        key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except (binascii.Error, ValueError):
        raise ForwardConfigError(hint + " (its base64 part does not decode).") from None
    if not 24 <= len(key) <= 64:
        raise ForwardConfigError(hint + f" (it holds {len(key)} bytes).")
    return secret


def _json(text: str, name: str, example: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ForwardConfigError(
            f"{name}: not valid JSON (column {error.colno}); give JSON text, e.g. {example}."
        ) from None
