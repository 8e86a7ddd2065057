"""The declarative manifest beside this file, loaded in one place; what code needs from it
(the stream list, the spec) is read here rather than written again."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

MANIFEST_PATH = Path(__file__).resolve().parent / "manifest.yaml"


def load_manifest() -> dict[str, Any]:
    """A fresh parse of the manifest (callers may change it: the Cloud build inlines schemas)."""
    import yaml

    # libyaml's loader when PyYAML has it: the same document, parsed several times faster (figures:
    # docs/benchmarks.md, "Figures behind the code").
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    manifest: dict[str, Any] = yaml.load(MANIFEST_PATH.read_text(), Loader=loader)  # noqa: S506 - a safe loader
    return manifest


@cache
def shared_manifest() -> dict[str, Any]:
    """One parse of the manifest shared by every reader that does not change it (the stream list,
    the spec, log templates, state keys): a sync used to read and parse the file once for each
    (figures: docs/benchmarks.md, "Figures behind the code")."""
    return load_manifest()


def followed(node: Any) -> Any:
    """`node` with the reference at its top followed, as the CDK resolves one: the node referred
    to, with the keys written beside `$ref` taking precedence (references nested deeper are left
    as written)."""
    while isinstance(node, dict) and "$ref" in node:
        target: Any = shared_manifest()
        for key in node["$ref"].removeprefix("#/").split("/"):
            target = target[key]
        node = {**target, **{key: value for key, value in node.items() if key != "$ref"}}
    return node


@cache
def stream_names() -> tuple[str, ...]:
    """The streams a configuration gets without opting in to any, in the manifest's order: those
    of a `ConditionalStreams` block that an empty config leaves offered (the ones only some servers
    serve) included, those a setting must ask for (see `conditional_stream_names`) left out."""
    return tuple(name for name, condition in _streams_and_conditions() if _offered(condition, {}))


@cache
def conditional_stream_names() -> tuple[str, ...]:
    """The streams offered only when a setting asks for them (`webhook_deliveries` needs the
    webhook receiver's URL and token): a `ConditionalStreams` block an empty config turns off."""
    return tuple(name for name, condition in _streams_and_conditions() if not _offered(condition, {}))


def unserved_stream_names(config: Mapping[str, Any]) -> tuple[str, ...]:
    """The streams this config's server does not serve: those of `stream_names()` whose
    `ConditionalStreams` block this config turns off (with `server: glitchtip`, the ones GlitchTip
    lacks). A stream that needs a setting is not counted: leaving it out is not the server's doing."""
    return tuple(
        name
        for name, condition in _streams_and_conditions()
        if _offered(condition, {}) and not _offered(condition, config)
    )


def _offered(condition: str | None, config: Mapping[str, Any]) -> bool:
    from airbyte_cdk.sources.declarative.interpolation.interpolated_boolean import InterpolatedBoolean

    return condition is None or bool(InterpolatedBoolean(condition=condition, parameters={}).eval(config))


@cache
def _streams_and_conditions() -> tuple[tuple[str, str | None], ...]:
    """Each stream's name and the condition of the `ConditionalStreams` block holding it (None:
    offered to every config)."""
    out: list[tuple[str, str | None]] = []
    for entry in shared_manifest()["streams"]:
        conditional = entry.get("type") == "ConditionalStreams"
        for item in entry["streams"] if conditional else [entry]:
            out.append((followed(item)["name"], entry["condition"] if conditional else None))
    return tuple(out)


@cache
def per_project_stream_names() -> frozenset[str]:
    """The streams read per project (a partition router in their retriever): their state too."""
    streams = shared_manifest()["definitions"]["streams"]
    return frozenset(
        name for name in stream_names() if "partition_router" in followed(streams[name]["retriever"])
    )


@cache
def incremental_stream_names() -> tuple[str, ...]:
    """The streams that can sync incrementally (those with an `incremental_sync`)."""
    streams = shared_manifest()["definitions"]["streams"]
    return tuple(name for name in stream_names() if streams[name].get("incremental_sync"))


@cache
def connection_specification() -> dict[str, Any]:
    spec: dict[str, Any] = shared_manifest()["spec"]["connection_specification"]
    return spec
