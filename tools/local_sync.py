"""`make sync`: every Sentry stream into a local DuckDB file through PyAirbyte, then once more
incrementally, and a table of what each sync brought.

Without --config, the project's Sentry emulator is started on 127.0.0.1 with sample data, and
new events are added to it between the two syncs so that the second one has something to fetch.
With --config, that Sentry organization is synced (twice; the second run fetches what changed).

PyAirbyte is imported only after the environment it reads at import time is set up (offline,
no telemetry, private temporary files), and after the config file has been checked, so that a
mistyped path fails in a second, not after PyAirbyte's few seconds of imports.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Generator, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from sentry_emulator import cli, process
from source_sentry.config import JsonFileError, config_problems, read_json_object, scrub_token
from source_sentry.manifest import stream_names

ROOT = Path(__file__).resolve().parent.parent

CONNECTOR = Path(sys.executable).parent / "source-sentry"
DEFAULT_DB = ROOT / "sentry.duckdb"
EMULATOR_SCHEMA = "emulator"
STREAMS = list(stream_names())
PROGRESS_EVERY_S = 2.0
EMULATOR_START_TIMEOUT_S = 30.0

# Exit codes: 0 done; 1 a sync failed or the emulator check found a difference; 2 a problem with
# the command line, the config file or the connection check; 130 interrupted.
EXIT_FAILED, EXIT_CONFIG, EXIT_INTERRUPTED = 1, 2, 130

CONFIG_EXAMPLE = (
    '{"auth_token": "<token with org:read, project:read, event:read>", '
    '"organization": "<your-org-slug>", "hostname": "sentry.io"}'
)


class UserError(Exception):
    """A problem the user can fix; its message is printed without a traceback."""

    def __init__(self, message: str, code: int = EXIT_CONFIG) -> None:
        super().__init__(message)
        self.code = code


# ----------------------------------------------------------------------------------- sample data
@dataclass(frozen=True)
class Sample:
    """The emulator's organization for the default run, and what is added before the 2nd sync."""

    events: int = 3000
    seed: int = 1
    projects: int = 3
    releases: int = 30
    new_events: int = 25  # added before the 2nd sync, in the first project
    on_existing_issue: int = 5  # of which this many go to an existing issue (its row is updated)

    @property
    def issues(self) -> int:
        return max(6, self.events // 20)

    def emulator_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of `sentry_emulator.Emulator` for this organization."""
        return {
            "seed": self.seed,
            "projects": self.projects,
            "events": self.events,
            "issues": self.issues,
            "releases": self.releases,
            "rate_limits": "none",
        }


def add_new_data(control: Any, sample: Sample, project: str) -> str:
    """Add the 2nd sync's new events through the emulator's control API; returns a description.

    `control(route, body)` posts to `/_emulator/<route>` and returns the decoded answer."""
    existing = control("ground_truth", {"kind": "issues", "projects": [project]})
    fresh = sample.new_events - sample.on_existing_issue
    control("add_events", {"project": project, "n": fresh})
    parts = [f"{fresh} opening a new issue"]
    if existing and sample.on_existing_issue:
        issue_id = existing[0]["id"]
        control("add_events", {"project": project, "n": sample.on_existing_issue, "issue_id": issue_id})
        parts.append(f"{sample.on_existing_issue} on existing issue {issue_id}")
    return f"{sample.new_events} new events in project {project}: " + ", ".join(parts)


# ------------------------------------------------------------------------------------- emulator
class EmulatorProcess(process.EmulatorProcess):
    """The sample's emulator; a failed start is the user's to see, with the emulator's own log."""

    def __init__(self, sample: Sample, workdir: Path) -> None:
        args = cli.args_for(**sample.emulator_kwargs())
        super().__init__(args, log_path=workdir / "emulator.log", start_timeout=EMULATOR_START_TIMEOUT_S)
        self.sample = sample

    def start(self) -> Self:
        try:
            return super().start()
        except process.EmulatorDidNotStart as error:
            raise UserError(str(error), code=EXIT_FAILED) from None


# -------------------------------------------------------------------------------- config file
def read_config_file(path: Path) -> dict[str, Any]:
    """The config as a dict, or a UserError that says what is wrong with the file."""
    try:
        return read_json_object(path, "config")
    except JsonFileError as error:
        hint = f"A config file looks like this:\n  {CONFIG_EXAMPLE}"
        if error.missing:
            hint += "\nOr run `make sync` without CONFIG to sync the local Sentry emulator."
        raise UserError(f"The config file {error.path} {error.problem}.\n{hint}") from None


def write_private_json(path: Path, data: dict[str, Any]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f)


# ---------------------------------------------------------------------------------- PyAirbyte
def prepare_pyairbyte_environment(private_dir: Path) -> None:
    """Set what PyAirbyte reads when it is imported."""
    # Its registry is not reachable here; with an installed executable it needs nothing from it.
    # Offline mode also turns telemetry off (PyAirbyte 0.71); DO_NOT_TRACK says the same to any
    # version, so that no sync waits on a tracking request.
    os.environ.setdefault("AIRBYTE_OFFLINE_MODE", "1")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    # Its live view is a Rich panel on a terminal and prints nothing per stream otherwise (under
    # make in CI): the progress lines below replace it, the same on a terminal and in a log.
    os.environ.setdefault("NO_LIVE_PROGRESS", "1")
    # PyAirbyte hands the config, token included, to the connector in a temporary file it makes
    # readable by every user: put those files in a directory only we can enter.
    os.environ["AIRBYTE_TEMP_DIR"] = str(private_dir)
    warnings.filterwarnings("ignore", message=r".*Google will stop supporting", category=FutureWarning)


class StreamCounter:
    """Records per stream as they arrive from the connector, printed as the sync goes.

    PyAirbyte counts them too but shows the counts only in its terminal view, so this wraps the
    message iterator PyAirbyte tallies (the one place every read message passes through)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.counts: Counter[str] = Counter()
        self.started = time.monotonic()
        self.seen_messages = False

    @contextmanager
    def attached(self) -> Iterator[StreamCounter]:
        from airbyte.progress import ProgressTracker

        original = ProgressTracker.tally_records_read
        counter = self

        def tally_records_read(
            tracker: ProgressTracker, messages: Iterable[Any], *, auto_close_streams: bool = False
        ) -> Generator[Any, Any, None]:
            return original(tracker, counter.watch(messages), auto_close_streams=auto_close_streams)

        # mypy types the class attribute as the method bound twice (self, self: ProgressTracker),
        # so no plain function of the method's own signature fits it.
        ProgressTracker.tally_records_read = tally_records_read  # type: ignore[method-assign, assignment]
        try:
            yield self
        finally:
            ProgressTracker.tally_records_read = original  # type: ignore[method-assign]

    def watch(self, messages: Any) -> Iterator[Any]:
        self.seen_messages = True
        last_print = time.monotonic()
        for message in messages:
            record = getattr(message, "record", None)
            if record is not None:
                self.counts[record.stream] += 1
            else:
                status = getattr(
                    getattr(getattr(message, "trace", None), "stream_status", None), "status", None
                )
                if getattr(status, "value", status) == "COMPLETE":
                    name = message.trace.stream_status.stream_descriptor.name
                    self.say(f"{name}: done, {self.counts[name]:,} records")
            now = time.monotonic()
            if now - last_print >= PROGRESS_EVERY_S:
                last_print = now
                self.say(f"{self.total:,} records so far ({self.breakdown()})")
            yield message
        self.say(f"read {self.total:,} records; writing them to DuckDB")

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def breakdown(self) -> str:
        return ", ".join(f"{name} {n:,}" for name, n in self.counts.items()) or "none yet"

    def say(self, text: str) -> None:
        print(f"  [{self.label} {time.monotonic() - self.started:5.1f}s] {text}", flush=True)


def pyairbyte_failure(error: Exception) -> str:
    """PyAirbyte's exceptions print their whole context; keep what tells the user what to do."""
    reason = ""
    context = getattr(error, "context", None)
    if isinstance(context, dict):
        reason = str(context.get("failure_reason") or context.get("error_message") or "")
    message = getattr(error, "get_message", lambda: str(error).splitlines()[0])()
    log_file = getattr(error, "log_file", None)
    original = getattr(error, "original_exception", None)
    if not reason and original is not None:
        return pyairbyte_failure(original) if original is not error else message
    return f"{message} {reason}".strip() + (f"\n  The connector's log: {log_file}" if log_file else "")


@dataclass
class Sync:
    db: Path
    schema: str
    private_dir: Path

    def source(self, config: dict[str, Any]) -> Any:
        import airbyte as ab

        return ab.get_source("source-sentry", local_executable=str(CONNECTOR), config=config)

    def cache(self) -> Any:
        from airbyte.caches import DuckDBCache

        return DuckDBCache(
            db_path=str(self.db), schema_name=self.schema, cache_dir=self.private_dir / "cache"
        )

    @staticmethod
    def run(source: Any, cache: Any, label: str) -> Counter[str]:
        counter = StreamCounter(label)
        with counter.attached():
            # merge: one row per id. Every stream has the primary key `id`, and an incremental
            # sync sends an issue again when it gets new events; "auto" would also merge but
            # silently append if a stream ever lost its key, so the strategy is spelled out.
            result = source.read(cache, write_strategy="merge")
        if not counter.seen_messages:
            print(f"  (per-stream counts unavailable; PyAirbyte read {result.processed_records:,} records)")
        counter.say("done")
        return counter.counts


def table_stats(cache: Any, schema: str) -> dict[str, tuple[int, int]]:
    """Rows and distinct ids of each stream's table."""
    from sqlalchemy import text

    stats = {}
    with cache.get_sql_engine().connect() as conn:
        for stream in STREAMS:
            rows, ids = conn.execute(
                text(f'SELECT COUNT(*), COUNT(DISTINCT "id") FROM "{schema}"."{stream}"')
            ).one()
            stats[stream] = (rows, ids)
    return stats


def table_ids(cache: Any, schema: str, stream: str) -> set[str]:
    from sqlalchemy import text

    with cache.get_sql_engine().connect() as conn:
        return {str(row[0]) for row in conn.execute(text(f'SELECT "id" FROM "{schema}"."{stream}"'))}


def open_db_for_setup(db: Path, drop_schema: str | None) -> None:
    """Check that the DuckDB file can be opened (another program may hold its lock), and drop
    `drop_schema` if given."""
    import duckdb

    db.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = duckdb.connect(str(db))
    except duckdb.Error as error:
        raise UserError(
            f"Cannot open the DuckDB file {db}: {str(error).splitlines()[0]}\n"
            "Close any program that has it open (a duckdb shell, a notebook), or pass --db other.duckdb."
        ) from None
    try:
        if drop_schema:
            conn.execute(f'DROP SCHEMA IF EXISTS "{drop_schema}" CASCADE')
    finally:
        conn.close()


def state_exists(db: Path, schema: str) -> bool:
    import duckdb

    conn = duckdb.connect(str(db))
    try:
        found = conn.execute(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
            [schema, "_airbyte_state"],
        ).fetchone()
        if not found or not found[0]:
            return False
        rows = conn.execute(f'SELECT COUNT(*) FROM "{schema}"."_airbyte_state"').fetchone()
        return bool(rows and rows[0])
    finally:
        conn.close()


# ------------------------------------------------------------------------------------- output
def print_table(
    first: Counter[str], second: Counter[str], stats: dict[str, tuple[int, int]], truth: dict[str, int] | None
) -> None:
    headers = ["stream", "records 1st sync", "records 2nd sync", "rows in DuckDB", "distinct ids"]
    if truth is not None:
        headers.append("emulator has")
    rows = []
    for stream in STREAMS:
        row = [
            stream,
            f"{first[stream]:,}",
            f"{second[stream]:,}",
            f"{stats[stream][0]:,}",
            f"{stats[stream][1]:,}",
        ]
        if truth is not None:
            row.append(f"{truth[stream]:,}")
        rows.append(row)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        return " | ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    print(line(headers))
    print("-+-".join("-" * w for w in widths))
    for row in rows:
        print(line(row))


def print_where(db: Path, schema: str) -> None:
    tables = ", ".join(f"{schema}.{s}" for s in STREAMS)
    query = f"SELECT projectid, COUNT(*) AS events FROM {schema}.events GROUP BY 1 ORDER BY 2 DESC"
    print(
        f"\nThe data is in {db}\n"
        f"  tables: {tables}\n"
        f"  (PyAirbyte's state and stream tables: {schema}._airbyte_state, {schema}._airbyte_streams)\n"
        "  Column names are lower-cased (dateReceived is datereceived); nested objects are JSON columns,\n"
        "  fields the schemas leave untyped are VARCHAR holding JSON text.\n"
        "Query it, for example:\n"
        f'  {Path(sys.executable)} -c "import duckdb; '
        f"con = duckdb.connect('{db}', read_only=True); con.sql('{query}').show()\"\n"
        f'  or, with the duckdb CLI: duckdb -readonly {db} "{query}"'
    )


# ---------------------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m tools.local_sync",
        description=__doc__.split("\n\n")[0],
        epilog="Exit status: 0 done, 1 a sync failed, 2 a config or usage problem, 130 interrupted.",
    )
    ap.add_argument(
        "--config", type=Path, help="Sentry config JSON (auth_token, organization, hostname, ...)"
    )
    ap.add_argument("--db", type=Path, default=DEFAULT_DB, help=f"DuckDB file (default: {DEFAULT_DB})")
    ap.add_argument(
        "--schema",
        help=f"schema in the DuckDB file (default: {EMULATOR_SCHEMA!r} for the emulator, "
        "sentry_<organization> with --config)",
    )
    ap.add_argument(
        "--fresh", action="store_true", help="with --config: drop the schema first (start without state)"
    )
    ap.add_argument(
        "--events",
        type=int,
        default=Sample.events,
        help=f"without --config: events in the emulator's organization (default {Sample.events:,})",
    )
    args = ap.parse_args(argv)
    if args.events < 50:
        ap.error("--events must be at least 50")
    return args


