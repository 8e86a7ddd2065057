"""`make sync` (tools/local_sync.py) run as a user runs it, against the Sentry emulator: the DuckDB
file it leaves is compared id by id with the emulator's ground truth."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
import requests

from sentry_emulator import Emulator
from source_sentry.manifest import connection_specification, incremental_stream_names, stream_names
from tools import local_sync

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
STREAMS = list(stream_names())
INCREMENTAL = list(incremental_stream_names())
# An unusual size, so that a leftover emulator of this test can be told from other processes'.
SAMPLE_EVENTS = 333


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str
    db: Path
    logs: Path
    tmp: Path

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def table(self) -> dict[str, list[int]]:
        """The final table's numbers per stream: 1st sync, 2nd sync, rows, distinct ids[, emulator]."""
        rows = {}
        for line in self.stdout.splitlines():
            cells = [c.strip() for c in line.split("|")]
            if cells[0] in STREAMS and len(cells) >= 5:
                rows[cells[0]] = [int(c.replace(",", "")) for c in cells[1:]]
        return rows

    def written_files(self) -> str:
        """Everything PyAirbyte logged and anything left in the temporary directory."""
        texts = []
        for root in (self.logs, self.tmp):
            texts += [p.read_text(errors="replace") for p in root.rglob("*") if p.is_file()]
        return "\n".join(texts)


def run_sync(tmp_path: Path, *args: str, timeout: float = 180) -> Result:
    db, logs, tmp = tmp_path / "sentry.duckdb", tmp_path / "airbyte-logs", tmp_path / "tmp"
    logs.mkdir(exist_ok=True)
    tmp.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "AIRBYTE_OFFLINE_MODE": "1",
        "AIRBYTE_LOGGING_ROOT": str(logs),
        "TMPDIR": str(tmp),
        # `python -m tools.local_sync` as `make sync` runs it from the checkout, while PyAirbyte's
        # files land in this test's directory.
        "PYTHONPATH": str(ROOT),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "tools.local_sync", "--db", str(db), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=tmp_path,
        env=env,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr, db, logs, tmp)


def db_ids(db: Path, schema: str) -> dict[str, list[str]]:
    with duckdb.connect(str(db), read_only=True) as conn:
        return {
            s: [str(r[0]) for r in conn.sql(f'SELECT id FROM "{schema}"."{s}"').fetchall()] for s in STREAMS
        }


def truth_ids(emu: Emulator) -> dict[str, list[str]]:
    return {s: sorted(str(r["id"]) for r in emu.ground_truth(s)) for s in STREAMS}


def assert_tables_match(ids: dict[str, list[str]], truth: dict[str, list[str]]) -> None:
    for stream in STREAMS:
        assert len(ids[stream]) == len(set(ids[stream])), f"{stream}: duplicate ids in DuckDB"
        assert sorted(ids[stream]) == truth[stream], f"{stream}: DuckDB differs from the emulator"


def emulator_processes(tmp: Path) -> list[str]:
    """Emulators still running that this test's sync started: they inherited its TMPDIR, which no
    other run (another worktree's, another test's) shares, so a run elsewhere is never counted."""
    marker = b"TMPDIR=" + str(tmp).encode()
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
            environ = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"sentry_emulator" in args and marker in environ:
            found.append(proc.name)
    return found


# ---- default: the emulator with sample data ----------------------------------------------------


def test_given_no_config_when_sync_then_duckdb_holds_the_emulators_data_once_and_2nd_sync_only_new(
    tmp_path: Path,
) -> None:
    result = run_sync(tmp_path, "--events", str(SAMPLE_EVENTS))

    assert result.returncode == 0, result.output
    # The emulator is deterministic in its seed: one built alike, with the same additions, holds
    # what the script's emulator held at the end.
    sample = local_sync.Sample(events=SAMPLE_EVENTS)
    anchor_us = emulator_anchor(result.db)
    with Emulator(**sample.emulator_kwargs(), anchor_us=anchor_us) as twin:
        before = truth_ids(twin)
        local_sync.add_new_data(control_of(twin), sample, twin.project_slugs[0])
        after = truth_ids(twin)
    assert_tables_match(db_ids(result.db, local_sync.EMULATOR_SCHEMA), after)
    table = result.table()
    assert {s: table[s][0] for s in STREAMS} == {s: len(before[s]) for s in STREAMS}
    # 2nd sync: the new events, the new issue and the existing issue they touched, the
    # full-refresh streams (project details, the organization's lists) again, and the days the
    # daily aggregates read again (today and the 5 days before for sessions, 1 for usage_stats);
    # nothing else.
    assert {s: table[s][1] for s in STREAMS} == {
        **{s: len(after[s]) for s in STREAMS if s not in INCREMENTAL},
        "projects": 0,
        "events": sample.new_events,
        "issues": 2,
        "releases": 0,
        "deploys": 0,
        "release_commits": 0,
        "monitor_checkins": 0,
        "user_feedback": 0,
        "replays": 0,
        "sessions": len(since(after["sessions"], 5, anchor_us)),
        "usage_stats": len(since(after["usage_stats"], 1, anchor_us)),
    }
    assert {s: table[s][2:] for s in STREAMS} == {s: [len(after[s])] * 3 for s in STREAMS}
    assert "Every table holds exactly the emulator's records" in result.stdout
    assert re.search(r"\[1st sync +[\d.]+s\] events: done, [\d,]+ records", result.stdout)
    assert str(result.db) in result.stdout
    assert "sntryu_" not in result.output
    assert "sntryu_" not in result.written_files()
    assert "Traceback" not in result.output
    assert emulator_processes(result.tmp) == []


