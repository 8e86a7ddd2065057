"""Check an incoming Airbyte state before the CDK sees it.

The CDK trusts the state it is given: a cursor value it cannot parse, or a shape it does not
expect, ends the sync with a stack trace. Here each stream's state is checked against the
shape this connector writes; one that does not fit is dropped with a warning, and that stream
starts over from start_date. Nothing else is changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import Any

from source_sentry.manifest import per_project_stream_names, shared_manifest

# The issues stream's position in the webhook feed (the last seq whose changed issues were
# read again), which the packaged connector keeps beside the CDK's keys (packaged/changed_issues.py).
FEED_POSITION_KEY = "webhook_feed_after"
# Keys of the per-partition state the CDK's ConcurrentPerPartitionCursor writes, and ours.
PARTITIONED_STATE_KEYS = {
    "states",
    "state",
    "parent_state",
    "lookback_window",
    "use_global_cursor",
    FEED_POSITION_KEY,
}


@cache
def stream_cursors() -> dict[str, tuple[str | None, bool]]:
    """Each stream's cursor field (None for full refresh) and whether its state is per project."""
    manifest = shared_manifest()
    result: dict[str, tuple[str | None, bool]] = {}
    for name, stream in manifest["definitions"]["streams"].items():
        cursor = (stream.get("incremental_sync") or {}).get("cursor_field")
        result[name] = (cursor, name in per_project_stream_names())
    return result


@cache
def counted_streams() -> frozenset[str]:
    """The streams whose cursor is a sequence number (the webhook feed's seq), not a date."""
    streams = shared_manifest()["definitions"]["streams"]
    return frozenset(
        name
        for name, stream in streams.items()
        if (stream.get("incremental_sync") or {}).get("type") == "IncrementingCountCursor"
    )


def _seq_problem(cursor: Mapping[str, Any], field: str) -> str | None:
    value = cursor.get(field)
    if not cursor or (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
        return None
    if field not in cursor:
        return f"it has no `{field}` cursor (keys: {', '.join(sorted(map(str, cursor))) or 'none'})"
    return f"its `{field}` value {value!r} is not a whole number"


def _is_instant(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _cursor_problem(cursor: Any, field: str) -> str | None:
    if not isinstance(cursor, Mapping):
        return "its cursor is not an object"
    if not cursor:
        return None
    if field not in cursor:
        return f"it has no `{field}` cursor (keys: {', '.join(sorted(map(str, cursor))) or 'none'})"
    if not _is_instant(cursor[field]):
        return f"its `{field}` value {cursor[field]!r} is not an ISO 8601 date"
    return None


def state_problem(stream: str, blob: Any) -> str | None:
    """Why this connector cannot resume `stream` from `blob`, or None when it can."""
    cursor_field, partitioned = stream_cursors().get(stream, (None, False))
    if cursor_field is None:
        return None  # full refresh: any state is ignored by the CDK anyway
    if not isinstance(blob, Mapping):
        return "it is not an object"
    if stream in counted_streams():
        return _seq_problem(blob, cursor_field)
    if not partitioned:
        return _cursor_problem(blob, cursor_field)
    if not blob:
        return None
    unknown = set(blob) - PARTITIONED_STATE_KEYS
    if unknown:
        return (
            f"it has keys this connector does not write ({', '.join(sorted(map(str, unknown)))}); "
            "it looks like another connector's state"
        )
    if FEED_POSITION_KEY in blob and _seq_problem(blob, FEED_POSITION_KEY):
        return f"its `{FEED_POSITION_KEY}` value {blob[FEED_POSITION_KEY]!r} is not a whole number"
    states = blob.get("states", [])
    if not isinstance(states, list):
        return "its `states` is not a list"
    for entry in states:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("partition"), Mapping):
            return "a per-project entry has no `partition` object"
        problem = _cursor_problem(entry.get("cursor"), cursor_field)
        if problem:
            return f"a per-project entry is unusable: {problem}"
    if "state" in blob:
        problem = _cursor_problem(blob["state"], cursor_field)
        if problem:
            return f"its global cursor is unusable: {problem}"
    return None


def _stream_entries(raw: Any) -> list[Any]:
    """The state as a list of AirbyteStateMessage dicts; a legacy {stream: state} map is converted."""
    if isinstance(raw, list):
        return raw
    if isinstance(raw, Mapping):
        return [
            {"type": "STREAM", "stream": {"stream_descriptor": {"name": name}, "stream_state": value}}
            for name, value in raw.items()
        ]
    return []


def _without_global_cursor(blob: Any) -> Any:
    """Drop the CDK's organization-wide cursor from a per-project state.

    The CDK starts a project that has no entry of its own from that global cursor, so a project
    added to `projects`, or one the token could not read before, would skip its history. Without
    it such a project starts from start_date; the projects already in the state are unaffected.
    """
    if isinstance(blob, Mapping) and "states" in blob and "state" in blob:
        return {key: value for key, value in blob.items() if key != "state"}
    return blob


def _newest_status_periods(blob: Any) -> Any:
    """Keep, per project, only the entries of its newest issue-status period.

    Each status period (see `issue_status_refresh_hours`) gives a project a new partition; the
    older ones are never read again, and the CDK would otherwise carry them in the state for
    ever (and switch to one global cursor once there are too many).
    """
    if not isinstance(blob, Mapping) or not isinstance(blob.get("states"), list):
        return blob
    newest: dict[str, str] = {}
    for entry in blob["states"]:
        partition = entry["partition"]
        if "status_period" in partition:
            key = str(partition.get("project_id"))
            newest[key] = max(newest.get(key, ""), str(partition["status_period"]))
    kept = [
        entry
        for entry in blob["states"]
        if "status_period" not in entry["partition"]
        or str(entry["partition"]["status_period"]) == newest[str(entry["partition"].get("project_id"))]
    ]
    return {**blob, "states": kept}


def sanitize_state(raw: Any) -> tuple[list[Any], list[str]]:
    """Return the usable part of a state file and one warning per stream state left out."""
    warnings: list[str] = []
    if not isinstance(raw, (list, Mapping)):
        return [], ["The state is neither a list of state messages nor an object: every stream starts over."]
    clean = []
    for entry in _stream_entries(raw):
        stream = (
            entry.get("stream", {}).get("stream_descriptor", {}).get("name")
            if isinstance(entry, Mapping) and isinstance(entry.get("stream"), Mapping)
            else None
        )
        if stream is None:
            warnings.append(f"Ignored a state entry that names no stream: {str(entry)[:200]}")
            continue
        problem = state_problem(stream, entry["stream"].get("stream_state"))
        if problem:
            warnings.append(
                f"Ignored the saved state of stream `{stream}` because {problem}: "
                "the stream starts over from start_date."
            )
            continue
        if stream_cursors().get(stream, (None, False))[1]:
            entry = {
                **entry,
                "stream": {
                    **entry["stream"],
                    "stream_state": _newest_status_periods(
                        _without_global_cursor(entry["stream"].get("stream_state"))
                    ),
                },
            }
        clean.append(entry)
    return clean, warnings
