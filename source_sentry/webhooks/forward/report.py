"""Per-target state as data (the status page, its JSON, the CLI) and as text (the CLI)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from source_sentry.webhooks.forward.config import ForwardSettings
from source_sentry.webhooks.forward.outbox import STATES, Entry, Outbox

RECENT = 20
FAILED = "o.state = 'dead' OR (o.state = 'pending' AND o.attempts > 0)"


def status_report(outbox: Outbox, settings: ForwardSettings) -> dict[str, Any]:
    now = int(time.time() * 1000)
    counts = outbox.counts(now)
    disabled = outbox.disabled()
    kinds = {target.name: target.kind for target in settings.targets}
    # Rows of a target since removed from the settings still show, so nothing pending hides.
    names = [*kinds, *sorted(set(counts) - set(kinds))]
    return {
        "targets": [
            {
                "name": name,
                "kind": kinds.get(name, "not configured"),
                "disabled": disabled.get(name),
                "counts": {state: counts.get(name, {}).get(state, 0) for state in STATES},
            }
            for name in names
        ],
        "failures": [entry_json(e) for e in outbox.entries(FAILED, (), RECENT)],
        "recent": [entry_json(e) for e in outbox.entries("o.state = 'sent'", (), RECENT)],
    }


def entry_json(entry: Entry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "target": entry.target,
        "seq": entry.seq,
        "webhook_id": entry.webhook_id,
        "resource": entry.resource,
        "action": entry.action,
        "project": entry.project,
        "state": entry.state,
        "attempts": entry.attempts,
        "last_status": entry.last_status,
        "last_error": entry.last_error,
        "last_attempt": when(entry.last_attempt_ms),
        "sent": when(entry.sent_ms),
    }


def when(epoch_ms: int | None) -> str | None:
    if epoch_ms is None:
        return None
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def status_text(report: dict[str, Any]) -> str:
    header = ["target", "kind", *STATES, "disabled"]
    rows = [
        [t["name"], t["kind"], *(str(t["counts"][s]) for s in STATES), t["disabled"] or ""]
        for t in report["targets"]
    ]
    return _table(header, rows) if rows else "No forward targets configured and no outbox rows.\n"


def dead_text(entries: list[Entry]) -> str:
    if not entries:
        return "No dead deliveries.\n"
    header = [
        "row",
        "target",
        "seq",
        "what",
        "webhook-id",
        "attempts",
        "last status",
        "last error",
        "last try",
    ]
    rows = [
        [
            str(e.id),
            e.target,
            str(e.seq),
            f"{e.resource}.{e.action}",
            e.webhook_id,
            str(e.attempts),
            str(e.last_status or ""),
            e.last_error or "",
            when(e.last_attempt_ms) or "",
        ]
        for e in entries
    ]
    return _table(header, rows)


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
    return "\n".join(lines) + "\n"
