"""The manifest as the packaged connector runs it: the same manifest, with the pieces that
`components.py` does faster swapped for those components when it is loaded. The Cloud manifest
keeps the declarative originals.

A piece is swapped only when it is exactly the one a component was written for: a Jinja condition
is recognised by a digest of its text, so an edited template is left as the manifest says (and a
test, which requires every such piece to be swapped, fails until the component follows the edit).
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Final

from source_sentry.packaged.components import UNREADABLE_PREDICATE, WEB_PAGE_PREDICATE

_COMPONENTS: Final = "source_sentry.packaged.components"

# Digest of a condition's words (see `_digest`) -> the component doing that condition's work.
RECORD_FILTERS: Final[dict[str, dict[str, Any]]] = {
    # definitions.streams.events: received (else created) within the slice's window; on GlitchTip
    # also the older events the data feed stops at
    "6d85d3fd08bf82fc": {"class_name": f"{_COMPONENTS}.EventWindowFilter"},
    # definitions.streams.issues: lastSeen within the slice's window; on GlitchTip also older ones
    "9a55113ea2934433": {"class_name": f"{_COMPONENTS}.IssueWindowFilter"},
    # definitions.project_scope_stream: the configured projects
    "3983f452c6e251a9": {"class_name": f"{_COMPONENTS}.ProjectScopeFilter"},
    # definitions.streams.releases: releases of a configured project
    "bce713f9a1e46769": {"class_name": f"{_COMPONENTS}.ReleaseScopeFilter"},
    # definitions.deployed_releases_stream: releases in scope deployed since the slice's start
    "6fc72c0001541635": {"class_name": f"{_COMPONENTS}.DeployedReleaseFilter"},
    # definitions.streams.monitors: monitors of a configured project
    "436296cd28f42b6a": {"class_name": f"{_COMPONENTS}.MonitorScopeFilter"},
}
# Digest of an AddFields' condition and fields -> the component doing its work.
TRANSFORMATIONS: Final[dict[str, str]] = {
    # definitions.streams.events: on GlitchTip, projectID as a string
    "6eff46ad064e522d": f"{_COMPONENTS}.GlitchTipProjectId",
    # definitions.streams.releases: a release without an id gets its version
    "548bebcf34b5020e": f"{_COMPONENTS}.ReleaseIdFromVersion",
    # definitions.streams.sessions: a group's environment, when it has one
    "7d176c0e4ef17f17": f"{_COMPONENTS}.SessionEnvironment",
}
# definitions.paginator: the Link header's `next` cursor while results="true"
LINK_HEADER_PAGINATION: Final = "2dce9fdfd8753c65"
# Paginations that read the body they page, which the CDK decodes once anyway: no component
# would save anything, so they stay as written (digest -> where).
BODY_PAGINATIONS: Final = {
    # definitions.streams.webhook_deliveries: the receiver's feed, `next_after` while `more`
    "81b1dbcf2e9ac6a2": "webhook_deliveries",
}


@dataclass
class Swap:
    manifest: dict[str, Any]
    swapped: list[str] = field(default_factory=list)
    # Pieces a component exists for, in a shape it was not written for: left as the manifest says.
    left: list[str] = field(default_factory=list)
    # Of those left, each recognised by a digest: path -> (the table above naming it, its digest).
    left_digests: dict[str, tuple[str, str]] = field(default_factory=dict)


def packaged_manifest(manifest: dict[str, Any]) -> Swap:
    """A copy of `manifest` (parsed YAML, references not yet resolved) with the pieces swapped."""
    swap = Swap(copy.deepcopy(manifest))
    swap.manifest = _walk(swap.manifest, "", swap)
    return swap


def _digest(*texts: str) -> str:
    return hashlib.sha256(" ".join("\n".join(texts).split()).encode()).hexdigest()[:16]


def _walk(node: Any, path: str, swap: Swap) -> Any:
    if isinstance(node, list):
        return [_walk(item, f"{path}[{index}]", swap) for index, item in enumerate(node)]
    if not isinstance(node, dict):
        return node
    node = {key: _walk(value, f"{path}.{key}", swap) for key, value in node.items()}
    replacement = _replacement(node)
    if replacement is None:
        if _has_component(node):
            swap.left.append(path)
            recognised_by = _table_and_digest(node)
            if recognised_by is not None:
                swap.left_digests[path] = recognised_by
        return node
    swap.swapped.append(path)
    return replacement


def _replacement(node: dict[str, Any]) -> dict[str, Any] | None:
    kind = node.get("type")
    if kind == "RecordFilter":
        known = RECORD_FILTERS.get(_digest(node.get("condition", "")))
        # The condition stays: the CDK hands it to a client-side incremental stream's own filter.
        return {**node, "type": "CustomRecordFilter", **known} if known else None
    if kind == "CursorPagination":
        if _digest(node.get("cursor_value", ""), node.get("stop_condition", "")) != LINK_HEADER_PAGINATION:
            return None
        return {
            "type": "CustomPaginationStrategy",
            "class_name": f"{_COMPONENTS}.LinkHeaderPagination",
            "page_size": node.get("page_size"),
        }
    if kind == "DefaultErrorHandler":
        return {**node, "type": "CustomErrorHandler", "class_name": f"{_COMPONENTS}.SentryErrorHandler"}
    if kind == "SimpleRetriever":
        if "decoder" in node:
            return None
        return {
            **node,
            "decoder": {"type": "CustomDecoder", "class_name": f"{_COMPONENTS}.SharedJsonDecoder"},
        }
    if kind == "AddFields" and node.get("condition"):
        class_name = TRANSFORMATIONS.get(_add_fields_digest(node))
        return {"type": "CustomTransformation", "class_name": class_name} if class_name else None
    if kind == "HttpResponseFilter" and node.get("predicate"):
        # SentryErrorHandler judges these predicates without a second decode; left in place.
        return node if node["predicate"] in (UNREADABLE_PREDICATE, WEB_PAGE_PREDICATE) else None
    return None


def _table_and_digest(node: dict[str, Any]) -> tuple[str, str] | None:
    """The table of this module that recognises a piece of this kind, and the piece's digest."""
    kind = node.get("type")
    if kind == "RecordFilter":
        return "RECORD_FILTERS", _digest(node.get("condition", ""))
    if kind == "CursorPagination":
        return "LINK_HEADER_PAGINATION", _digest(node.get("cursor_value", ""), node.get("stop_condition", ""))
    if kind == "AddFields":
        return "TRANSFORMATIONS", _add_fields_digest(node)
    return None


def _add_fields_digest(node: dict[str, Any]) -> str:
    return _digest(node.get("condition", ""), json.dumps(node.get("fields"), sort_keys=True))


def _has_component(node: dict[str, Any]) -> bool:
    """Whether a piece of this kind is one the components replace (a retriever always: it gets
    the shared decoder; a response filter when it judges the body; an AddFields when a condition,
    rendered per record, decides whether it applies)."""
    kind = node.get("type")
    if kind == "CursorPagination":
        return _digest(node.get("cursor_value", ""), node.get("stop_condition", "")) not in BODY_PAGINATIONS
    return (
        kind in ("RecordFilter", "SimpleRetriever")
        or (kind == "HttpResponseFilter" and bool(node.get("predicate")))
        or (kind == "AddFields" and bool(node.get("condition")))
    )
