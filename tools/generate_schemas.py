"""Derive the Airbyte stream schemas in source_sentry/schemas/ from Sentry's OpenAPI description.

Run once when the vendored OpenAPI subset changes (naming streams writes only those):
    python tools/generate_schemas.py ../shared/sentry-api/openapi-subset.json [stream ...]

Endpoints the subset lacks (monitor check-ins, replays) are described in DOCUMENTED below, from
Sentry's own API docs and serializers, in the same OpenAPI terms.

Every property becomes nullable: Sentry sends null in fields its description marks as required
(`firstEvent`, `dateReleased`, `user`, ...), and a destination must not reject a record for it.
Objects stay open (additionalProperties) because Sentry adds fields between server versions.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "source_sentry" / "schemas"

# Typed where the description leaves them untyped, as Sentry's project serializer writes them (only
# when a stats period is asked for, which the connector does not): an untyped column is one a
# destination (PyAirbyte's caches among them) cannot type.
_PROJECT_STATS: dict[str, Any] = {
    "stats": {"type": "array", "items": {"type": "array"}},
    "transactionStats": {"type": "array", "items": {"type": "array"}},
    "sessionStats": {"type": "object"},
}

# stream name -> (OpenAPI path, extra properties Sentry returns that the description leaves out)
STREAMS: dict[str, tuple[str, dict[str, Any]]] = {
    "projects": ("/api/0/organizations/{organization_id_or_slug}/projects/", _PROJECT_STATS),
    "project_detail": ("/api/0/projects/{organization_id_or_slug}/{project_id_or_slug}/", _PROJECT_STATS),
    "events": (
        "/api/0/projects/{organization_id_or_slug}/{project_id_or_slug}/events/",
        {
            # Only with full=true, which the connector always sends.
            "dateReceived": {"type": "string", "format": "date-time"},
            "entries": {"type": "array", "items": {"type": "object"}},
            "contexts": {"type": "object"},
            "context": {"type": "object"},
            "sdk": {"type": "object"},
            "errors": {"type": "array", "items": {"type": "object"}},
            "fingerprints": {"type": "array", "items": {"type": "string"}},
            "size": {"type": "integer"},
            "type": {"type": "string"},
            "packages": {"type": "object"},
        },
    ),
    "issues": ("/api/0/organizations/{organization_id_or_slug}/issues/", {}),
    "releases": ("/api/0/organizations/{organization_id_or_slug}/releases/", {}),
    "user_feedback": (
        "/api/0/projects/{organization_id_or_slug}/{project_id_or_slug}/user-feedback/",
        {
            # Added by the connector: the project the report came from.
            "projectId": {"type": "string"},
            "projectSlug": {"type": "string"},
        },
    ),
}

_STR = {"type": "string"}
_INT = {"type": "integer"}
_DATE = {"type": "string", "format": "date-time"}
_STRS = {"type": "array", "items": _STR}


def _obj(**props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": props}


# Item schemas of endpoints outside the OpenAPI subset, in OpenAPI terms.
DOCUMENTED: dict[str, dict[str, Any]] = {
    # organizations/{org}/monitors/{monitor}/checkins/ (Sentry's MonitorCheckInSerializer), plus
    # the monitor the connector read them for.
    "monitor_checkins": _obj(
        id=_STR,
        environment=_STR,
        status={"type": "string", "enum": ["ok", "error", "in_progress", "missed", "timeout", "unknown"]},
        duration=_INT,
        dateCreated=_DATE,
        dateAdded=_DATE,
        dateUpdated=_DATE,
        dateClock=_DATE,
        dateInProgress=_DATE,
        expectedTime=_DATE,
        monitorConfig={"type": "object"},
        groups={"type": "array", "items": {"type": "object"}},
        monitorId=_STR,
        monitorSlug=_STR,
    ),
    # organizations/{org}/replays/ ("List an Organization's Replays"; the replay index's fields).
    "replays": _obj(
        id=_STR,
        project_id=_STR,
        activity=_INT,
        browser=_obj(name=_STR, version=_STR),
        count_dead_clicks=_INT,
        count_rage_clicks=_INT,
        count_errors=_INT,
        count_warnings=_INT,
        count_infos=_INT,
        count_segments=_INT,
        count_urls=_INT,
        device=_obj(brand=_STR, family=_STR, model=_STR, name=_STR),
        dist=_STR,
        duration=_INT,
        environment=_STR,
        error_ids=_STRS,
        warning_ids=_STRS,
        info_ids=_STRS,
        finished_at=_DATE,
        started_at=_DATE,
        has_viewed={"type": "boolean"},
        is_archived={"type": "boolean"},
        os=_obj(name=_STR, version=_STR),
        ota_updates={"type": "object"},
        platform=_STR,
        releases=_STRS,
        sdk=_obj(name=_STR, version=_STR),
        tags={"type": "object"},
        trace_ids=_STRS,
        urls=_STRS,
        clicks={"type": "array", "items": {"type": "object"}},
        user=_obj(display_name=_STR, email=_STR, id=_STR, ip=_STR, username=_STR, geo={"type": "object"}),
    ),
}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of an OpenAPI schema node as a JSON schema that also accepts null everywhere."""
    out: dict[str, Any] = {}
    for key in ("description", "format", "enum"):
        if key in schema:
            out[key] = schema[key]
    if "enum" in out:
        out["enum"] = [*out["enum"], None] if None not in out["enum"] else out["enum"]
    if "anyOf" in schema or "oneOf" in schema:
        alternatives = schema.get("anyOf", schema.get("oneOf", []))
        if "type" in schema:
            # The node's own type rules out the others (Sentry writes null as a `not` string).
            alternatives = [a for a in alternatives if a.get("type") == schema["type"]] or alternatives
        if len(alternatives) == 1:
            # One alternative: that type, nullable, which a destination can type where it cannot
            # type an anyOf.
            return {**out, **nullable(alternatives[0])}
        options = [nullable(s) for s in alternatives]
        return {"anyOf": [*options, {"type": "null"}]}
    kind = schema.get("type")
    if kind is None:
        return {}  # any value: Sentry's description says nothing about it
    types = kind if isinstance(kind, list) else [kind]
    out["type"] = [*types, "null"] if "null" not in types else types
    if "object" in types:
        props = schema.get("properties")
        if props:
            out["properties"] = {name: nullable(sub) for name, sub in props.items()}
        out["additionalProperties"] = True
    if "array" in types:
        out["items"] = nullable(schema.get("items", {}))
    if out.get("format") == "date-time":
        out["airbyte_type"] = "timestamp_with_timezone"
    return out