def emulator_anchor(db: Path) -> int:
    """The instant (microseconds) the script's emulator dated its data from, read back from the
    organization it served: created 400 days and the 30-day span before it. A twin built a minute
    later from the clock would date its releases a minute later; one created near midnight would
    then fall on the next day, and with it the day's session rows."""
    with duckdb.connect(str(db), read_only=True) as conn:
        query = f'SELECT "dateCreated" FROM "{local_sync.EMULATOR_SCHEMA}"."organization"'
        (created,) = conn.sql(query).fetchone()
    moment = datetime.fromisoformat(str(created).replace("Z", "+00:00"))
    return int((moment + timedelta(days=430)).timestamp()) * 1_000_000


def since(ids: list[str], days: int, anchor_us: int) -> list[str]:
    """The ids of daily rows (`YYYY-MM-DD/...`) from `days` UTC days before the emulator's last
    day on. The 2nd sync re-reads the lookback before its state, the newest day with rows: the
    day of the emulator's anchor, fixed when it was built. The wall clock's day is not that day
    when the run crosses 00:00 UTC."""
    last = datetime.fromtimestamp(anchor_us / 1_000_000, UTC)
    first = (last - timedelta(days=days)).strftime("%Y-%m-%d")
    return [i for i in ids if i[:10] >= first]


def control_of(emu: Emulator):
    def control(route: str, body: dict) -> object:
        response = requests.post(f"{emu.base_url}/_emulator/{route}", json=body, timeout=30)
        response.raise_for_status()
        return response.json()

    return control


# ---- --config: a Sentry organization of the user's ----------------------------------------------


def test_given_config_when_sync_twice_then_tables_match_and_2nd_sync_reads_only_the_newest_window(
    make_emulator, tmp_path: Path
) -> None:
    emu = make_emulator(events=1200, issues=40, releases=12)
    config = tmp_path / "config.json"
    # One events window per project, for the page arithmetic below (the windows read side by
    # side are test_event_windows_e2e's).
    config.write_text(json.dumps(emu.config(event_window_days=0)))

    result = run_sync(tmp_path, "--config", str(config))

    assert result.returncode == 0, result.output
    truth = truth_ids(emu)
    assert_tables_match(db_ids(result.db, "sentry_acme"), truth)
    table = result.table()
    assert {s: table[s][0] for s in STREAMS} == {s: len(truth[s]) for s in STREAMS}
    # Nothing new: the 2nd sync sends only the days the daily aggregates read again.
    assert {s: table[s][1] for s in INCREMENTAL} == {
        **dict.fromkeys(INCREMENTAL, 0),
        "sessions": len(since(truth["sessions"], 5, emu.world.anchor)),
        "usage_stats": len(since(truth["usage_stats"], 1, emu.world.anchor)),
    }
    # Events: the 1st sync pages through each project (100 per page); the 2nd asks each project
    # once, for the lookback window only. A full re-read would double the pages.
    pages = sum(
        max(1, math.ceil(len(emu.ground_truth("events", [slug])) / 100)) for slug in emu.project_slugs
    )
    event_pages = [
        r
        for r in emu.requests
        if re.fullmatch(r"/api/0/projects/acme/[^/]+/events/", r["path"])
        and r["query"].get("per_page") == ["100"]
    ]  # the connection check's probe asks for one event
    # + one page per project in the 2nd sync, + the check's own read of the first events page.
    assert len(event_pages) == pages + len(emu.project_slugs) + 1
    assert emu.token not in result.output
    assert emu.token not in result.written_files()


def test_given_token_without_event_read_when_sync_then_check_message_and_exit_2(
    make_emulator, tmp_path: Path
) -> None:
    emu = make_emulator()
    token = emu.make_token(scopes=["org:read", "project:read"])
    config = tmp_path / "config.json"
    config.write_text(json.dumps(emu.config(auth_token=token)))

    result = run_sync(tmp_path, "--config", str(config))

    assert result.returncode == 2
    assert "The connection check failed" in result.stderr
    assert "event:read" in result.stderr
    assert "Traceback" not in result.output
    assert token not in result.output
    assert token not in result.written_files()
    assert not result.db.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist"),
        ('{"auth_token": "sntryu_secret", "organization": acme}', "is not valid JSON"),
        ('["sntryu_secret"]', "must hold a JSON object"),
    ],
)
def test_given_unusable_config_file_when_sync_then_message_and_exit_2(
    tmp_path: Path, content: str | None, message: str
) -> None:
    config = tmp_path / "config.json"
    if content is not None:
        config.write_text(content)

    result = run_sync(tmp_path, "--config", str(config), timeout=30)

    assert result.returncode == 2
    assert message in result.stderr
    assert str(config) in result.stderr
    assert "Traceback" not in result.output
    assert "sntryu_secret" not in result.output


def test_given_config_breaking_the_spec_then_problems_are_named_without_values() -> None:
    spec = connection_specification()
    config = {"auth_token": 12345678, "hostname": "ftp://sentry secret", "num_workers": "many"}

    problems = local_sync.config_problems(config, spec)

    assert "`organization` is missing (it is required)" in problems
    assert "`auth_token` must be of type string" in problems
    assert "`num_workers` must be of type integer" in problems
    assert any(p.startswith("`hostname` is not in the expected form") for p in problems)
    assert not any(v in p for p in problems for v in ("12345678", "secret", "many"))
