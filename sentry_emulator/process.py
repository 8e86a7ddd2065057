"""The emulator as a child process (`python -m sentry_emulator ...`), for programs that
must not share a process with it: `make sync` and the benchmarks."""

from __future__ import annotations

import json
import selectors
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from contextlib import suppress
from pathlib import Path
from typing import Any, Self

from .emulator import connector_config

ROOT = Path(__file__).resolve().parents[1]


class EmulatorDidNotStart(RuntimeError):
    pass


def _die_with_parent() -> None:
    """Linux: the emulator gets SIGTERM if its parent is killed without a chance to clean up."""
    with suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class EmulatorProcess:
    """Starts on `with` (or `start()`), reads the start-up JSON line, stops on exit whatever happens."""

    def __init__(self, args: list[str], *, log_path: Path | None = None, start_timeout: float = 30.0) -> None:
        self.args = args
        self.log_path = log_path
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen[str] | None = None
        self.info: dict[str, Any] = {}
        self.startup_seconds = 0.0
        self._opener: urllib.request.OpenerDirector | None = None

    def command(self) -> list[str]:
        return [sys.executable, "-m", "sentry_emulator", *self.args]

    def start(self) -> Self:
        started = time.perf_counter()
        log = self.log_path.open("w") if self.log_path else None
        try:
            self.proc = subprocess.Popen(
                self.command(),
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
            )
        finally:
            if log:
                log.close()
        try:
            self.info = json.loads(self._first_line())
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.perf_counter() - started
        return self

    def _first_line(self) -> str:
        assert self.proc is not None
        assert self.proc.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self.proc.stdout, selectors.EVENT_READ)
            if selector.select(timeout=self.start_timeout):
                line = self.proc.stdout.readline()
                if line.strip():
                    return line
        detail = self.log_path.read_text(errors="replace").strip()[-2000:] if self.log_path else ""
        raise EmulatorDidNotStart(
            "The Sentry emulator did not start"
            + (f":\n{detail}" if detail else f" within {self.start_timeout:.0f} s.")
            + f"\nCommand: {' '.join(self.command())} (run from {ROOT})"
        )

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    @property
    def base_url(self) -> str:
        return self.info["base_url"]

    @property
    def token(self) -> str:
        return self.info["token"]

    @property
    def organization(self) -> str:
        return self.info["organization"]

    @property
    def ca_cert(self) -> str | None:
        return self.info.get("ca_cert")

    def config(self, **overrides: Any) -> dict[str, Any]:
        """A connector config for this emulator; ``overrides`` add or replace fields."""
        return connector_config(self.info, **overrides)

    def control(
        self, route: str, body: dict[str, Any] | None = None, *, timeout: float = 600, **data: Any
    ) -> Any:
        """POST to the control API (`/_emulator/<route>`), bypassing any proxy, trusting its CA."""
        if self._opener is None:
            handlers: list[Any] = [urllib.request.ProxyHandler({})]
            if self.ca_cert:
                handlers.append(
                    urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=self.ca_cert))
                )
            self._opener = urllib.request.build_opener(*handlers)
        request = urllib.request.Request(
            f"{self.base_url}/_emulator/{route}",
            data=json.dumps(body if body is not None else data).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with self._opener.open(request, timeout=timeout) as response:
            return json.loads(response.read())