def item_schema(openapi: dict[str, Any], path: str) -> dict[str, Any]:
    response = openapi["paths"][path]["get"]["responses"]["200"]
    schema = response["content"]["application/json"]["schema"]
    return schema["items"] if schema.get("type") == "array" else schema


def build(openapi: dict[str, Any]) -> dict[str, dict[str, Any]]:
    items = {stream: item_schema(openapi, path) for stream, (path, _extra) in STREAMS.items()}
    extras = {stream: extra for stream, (_path, extra) in STREAMS.items()}
    result = {}
    for stream, item in {**items, **DOCUMENTED}.items():
        node = nullable(item)
        node["properties"].update({name: nullable(sub) for name, sub in extras.get(stream, {}).items()})
        # The primary key is never null: keep Sentry's own type for it, but for releases: the
        # manifest writes their integer id as text, since GlitchTip's (their version) is text and
        # one column must hold both.
        key_type = "string" if stream == "releases" else item["properties"]["id"]["type"]
        node["properties"]["id"] = {"type": key_type}
        node["type"] = "object"  # a record itself is never null
        result[stream] = {"$schema": "http://json-schema.org/draft-07/schema#", **node}
    return result


def main(argv: list[str]) -> int:
    openapi = json.loads(Path(argv[1]).read_text())
    SCHEMA_DIR.mkdir(parents=True, exist_ok=True)
    chosen = set(argv[2:])
    for stream, schema in build(openapi).items():
        if chosen and stream not in chosen:
            continue
        (SCHEMA_DIR / f"{stream}.json").write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
        print(f"wrote {stream}.json ({len(schema['properties'])} properties)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
