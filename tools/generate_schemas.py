"""Derive the Airbyte stream schemas in source_sentry/schemas/ from Sentry's OpenAPI description.

Run once when the vendored OpenAPI subset changes:
    python tools/generate_schemas.py ../shared/sentry-api/openapi-subset.json

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

# stream name -> (OpenAPI path, extra properties Sentry returns that the description leaves out)
STREAMS: dict[str, tuple[str, dict[str, Any]]] = {
    "projects": ("/api/0/organizations/{organization_id_or_slug}/projects/", {}),
    "project_detail": ("/api/0/projects/{organization_id_or_slug}/{project_id_or_slug}/", {}),
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
        options = [nullable(s) for s in schema.get("anyOf", schema.get("oneOf", []))]
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
    result = {}
    for stream, (path, extra) in STREAMS.items():
        node = nullable(item_schema(openapi, path))
        node["properties"].update({name: nullable(sub) for name, sub in extra.items()})
        # The primary key is never null: keep Sentry's own type for it (integer for releases).
        node["properties"]["id"] = {"type": item_schema(openapi, path)["properties"]["id"]["type"]}
        node["type"] = "object"  # a record itself is never null
        result[stream] = {"$schema": "http://json-schema.org/draft-07/schema#", **node}
    return result


def main(argv: list[str]) -> int:
    openapi = json.loads(Path(argv[1]).read_text())
    SCHEMA_DIR.mkdir(parents=True, exist_ok=True)
    for stream, schema in build(openapi).items():
        (SCHEMA_DIR / f"{stream}.json").write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
        print(f"wrote {stream}.json ({len(schema['properties'])} properties)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
