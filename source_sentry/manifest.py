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

    # libyaml's loader when PyYAML has it: the same document, parsed in 0.06 s instead of 0.4 s.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    manifest: dict[str, Any] = yaml.load(MANIFEST_PATH.read_text(), Loader=loader)  # noqa: S506 - a safe loader
    return manifest


@cache
def shared_manifest() -> dict[str, Any]:
    """One parse of the manifest shared by every reader that does not change it (the stream list,
    the spec, log templates, state keys): a sync read the file five times, 13 ms each."""
    return load_manifest()


@cache
def stream_names() -> tuple[str, ...]:
    """The connector's streams, in the manifest's order (those offered on some servers only too)."""
    return tuple(name for name, _condition in _streams_and_conditions())


def unserved_stream_names(config: Mapping[str, Any]) -> tuple[str, ...]:
    """The streams this config's server does not serve: those of a `ConditionalStreams` block
    whose condition the config makes false (with `server: glitchtip`, the ones GlitchTip lacks)."""
    from airbyte_cdk.sources.declarative.interpolation.interpolated_boolean import InterpolatedBoolean

    def offered(condition: str | None) -> bool:
        return condition is None or bool(InterpolatedBoolean(condition=condition, parameters={}).eval(config))

    return tuple(name for name, condition in _streams_and_conditions() if not offered(condition))


@cache
def _streams_and_conditions() -> tuple[tuple[str, str | None], ...]:
    """Each stream's name and the condition of the `ConditionalStreams` block holding it (None:
    offered on every server)."""
    manifest = shared_manifest()
    prefix = "#/definitions/streams/"
    out: list[tuple[str, str | None]] = []
    for entry in manifest["streams"]:
        block = entry.get("streams") if entry.get("type") == "ConditionalStreams" else [entry]
        condition = entry.get("condition") if entry.get("type") == "ConditionalStreams" else None
        for item in block:
            ref = item["$ref"]
            if not ref.startswith(prefix):
                raise ValueError(f"the manifest's stream {ref!r} is not under definitions.streams")
            out.append((manifest["definitions"]["streams"][ref[len(prefix) :]]["name"], condition))
    return tuple(out)


@cache
def incremental_stream_names() -> tuple[str, ...]:
    """The streams that can sync incrementally (those with an `incremental_sync`)."""
    streams = shared_manifest()["definitions"]["streams"]
    return tuple(name for name in stream_names() if streams[name].get("incremental_sync"))


@cache
def connection_specification() -> dict[str, Any]:
    spec: dict[str, Any] = shared_manifest()["spec"]["connection_specification"]
    return spec
