"""Which targets a delivery goes to: every filter a target names must match, and a filter it
leaves out matches everything."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from source_sentry.webhooks.forward.config import Target


@dataclass(frozen=True)
class Facts:
    """What the filters look at, read from a kept delivery."""

    resource: str | None
    action: str | None
    project_slug: str | None
    project_id: str | None
    level: str | None


def facts(
    resource: str | None, action: str | None, slug: str | None, project_id: str | None, body: bytes
) -> Facts:
    return Facts(resource, action, slug, project_id, level_of(parse(body)))


def parse(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def subject_of(payload: dict[str, Any]) -> dict[str, Any]:
    """The issue or event a delivery is about (`data.issue`, `data.error`, `data.event`)."""
    data = payload.get("data")
    if not isinstance(data, dict):
        return {}
    for key in ("issue", "error", "event"):
        if isinstance(data.get(key), dict):
            return dict(data[key])
    return {}


def level_of(payload: dict[str, Any]) -> str | None:
    level = subject_of(payload).get("level")
    return str(level) if level is not None else None


def chosen(targets: Sequence[Target], seen: Facts) -> list[Target]:
    return [target for target in targets if matches(target, seen)]


def matches(target: Target, seen: Facts) -> bool:
    if target.resources and seen.resource not in target.resources:
        return False
    if target.actions and seen.action not in target.actions:
        return False
    # error.created names its project by id only, so a project filter may list ids too.
    if target.projects and not ({seen.project_slug, seen.project_id} & target.projects):
        return False
    return not (target.levels and seen.level not in target.levels)