def default_schema(organization: str) -> str:
    return "sentry_" + (re.sub(r"[^a-z0-9_]", "_", organization.lower()) or "org")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    db = args.db.expanduser().resolve()
    config: dict[str, Any] | None = None
    if args.config is not None:
        config = read_config_file(args.config)
    if not CONNECTOR.exists():
        raise UserError(
            f"The connector is not installed at {CONNECTOR}: run `make sync` (or pip install -e .)."
        )

    with tempfile.TemporaryDirectory(prefix="sentry-sync-") as tmp:
        private_dir = Path(tmp)  # mkdtemp: mode 0700
        prepare_pyairbyte_environment(private_dir)
        if config is None:
            return sync_emulator(args, db, private_dir)
        return sync_config(args, config, db, private_dir)


def sync_config(args: argparse.Namespace, config: dict[str, Any], db: Path, private_dir: Path) -> int:
    schema = args.schema or default_schema(str(config.get("organization") or ""))
    token = str(config.get("auth_token") or "")
    sync = Sync(db, schema, private_dir)
    source = sync.source(config)
    problems = config_problems(config, source.config_spec)
    if problems:
        raise UserError(
            f"The config file {args.config} does not fit the connector's spec:\n  - "
            + "\n  - ".join(problems)
        )
    host = config.get("hostname") or "sentry.io"
    print(f"Checking the connection to Sentry organization {config['organization']!r} on {host} ...")
    try:
        source.check()
    except Exception as error:  # PyAirbyte raises its own errors; any of them means "cannot connect"
        reason = scrub_token(pyairbyte_failure(error), token)
        raise UserError(f"The connection check failed: {reason}") from None
    open_db_for_setup(db, drop_schema=schema if args.fresh else None)
    had_state = state_exists(db, schema)
    cache = sync.cache()
    source.select_all_streams()
    if had_state:
        kind = f"incremental: from the state an earlier run saved in {db.name}, schema {schema}"
    else:
        kind = f"full: no state in {db.name}, schema {schema}"
    print(f"\n1st sync ({kind})", flush=True)
    first = run_or_explain(source, cache, "1st sync", token)
    print("\n2nd sync (incremental: from the state the 1st sync saved)", flush=True)
    second = run_or_explain(source, cache, "2nd sync", token)
    print()
    print_table(first, second, table_stats(cache, schema), None)
    print_where(db, schema)
    return 0


