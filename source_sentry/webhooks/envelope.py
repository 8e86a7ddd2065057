"""What a verified delivery is about, read from its body once the signature matched.

Sentry's body is `{"action", "installation": {"uuid"}, "data": {...}, "actor"}`; where the ids
sit in `data` depends on the resource. A body that is not such JSON is kept all the same, with
`parse_error` set: a signed delivery is Sentry's word and is never dropped.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Envelope:
    resource: str | None
    action: str | None
    installation_uuid: str | None
    actor: dict[str, Any] | None
    issue_id: str | None
    event_id: str | None
    comment_id: str | None
    project_id: str | None
    project_slug: str | None
    subject: str  # what a retry is recognised against (see store.base)
    parse_error: bool


def read_envelope(resource: str | None, body: bytes) -> Envelope:
    try:
        parsed = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        parsed = None
    if not isinstance(parsed, dict):
        return _unreadable(resource, body)
    data = parsed.get("data")
    if not isinstance(data, dict):
        data = {}
    ids = _subject_ids(resource, data)
    installation = parsed.get("installation")
    actor = parsed.get("actor")
    primary = _primary_id(resource, ids, installation)
    return Envelope(
        resource=resource,
        action=_text(parsed.get("action")),
        installation_uuid=_text(installation.get("uuid")) if isinstance(installation, dict) else None,
        actor=actor if isinstance(actor, dict) else None,
        issue_id=ids["issue_id"],
        event_id=ids["event_id"],
        comment_id=ids["comment_id"],
        project_id=ids["project_id"],
        project_slug=ids["project_slug"],
        subject=f"{resource}:{primary}" if primary else _body_subject(body),
        parse_error=False,
    )


def _unreadable(resource: str | None, body: bytes) -> Envelope:
    return Envelope(
        resource=resource,
        action=None,
        installation_uuid=None,
        actor=None,
        issue_id=None,
        event_id=None,
        comment_id=None,
        project_id=None,
        project_slug=None,
        subject=_body_subject(body),
        parse_error=True,
    )


def _body_subject(body: bytes) -> str:
    """Deliveries naming no subject are each their own: only the same bytes are a retry."""
    return "body:" + hashlib.sha256(body).hexdigest()


def _subject_ids(resource: str | None, data: dict[str, Any]) -> dict[str, str | None]:
    ids: dict[str, str | None] = dict.fromkeys(
        ("issue_id", "event_id", "comment_id", "project_id", "project_slug")
    )
    issue = data.get("issue")
    if isinstance(issue, dict):  # issue.*, and the issue of some alert resources
        ids["issue_id"] = _text(issue.get("id"))
        project = issue.get("project")
        if isinstance(project, dict):
            ids["project_id"] = _text(project.get("id"))
            ids["project_slug"] = _text(project.get("slug"))
    event = data.get("error") if resource == "error" else data.get("event")
    if isinstance(event, dict):  # error.created, event_alert.triggered
        ids["event_id"] = _text(event.get("event_id"))
        ids["issue_id"] = ids["issue_id"] or _text(event.get("issue_id") or event.get("groupID"))
        ids["project_id"] = ids["project_id"] or _text(event.get("project"))
    if resource == "comment":
        ids["comment_id"] = _text(data.get("comment_id"))
        ids["issue_id"] = ids["issue_id"] or _text(data.get("issue_id"))
        ids["project_slug"] = ids["project_slug"] or _text(data.get("project_slug"))
    return ids


def _primary_id(resource: str | None, ids: dict[str, str | None], installation: Any) -> str | None:
    if resource == "issue":
        return ids["issue_id"]
    if resource in ("error", "event_alert"):
        return ids["event_id"]
    if resource == "comment":
        return ids["comment_id"]
    if resource == "installation" and isinstance(installation, dict):
        return _text(installation.get("uuid"))
    return None


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    return str(value)
