"""Run the installed `source-sentry` command (or the CDK's source-declarative-manifest) against
the emulator, as Airbyte would, and read its messages."""

from __future__ import annotations

import atexit
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from source_sentry.manifest import incremental_stream_names, stream_names

BIN = Path(sys.executable).parent
COMMAND = str(BIN / "source-sentry")
# The CDK's runner of a manifest, and the manifest Airbyte Cloud imports: the Cloud variant.
DECLARATIVE_COMMAND = str(BIN / "source-declarative-manifest")
CLOUD_MANIFEST = Path(__file__).resolve().parent.parent / "cloud" / "manifest.yaml"
# The command forked from a warm process (tools/warm_source.py), for the tests of the connector's
# behaviour: `warm=True` below.
WARM_SOURCE = Path(__file__).resolve().parent / "warm_source.py"
WARM_LAUNCH = Path(__file__).resolve().parent / "warm_launch.py"
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
    # A big read's output is tens of thousands of records, millions of dicts and lists all kept:
    # Python's cyclic collector walked them again and again while they were decoded (some 70% of
    # the time, in a test process that shares two cores with the connector). It is paused for the
    # decoding, which makes no cycles, and orjson decodes twice as fast as json.
    paused = gc.isenabled()
    gc.disable()
    try:
        messages = [orjson.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    finally:
        if paused:
            gc.enable()
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


_warm: dict[str, Any] = {}
# Set by pytest for each test; nothing of the command reads it (tools/warm_source.py ignores it too).
_PER_TEST = "PYTEST_CURRENT_TEST"


def _environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != _PER_TEST}


def _stop_warm() -> None:
    server = _warm.pop("server", None)
    if server is not None:
        server.kill()
        server.wait()
        shutil.rmtree(_warm.pop("directory"), ignore_errors=True)


def warm_command() -> list[str]:
    """The command line of `source-sentry` launched warm (tools/warm_source.py): this process's
    warm process, started on first use and stopped when this process exits. It imported the command
    in this process's environment then: when that has changed since (a local sync sets PyAirbyte's
    variables in it), a new one is started, as the warm process would decline every launch."""
    server = _warm.get("server")
    if server is not None and (server.poll() is not None or _warm["environment"] != _environment()):
        _stop_warm()
    if "server" not in _warm:
        directory = tempfile.mkdtemp(prefix="warm-source-")
        path = str(Path(directory) / "socket")
        environment = _environment()
        with (Path(directory) / "stderr.txt").open("w") as log:
            server = subprocess.Popen(
                [sys.executable, str(WARM_SOURCE), path, COMMAND],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        _warm.update(server=server, path=path, directory=directory, environment=environment)
        deadline = time.monotonic() + 120
        while not Path(path).exists():
            if server.poll() is not None or time.monotonic() > deadline:
                log_text = (Path(directory) / "stderr.txt").read_text()
                _stop_warm()
                raise RuntimeError(f"the warm process did not start: {log_text}")
            time.sleep(0.02)
        if not _warm.get("stopped_at_exit"):
            atexit.register(_stop_warm)
            _warm["stopped_at_exit"] = True
    return [sys.executable, "-I", "-S", str(WARM_LAUNCH), _warm["path"], COMMAND]


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
    warm: bool = False,
) -> Run:
    """`verb` of the installed command; `warm`: forked from the warm process instead (the same
    command, entry point and messages, without its second and a half of imports), for the tests
    about what the connector does rather than about the installed command."""
    args = [verb, "--config", str(tmp / "config.json")]
    if verb == "read":
        args = [verb, *write_inputs(tmp, config, streams, state, mode)]
    else:
        (tmp / "config.json").write_text(json.dumps(config))
    command = warm_command() if warm else [COMMAND]
    result = subprocess.run(
        [*command, *args], capture_output=True, text=True, timeout=timeout, cwd=tmp, env=env
    )
    return parse(result.stdout, result.stderr, result.returncode)


def warm_source(verb: str, tmp: Path, config: dict, **options: Any) -> Run:
    """`source` launched warm (`warm=True`): for the tests of what the connector does, which the
    warm launch does as the installed command (integration_tests/test_warm_source.py)."""
    return source(verb, tmp, config, warm=True, **options)


def cloud_source(verb: str, args: list[str], cwd: Path, timeout: float = 240) -> Run:
    """``verb`` with these arguments run by the CDK's `source-declarative-manifest` on the Cloud
    manifest, as Airbyte Cloud runs it."""
    command = [DECLARATIVE_COMMAND, verb, *args, "--manifest-path", str(CLOUD_MANIFEST)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=cwd)
    return parse(result.stdout, result.stderr, result.returncode)


def cloud_read(workdir: Path, args: list[str], timeout: float = 240) -> Run:
    """`read` of the Cloud manifest, `args` as `write_inputs` gives them."""
    return cloud_source("read", args, workdir, timeout)


def interrupted_read(
    tmp: Path,
    config: dict,
    *,
    streams: list[str],
    state: list[dict[str, Any]] | None = None,
    stop_after: int | None = None,
    stream: str | None = None,
    known: set[str] | frozenset[str] = frozenset(),
    timeout: float = 240,
    env: dict[str, str] | None = None,
    command: str = COMMAND,
    warm: bool = False,
) -> Run:
    """`read` of the installed command, sent SIGTERM (what a pod eviction, a node drain or a deploy
    of the Airbyte worker sends) once `stop_after` records of `stream` whose id is not in `known`
    have come out of it; its messages are those it wrote before it ended. Without `stop_after` it
    runs to its end. `warm`: the command forked from the warm process (see `source`)."""
    import signal
    import threading

    args = ["read", *write_inputs(tmp, config, streams, state)]
    head = '{"type":"RECORD","record":{"stream":"%s"' % (stream or streams[0])
    lines: list[str] = []
    with (tmp / "stderr.txt").open("w+") as stderr:
        process = subprocess.Popen(
            [*(warm_command() if warm else [command]), *args],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            cwd=tmp,
            env=env,
        )
        watchdog = threading.Timer(timeout, process.kill)
        watchdog.start()
        try:
            assert process.stdout is not None
            seen = 0
            for line in process.stdout:
                lines.append(line)
                if (
                    stop_after is not None
                    and seen < stop_after
                    and line.startswith(head)
                    and line.endswith("\n")
                ):
                    if known and str(orjson.loads(line)["record"]["data"].get("id")) in known:
                        continue
                    seen += 1
                    if seen == stop_after:
                        process.send_signal(signal.SIGTERM)
            returncode = process.wait()
        finally:
            watchdog.cancel()
        stderr.seek(0)
        # A process stopped while writing leaves its last line torn: a destination drops it too.
        if lines and not lines[-1].endswith("\n"):
            lines.pop()
        return parse("".join(lines), stderr.read(), returncode)