def sync_emulator(args: argparse.Namespace, db: Path, private_dir: Path) -> int:
    sample = Sample(events=args.events)
    schema = args.schema or EMULATOR_SCHEMA
    # The emulator's data and token are new on every run: an old state would skip most of it.
    open_db_for_setup(db, drop_schema=schema)
    print("Starting the Sentry emulator (no --config given) ...", flush=True)
    with EmulatorProcess(sample, private_dir) as emulator:
        info = emulator.info
        token = info["token"]
        print(
            f"Sentry emulator at {info['base_url']}: organization {info['organization']}, "
            f"projects {', '.join(info['projects'])}; {sample.events:,} events, {sample.issues:,} issues, "
            f"{sample.releases} releases (seed {sample.seed})"
        )
        config_path = private_dir / "config.json"
        write_private_json(config_path, emulator.config())
        print(f"Config written to {config_path} (mode 0600; removed on exit)")

        sync = Sync(db, schema, private_dir)
        source, cache = sync.source(emulator.config()), sync.cache()
        source.select_all_streams()
        print(f"\n1st sync (full: schema {schema} starts empty)", flush=True)
        first = run_or_explain(source, cache, "1st sync", token)

        added = add_new_data(emulator.control, sample, info["projects"][0])
        print(f"\nAdded to the emulator: {added}")
        print("2nd sync (incremental: from the state the 1st sync saved)", flush=True)
        second = run_or_explain(source, cache, "2nd sync", token)

        truth = {s: {str(r["id"]) for r in emulator.control("ground_truth", {"kind": s})} for s in STREAMS}
        stats = table_stats(cache, schema)
        print()
        print_table(first, second, stats, {s: len(ids) for s, ids in truth.items()})
        different = [
            s for s in STREAMS if table_ids(cache, schema, s) != truth[s] or stats[s][0] != stats[s][1]
        ]
    print_where(db, schema)
    if different:
        print(
            f"\nThe DuckDB tables differ from the emulator's data for: {', '.join(different)} "
            "(missing, extra or duplicate ids): a connector bug worth reporting.",
            file=sys.stderr,
        )
        return EXIT_FAILED
    print("\nEvery table holds exactly the emulator's records, one row per id.")
    return 0


def run_or_explain(source: Any, cache: Any, label: str, token: str) -> Counter[str]:
    try:
        return Sync.run(source, cache, label)
    except Exception as error:
        from airbyte.exceptions import PyAirbyteError

        if not isinstance(error, PyAirbyteError):
            raise
        reason = scrub_token(pyairbyte_failure(error), token)
        raise UserError(
            f"The {label} failed (the connector's errors are above): {reason}", EXIT_FAILED
        ) from None


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _terminate)  # so that `finally` blocks stop the emulator
    try:
        sys.exit(main())
    except UserError as error:
        print(f"\n{error}", file=sys.stderr)
        sys.exit(error.code)
    except KeyboardInterrupt:
        print("\nInterrupted; the emulator (if any) was stopped.", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
