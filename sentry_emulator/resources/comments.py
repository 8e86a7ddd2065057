"""An issue's comments (Sentry's notes: activities of type ``note``), each change sending
Sentry's ``comment`` webhook."""

from __future__ import annotations

from .. import data, serialize
from ..auth import EVENT_READ
from ..request import NOT_FOUND, ApiError
from ..timeutil import US, fmt, now_us
from ..webhooks import payloads
from .issue_updates import EVENT_WRITE, actor_of, issue_for, issue_route

# Sentry refuses the same text from the same user on the same issue within an hour.
REPEAT_WINDOW_US = 3600 * US


def _note(emu, note: dict) -> dict:
    owner = next(m for m in data.members(emu.world) if m["user_id"] == note["user_id"])
    return {
        "id": note["id"],
        "user": serialize.member(emu.world, owner)["user"],
        "sentry_app": None,
        "type": "note",
        "data": {"text": note["text"], "mentions": []},
        "dateCreated": fmt(note["created"], 6),
    }


def _text(req) -> str:
    text = req.json_body().get("text")
    if not isinstance(text, str) or not text.strip():
        raise ApiError(400, {"text": ["This field is required."]})
    return text


@issue_route("GET", "comments/")
def list_comments(emu, req, issue_id: str, org: str | None = None):
    iss = issue_for(emu, req, org, issue_id, EVENT_READ)
    return 200, [_note(emu, n) for n in reversed(iss.notes)]


@issue_route("POST", "comments/")
def create_comment(emu, req, issue_id: str, org: str | None = None):
    iss = issue_for(emu, req, org, issue_id, EVENT_WRITE)
    text = _text(req)
    actor = actor_of(emu, req)
    now = now_us()
    user_id = str(payloads.user_actor(emu.world)["id"])
    if any(
        n["text"] == text and n["user_id"] == user_id and now - n["created"] < REPEAT_WINDOW_US
        for n in iss.notes
    ):
        raise ApiError(400, {"detail": "You have already posted that comment."})
    iss.notes_made += 1
    note = {
        "id": str(1_000_000 + iss.gid * 1000 + iss.notes_made),
        "text": text,
        "user_id": user_id,
        "created": now,
    }
    iss.notes.append(note)
    emu.webhooks.comment(iss, "created", note["id"], text, now, actor)
    return 201, _note(emu, note)


def _find(iss, note_id: str) -> dict:
    note = next((n for n in iss.notes if n["id"] == note_id), None)
    if note is None:
        raise ApiError(404, NOT_FOUND)
    return note


@issue_route("PUT", "comments/{note_id}/")
def update_comment(emu, req, issue_id: str, note_id: str, org: str | None = None):
    iss = issue_for(emu, req, org, issue_id, EVENT_WRITE)
    note = _find(iss, note_id)
    note["text"] = _text(req)
    emu.webhooks.comment(iss, "updated", note["id"], note["text"], now_us(), actor_of(emu, req))
    return 200, _note(emu, note)


@issue_route("DELETE", "comments/{note_id}/")
def delete_comment(emu, req, issue_id: str, note_id: str, org: str | None = None):
    iss = issue_for(emu, req, org, issue_id, EVENT_WRITE)
    note = _find(iss, note_id)
    iss.notes.remove(note)
    emu.webhooks.comment(iss, "deleted", note["id"], note["text"], now_us(), actor_of(emu, req))
    return 204, b""
