"""Run the installed `source-sentry` command (or the CDK's source-declarative-manifest) against
the emulator, as Airbyte would, and read its messages."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from source_sentry.manifest import incremental_stream_names, stream_names

BIN = Path(sys.executable).parent
COMMAND = str(BIN / "source-sentry")
# The CDK's runner of a manifest, and the manifest Airbyte Cloud imports: the Cloud variant.
DECLARATIVE_COMMAND = str(BIN / "source-declarative-manifest")
CLOUD_MANIFEST = Path(__file__).resolve().parent.parent / "cloud" / "manifest.yaml"
STREAMS = list(stream_names())
INCREMENTAL = set(incremental_stream_names())


@dataclass
class Run:
    messages: list[dict[str, Any]]
    stdout: str
    stderr: str
    returncode: int
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def ids(self, stream: str) -> list[str]:
        return [str(r["id"]) for r in self.records.get(stream, [])]

    @property
    def errors(self) -> list[dict[str, Any]]:
        return [
            m["trace"]["error"]
            for m in self.messages
            if m["type"] == "TRACE" and m["trace"]["type"] == "ERROR"
        ]

    @property
    def states(self) -> list[dict[str, Any]]:
        return [m["state"] for m in self.messages if m["type"] == "STATE"]

    def final_state(self) -> list[dict[str, Any]]:
        """The last state message of each stream, as a state file holds it."""
        latest: dict[str, dict[str, Any]] = {}
        for state in self.states:
            latest[state["stream"]["stream_descriptor"]["name"]] = state
        return list(latest.values())

    def logs(self) -> list[str]:
        return [m["log"]["message"] for m in self.messages if m["type"] == "LOG"]


def parse(stdout: str, stderr: str, returncode: int) -> Run:
    messages = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    run = Run(messages, stdout, stderr, returncode)
    for m in messages:
        if m["type"] == "RECORD":
            run.records.setdefault(m["record"]["stream"], []).append(m["record"]["data"])
    return run


def catalog(streams: list[str] | None = None, mode: str = "incremental") -> dict[str, Any]:
    entries = []
    for name in streams or STREAMS:
        sync_mode = mode if name in INCREMENTAL else "full_refresh"
        entries.append(
            {
                "stream": {
                    "name": name,
                    "json_schema": {},
                    "supported_sync_modes": ["full_refresh", "incremental"],
                },
                "sync_mode": sync_mode,
                "destination_sync_mode": "append" if sync_mode == "incremental" else "overwrite",
            }
        )
    return {"streams": entries}


def write_inputs(
    tmp: Path,
    config: dict,
    streams: list[str] | None = None,
    state: list[dict[str, Any]] | None = None,
    mode: str = "incremental",
) -> list[str]:
    (tmp / "config.json").write_text(json.dumps(config))
    (tmp / "catalog.json").write_text(json.dumps(catalog(streams, mode)))
    args = ["--config", str(tmp / "config.json"), "--catalog", str(tmp / "catalog.json")]
    if state is not None:
        (tmp / "state.json").write_text(json.dumps(state))
        args += ["--state", str(tmp / "state.json")]
    return args


def source(
    verb: str,
    tmp: Path,
    config: dict,
    *,
    streams: list[str] | None = None,
    state: list[dict[str, Any]] | None = None,
    mode: str = "incremental",
    timeout: float = 240,
    env: dict[str, str] | None = None,
) -> Run:
    args = [verb, "--config", str(tmp / "config.json")]
    if verb == "read":
        args = [verb, *write_inputs(tmp, config, streams, state, mode)]
    else:
        (tmp / "config.json").write_text(json.dumps(config))
    result = subprocess.run(
        [COMMAND, *args], capture_output=True, text=True, timeout=timeout, cwd=tmp, env=env
    )
    return parse(result.stdout, result.stderr, result.returncode)


def cloud_source(verb: str, args: list[str], cwd: Path, timeout: float = 240) -> Run:
    """``verb`` with these arguments run by the CDK's `source-declarative-manifest` on the Cloud
    manifest, as Airbyte Cloud runs it."""
    command = [DECLARATIVE_COMMAND, verb, *args, "--manifest-path", str(CLOUD_MANIFEST)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=cwd)
    return parse(result.stdout, result.stderr, result.returncode)


def cloud_read(workdir: Path, args: list[str], timeout: float = 240) -> Run:
    """`read` of the Cloud manifest, `args` as `write_inputs` gives them."""
    return cloud_source("read", args, workdir, timeout)
