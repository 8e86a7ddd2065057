"""What a slack target receives: one readable message built from the delivery's body, in the
shape Slack's incoming webhooks take (`text` as the notification, `blocks` as the message)."""

from __future__ import annotations

import json
from typing import Any

from source_sentry.webhooks.forward.choose import parse, subject_of


def message(resource: str | None, action: str | None, body: bytes) -> bytes:
    payload = parse(body)
    subject = subject_of(payload)
    title = str(subject.get("title") or subject.get("message") or f"{resource}.{action}")
    short_id = subject.get("shortId")
    project = subject.get("project")
    project_name = project.get("slug") or project.get("name") if isinstance(project, dict) else project
    link = subject.get("web_url") or subject.get("permalink") or subject.get("url")
    headline = f"{short_id}: {title}" if short_id else title
    facts = [
        ("Project", project_name),
        ("Level", subject.get("level")),
        ("Events", subject.get("count")),
        ("Status", subject.get("status")),
    ]
    fields = [f"*{label}:* {_escape(str(value))}" for label, value in facts if value not in (None, "")]
    what = f"{resource}.{action}" if resource else str(action)
    linked = f"<{link}|{_escape(headline)}>" if link else _escape(headline)
    text = f"Sentry {what}: {headline}"
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{linked}*\n_{_escape(what)}_"}}
    ]
    if fields:
        blocks.append({"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]})
    return json.dumps({"text": text, "blocks": blocks}, separators=(",", ":")).encode("utf-8")


def _escape(text: str) -> str:
    # Slack's mrkdwn reserves these three; escaping them keeps an issue title from forming links.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
