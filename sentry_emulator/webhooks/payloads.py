"""What a webhook carries: the envelope, its bytes, its signature, and the ``data`` of each
resource (shapes from Sentry's integration platform documentation and its webhook code)."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from .. import data, serialize
from ..data import Issue, World
from ..timeutil import US, fmt

SENTRY_ACTOR = {"type": "application", "id": "sentry", "name": "Sentry"}


def body_bytes(action: str, installation_uuid: str, payload: dict, actor: dict) -> bytes:
    """The envelope as Sentry writes it: compact separators, non-ASCII escaped."""
    envelope = {
        "action": action,
        "installation": {"uuid": installation_uuid},
        "data": payload,
        "actor": actor,
    }
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def signature(client_secret: str, body: bytes) -> str:
    """``Sentry-Hook-Signature``: HMAC-SHA256 of the exact body, keyed with the client secret."""
    return hmac.new(client_secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def user_actor(w: World) -> dict:
    """The member behind a user token: every user token of the emulator is the owner's."""
    owner = data.members(w)[0]
    return {"type": "user", "id": int(owner["user_id"]), "name": owner["name"]}


def issue_data(w: World, iss: Issue) -> dict:
    """``data.issue``: the issue as the API serializes it, plus its API, web and project URLs."""
    base, org = w.web_url, w.org_slug
    return serialize.issue(w, iss, org_endpoint=True) | {
        "url": f"{base}/api/0/organizations/{org}/issues/{iss.id}/",
        "web_url": f"{base}/organizations/{org}/issues/{iss.id}/",
        "project_url": f"{base}/organizations/{org}/projects/{iss.project.slug}/",
    }


def error_data(w: World, ev: dict) -> dict:
    """``data.error``: the stored event in Sentry's storage form (``Event.as_dict``: the fixed
    fields first, then the event's data by key), plus its API and web URLs and its issue's."""
    full = serialize.event_full(w, ev)
    iss: Issue = ev["issue"]
    p = ev["project"]
    exception = full["entries"][0]["data"]["values"][0]
    tags = [[t["key"], t["value"]] for t in full["tags"]]
    release = next((v for k, v in tags if k == "release"), None)
    rest: dict[str, Any] = {
        "_ref": int(p.id),
        "_ref_version": 2,
        "contexts": full["contexts"],
        "culprit": full["culprit"],
        "environment": next(v for k, v in tags if k == "environment"),
        "exception": {
            "values": [
                {
                    "type": exception["type"],
                    "value": exception["value"],
                    "module": None,
                    "mechanism": exception["mechanism"],
                    "stacktrace": {"frames": [_frame(f) for f in exception["stacktrace"]["frames"]]},
                }
            ]
        },
        "fingerprint": ["{{ default }}"],
        "grouping_config": full["groupingConfig"],
        "hashes": full["fingerprints"],
        "key_id": str(int(p.id) % 1_000_000),
        "level": iss.level,
        "location": full["location"],
        "logger": "",
        "metadata": full["metadata"],
        "received": ev["received"] / US,
        "request": _request(full),
        "sdk": full["sdk"],
        "time_spent": None,
        "timestamp": ev["t"] / US,
        "title": full["title"],
        "type": "error",
        "user": full["user"],
        "version": "7",
    }
    base, org = w.web_url, w.org_slug
    return {
        "event_id": ev["id"],
        "project": int(p.id),
        "release": release,
        "dist": None,
        "platform": p.platform,
        "message": "",
        "datetime": fmt(ev["t"], 6),
        "tags": tags,
        **dict(sorted(rest.items())),
        "url": f"{base}/api/0/projects/{org}/{p.slug}/events/{ev['id']}/",
        "web_url": f"{base}/organizations/{org}/issues/{iss.id}/events/{ev['id']}/",
        "issue_url": f"{base}/api/0/organizations/{org}/issues/{iss.id}/",
        "issue_id": iss.id,
    }


def _request(full: dict) -> dict | None:
    """The HTTP request entry as stored: its fields without the API's inferred content type."""
    entry = next((e["data"] for e in full["entries"] if e["type"] == "request"), None)
    if entry is None:
        return None
    return {k: v for k, v in entry.items() if k != "inferredContentType"}


def _frame(f: dict) -> dict:
    """A stack frame as stored (snake_case), not as the API serializes it (camelCase)."""
    return {
        "filename": f["filename"],
        "abs_path": f["absPath"],
        "module": f["module"],
        "function": f["function"],
        "lineno": f["lineNo"],
        "in_app": f["inApp"],
        "context_line": f["context"][0][1] if f["context"] else None,
    }


def comment_data(iss: Issue, comment_id: str, text: str, timestamp_us: int) -> dict:
    """``data`` of a comment webhook: the text, the ids as integers, the time of the change."""
    return {
        "comment_id": int(comment_id),
        "issue_id": int(iss.id),
        "project_slug": iss.project.slug,
        "timestamp": fmt(timestamp_us, 6),
        "comment": text,
    }
