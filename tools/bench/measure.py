"""Run one command as its own child process and measure it: wall time, CPU time and peak resident
memory from the kernel's accounting of that child (``wait4``), and what it printed on stdout
(Airbyte messages are counted per stream as they stream out, never held whole)."""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_loads: Callable[[bytes], Any]
try:
    import orjson

    _loads = orjson.loads
except ImportError:  # pragma: no cover - orjson comes with airbyte-cdk
    _loads = json.loads


@dataclass
class Measurement:
    argv0: str
    wall: float
    cpu: float
    peak_rss_mb: float
    returncode: int
    counts: Counter = field(default_factory=Counter)
    ids: dict[str, Counter] = field(default_factory=dict)
    states: dict[str, dict] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    stdout_tail: str = ""
    stderr_tail: str = ""
    started: float = 0.0

    @property
    def records(self) -> int:
        return sum(self.counts.values())

    def duplicates(self, stream: str) -> int:
        return sum(n - 1 for n in self.ids.get(stream, Counter()).values() if n > 1)

    def state_file_content(self) -> list[dict]:
        return list(self.states.values())


def run(
    argv: list[str],
    *,
    env: dict[str, str] | None = None,
    cwd: str | Path | None = None,
    collect_ids: bool = False,
    timeout: float = 3600,
    parse: bool = True,
) -> Measurement:
    stderr = tempfile.TemporaryFile()
    started_at = time.time()
    started = time.perf_counter()
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=stderr, env=env, cwd=cwd, start_new_session=True
    )
    killed = threading.Event()

    def kill() -> None:
        killed.set()
        os.killpg(proc.pid, signal.SIGKILL)

    watchdog = threading.Timer(timeout, kill)
    watchdog.start()
    peak = _PeakWatcher(proc.pid)
    peak.start()
    counts: Counter = Counter()
    ids: dict[str, Counter] = {}
    states: dict[str, dict] = {}
    errors: list[str] = []
    tail: list[bytes] = []
    assert proc.stdout is not None  # stdout=PIPE
    for line in proc.stdout:
        if not parse or not line.startswith(b"{"):
            tail = (tail + [line])[-20:]
            continue
        if line.startswith((b'{"type":"RECORD"', b'{"type": "RECORD"')):
            record = _loads(line)["record"]
            stream = record["stream"]
            counts[stream] += 1
            if collect_ids:
                ids.setdefault(stream, Counter())[str(record["data"].get("id"))] += 1
            continue
        message = _loads(line)
        kind = message.get("type")
        if kind == "STATE":
            state = message["state"]
            name = state.get("stream", {}).get("stream_descriptor", {}).get("name", "")
            states[name] = state
        elif kind == "TRACE" and message["trace"].get("type") == "ERROR":
            errors.append(message["trace"]["error"].get("message", ""))
        else:
            tail = (tail + [line[:500]])[-20:]
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    watchdog.cancel()
    peak.stop.set()
    peak.join()
    if killed.is_set():
        errors.append(f"killed after {timeout:.0f} s")
    proc.returncode = os.waitstatus_to_exitcode(status)
    stderr.seek(0, os.SEEK_END)
    stderr.seek(max(0, stderr.tell() - 3000))
    err_tail = stderr.read().decode("utf-8", "replace")
    stderr.close()
    return Measurement(
        argv0=Path(argv[0]).name,
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=(peak.kb or usage.ru_maxrss) / 1024,
        returncode=proc.returncode,
        counts=counts,
        ids=ids,
        states=states,
        errors=errors,
        stdout_tail=b"".join(tail).decode("utf-8", "replace")[-3000:],
        stderr_tail=err_tail,
        started=started_at,
    )


class _PeakWatcher(threading.Thread):
    """The child's own peak resident memory: VmHWM of its memory map, read every 20 ms.

    Not ``ru_maxrss``: the kernel carries the high-water mark of the forking process (this
    harness) over ``exec`` into the child's figure. VmHWM belongs to the memory map the command
    built itself and only grows, so the last reading before exit is its peak (to within the last
    20 ms of its life)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.path = f"/proc/{pid}/status"
        self.stop = threading.Event()
        self.kb = 0

    def run(self) -> None:
        while True:
            try:
                with open(self.path, "rb") as status:
                    for line in status:
                        if line.startswith(b"VmHWM:"):
                            self.kb = max(self.kb, int(line.split()[1]))
                            break
            except (OSError, ValueError):
                pass
            if self.stop.wait(0.02):
                return


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def spread(values: list[float]) -> str:
    """``median (min–max)`` for a table cell."""
    if len(values) < 2:
        return fmt(median(values))
    return f"{fmt(median(values))} ({fmt(min(values))}–{fmt(max(values))})"


def fmt(x: float | int | None) -> str:
    """A number for a table cell: about three significant figures, thousands grouped."""
    if x is None:
        return "n/a"
    if isinstance(x, int):
        return f"{x:,}"
    if x != x:  # NaN
        return "n/a"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    if abs(x) >= 1:
        return f"{x:.2f}"
    return f"{x:.2g}"


def ratio(a: float, b: float) -> str:
    if not b or a != a or b != b:
        return "n/a"
    return f"{a / b:.2f}×"


def write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=1, default=str))
