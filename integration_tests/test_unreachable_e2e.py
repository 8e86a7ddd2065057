"""A Sentry the connector cannot connect to (nothing listening, a host that does not resolve, https
to a plain-http server) fails the sync within a minute, naming the base URL and what to check; a
server that starts listening a few seconds late is waited for."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sentry_emulator.emulator import Emulator
from sentry_emulator.fixtures import SMALL
from tools.airbyte_run import COMMAND, Run, parse, write_inputs

pytestmark = pytest.mark.e2e

# reachability.REACH_WAITS (30 s) and its connect timeouts, with room for start-up on a busy machine.
BOUND_SECONDS = 60
TOKEN = "sntryu_" + "7" * 64


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_read(workdir: Path, hostname: str, token: str = TOKEN) -> tuple[subprocess.Popen[str], float]:
    config = {"auth_token": token, "organization": "acme", "hostname": hostname}
    args = write_inputs(workdir, config, ["projects", "events"], mode="full_refresh")
    process = subprocess.Popen(
        [COMMAND, "read", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=workdir
    )
    return process, time.monotonic()


def finish(process: subprocess.Popen[str], started: float) -> tuple[Run, float]:
    stdout, stderr = process.communicate(timeout=240)
    return parse(stdout, stderr, process.returncode), time.monotonic() - started


def test_given_unreachable_sentry_when_read_then_fails_within_a_minute_naming_the_base_url(
    tmp_path: Path,
) -> None:
    closed = f"http://127.0.0.1:{free_port()}/sentry"
    cases = {
        "refused": (closed, "Connection refused", "Check `hostname`", "transient_error"),
        "unresolvable": (
            "https://sentry.no-such-host.invalid",
            "https://sentry.no-such-host.invalid could not be reached",
            "Check `hostname`",
            "transient_error",
        ),
    }
    with Emulator(**SMALL) as plain_http:
        # https to a server that speaks plain http: the TLS handshake fails, which no wait mends.
        https = plain_http.base_url.replace("http://", "https://")
        cases["tls"] = (https, "[SSL", "write `hostname` as http://host:port", "config_error")
        started = {}
        for name, (hostname, *_) in cases.items():
            (tmp_path / name).mkdir()
            started[name] = start_read(tmp_path / name, hostname)
        with ThreadPoolExecutor(len(cases)) as pool:
            futures = {name: pool.submit(finish, *started[name]) for name in cases}
        results = {name: future.result() for name, future in futures.items()}
        assert plain_http.requests == []

    for name, (hostname, reason, advice, failure_type) in cases.items():
        run, seconds = results[name]
        assert run.returncode == 1, (name, run.stdout[-2000:])
        assert seconds < BOUND_SECONDS, (name, seconds)
        assert not run.records
        final = run.errors[-1]
        assert final["failure_type"] == failure_type, (name, final)
        message = final["message"]
        assert message.startswith(f"Sentry at {hostname} "), (name, message)
        assert reason in message, (name, message)
        assert advice in message, (name, message)
        assert "Max retries exceeded" not in run.stdout, name
        assert TOKEN not in run.stdout + run.stderr, name
    # Only the TLS failure is not waited for.
    assert results["tls"][1] < 20, results["tls"][1]
    assert results["refused"][1] > 25, results["refused"][1]


def test_given_server_starting_seconds_late_when_read_then_waits_and_syncs(tmp_path: Path) -> None:
    port = free_port()
    emulator = Emulator(**{**SMALL, "port": port})
    process, started = start_read(tmp_path, f"http://127.0.0.1:{port}", emulator.token)
    # A restart: nothing listens for the first 5 seconds of the sync.
    starter = threading.Timer(5, emulator.start)
    starter.start()
    try:
        stdout, stderr = process.communicate(timeout=240)
        starter.join()
        run = parse(stdout, stderr, process.returncode)

        assert run.returncode == 0, run.stdout[-2000:]
        assert not run.errors, run.errors
        assert time.monotonic() - started > 5
        assert sorted(run.ids("projects")) == sorted(str(p["id"]) for p in emulator.ground_truth("projects"))
        assert len(run.ids("events")) == len(emulator.ground_truth("events"))
    finally:
        starter.cancel()
        emulator.stop()
