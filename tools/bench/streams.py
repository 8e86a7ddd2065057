"""Which stream a request belongs to, from the manifest's own request paths: a stream added to the
manifest is counted without any change here."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from source_sentry.manifest import load_manifest

API_PREFIX = "/api/0/"


@dataclass(frozen=True)
class Endpoint:
    """One request path of the manifest and the streams (public or parent-only) that read it."""

    template: str  # as written in the manifest, with its Jinja
    pattern: re.Pattern[str]
    streams: tuple[str, ...]

    @property
    def shown(self) -> str:
        """The path with each Jinja expression written as `{…}`."""
        return re.sub(r"\{\{.*?\}\}", "{…}", self.template)


def _declarative_streams(node: Any, found: dict[str, str]) -> None:
    if isinstance(node, dict):
        if node.get("type") == "DeclarativeStream" and isinstance(node.get("retriever"), dict):
            requester = node["retriever"].get("requester") or {}
            path = requester.get("path") or requester.get("url")
            if isinstance(path, str):
                found.setdefault(node["name"], path)
        for value in node.values():
            _declarative_streams(value, found)
    elif isinstance(node, list):
        for value in node:
            _declarative_streams(value, found)


def endpoints() -> list[Endpoint]:
    """Every stream's request path, parents included, most specific first."""
    from airbyte_cdk.sources.declarative.parsers.manifest_reference_resolver import (
        ManifestReferenceResolver,
    )

    resolved = ManifestReferenceResolver().preprocess_manifest(load_manifest())
    paths: dict[str, str] = {}
    _declarative_streams(resolved, paths)
    by_template: dict[str, list[str]] = {}
    for stream, template in paths.items():
        by_template.setdefault(template.lstrip("/"), []).append(stream)
    found = []
    for template, streams in by_template.items():
        # A query a path carries (user_feedback's `?status=`) is not part of the logged path.
        parts = re.split(r"(\{\{.*?\}\})", template.split("?")[0])
        regex = "".join("[^/]+" if p.startswith("{{") else re.escape(p) for p in parts)
        pattern = re.compile(f"^{re.escape(API_PREFIX)}{regex.rstrip('/')}/?$")
        found.append(Endpoint(template, pattern, tuple(sorted(streams))))
    return sorted(found, key=lambda e: -len(e.template))


def requests_by_endpoint(log: list[dict[str, Any]], known: list[Endpoint]) -> Counter[str]:
    """Requests per endpoint template (``""`` for a path no stream reads)."""
    counts: Counter[str] = Counter()
    for entry in log:
        path = entry["path"]
        match = next((e.template for e in known if e.pattern.match(path)), "")
        counts[match] += 1
    return counts
