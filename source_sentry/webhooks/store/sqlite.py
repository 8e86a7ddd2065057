"""The embedded store: one SQLite file in WAL mode, needing no server.

Durability (the setting `sqlite_synchronous`). `full`, the default: each commit fsyncs the
write-ahead log before the delivery is answered, so a delivery answered 2xx survives the
process being killed and the machine losing power. `normal`: a commit writes the log without
waiting for the disk; a delivery answered 2xx survives the process being killed (the log is in
the operating system's cache) but the last ones before a power loss or an operating-system
crash can be lost (the database stays consistent).

Checkpoints (copying the log back into the database file) run in a thread of their own, never
in the transaction that keeps deliveries: SQLite's own automatic checkpoint runs inside a
commit and, at a thousand pages, holds every waiting request for tens of milliseconds about
once a second under load. A passive checkpoint waits for no reader or writer, so commits go on
meanwhile; the writer's automatic checkpoint stays on at a far larger size, only in case the
thread cannot keep up.

Writers take the database's write lock at BEGIN IMMEDIATE, so seqs (the rowid, never reused)
follow commit order even with several processes on one file, and a reader of `seq > after`
never passes a row that commits later.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from source_sentry.webhooks.store.base import (
    Extension,
    Incoming,
    Recorded,
    Statements,
    StoreError,
    feed_entry,
    record_many,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT,
    resource TEXT,
    action TEXT,
    installation_uuid TEXT,
    actor TEXT,
    issue_id TEXT,
    event_id TEXT,
    comment_id TEXT,
    project_id TEXT,
    project_slug TEXT,
    sent_at INTEGER,
    received_at_ms INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    parse_error INTEGER NOT NULL,
    body BLOB NOT NULL,
    subject TEXT NOT NULL,
    body_sha256 TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_subject ON deliveries (subject, seq);
-- Request-IDs are found through the subject's index (see store.base.Lookups.same_requests); an
-- index of their own, kept by earlier versions, cost a quarter of the log written per delivery.
DROP INDEX IF EXISTS deliveries_request_id;
CREATE INDEX IF NOT EXISTS deliveries_received ON deliveries (received_at_ms);
"""
SQL = Statements.marked("?")
log = logging.getLogger("source_sentry.webhooks")
SYNCHRONOUS = ("full", "normal")
# How often the checkpoint thread copies what was committed back into the database file.
CHECKPOINT_SECONDS = 0.5
# A passive checkpoint copies the frames the log held when it began; commits made meanwhile stay
# behind, so under steady load the log would never be started afresh and would only grow. Past
# this many pages (16 MB with SQLite's 4 KB pages) the thread finishes with a second passive
# checkpoint while holding the store's write lock: it copies only what came in during the first
# one, and the next commit starts the log from its beginning.
#
# A checkpoint flushes the database file to disk only when it reaches the log's end, which under
# load only that second one does: it then flushed everything the first had copied (megabytes of
# pages at random places) while every commit waited for the lock, 45 to 160 ms about once a
# second at 1,500 deliveries/s. So the thread flushes the database file itself between the two;
# the locked one is then left with the little it copies (commits no slower than 40 ms).
RESTART_PAGES = 4_096
# The writer checkpoints inside a commit only past this many pages (about 64 MB) of log.
WRITER_AUTOCHECKPOINT_PAGES = 16_384
# Once a checkpoint lets SQLite start the log afresh, a log file larger than this is cut back.
JOURNAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024


class SqliteStore:
    def __init__(
        self, path: str, synchronous: str = "full", checkpoint_seconds: float = CHECKPOINT_SECONDS
    ) -> None:
        if synchronous not in SYNCHRONOUS:
            raise ValueError(f"synchronous: one of {SYNCHRONOUS}, not {synchronous!r}")
        self.path = path
        self.synchronous = synchronous
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._writer = self._connect()
            self._writer.execute(f"PRAGMA wal_autocheckpoint={WRITER_AUTOCHECKPOINT_PAGES}")
            self._writer.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT_BYTES}")
            self._writer.executescript(SCHEMA)
            self._reader = self._connect()
            checkpointer = self._connect()
        except (sqlite3.Error, OSError) as error:
            raise StoreError(
                f"cannot open the SQLite database {path}: {error}. Give a file path in a directory "
                "this user can write (the database and its -wal and -shm files are created there)."
            ) from error
        self._write_lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._checkpointer = _Checkpointer(checkpointer, checkpoint_seconds, self._write_lock, path)

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: transactions are begun explicitly (BEGIN IMMEDIATE below).
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self.synchronous.upper()}")
        return conn

    def record_batch(
        self, batch: Sequence[Incoming], retry_window_ms: int, extend: Extension | None = None
    ) -> list[Recorded]:
        with self._write_lock:
            conn = self._writer
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    results = record_many(conn, SQL, LOOKUPS, batch, retry_window_ms, extend)
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as error:
                raise StoreError(f"SQLite could not keep the deliveries: {error}") from error
        self._checkpointer.wanted()
        return results

    def feed(self, after: int, limit: int) -> list[dict[str, Any]]:
        with self._read_lock:
            rows = self._read(SQL.feed, (after, limit))
        return [feed_entry(row) for row in rows]

    def newest_seq(self) -> int:
        with self._read_lock:
            rows = self._read("SELECT COALESCE(MAX(seq), 0) FROM deliveries", ())
        return int(rows[0][0])

    def prune(self, received_before_ms: int) -> int:
        with self._write_lock:
            try:
                cursor = self._writer.execute(
                    "DELETE FROM deliveries WHERE received_at_ms < ?", (received_before_ms,)
                )
            except sqlite3.Error as error:
                raise StoreError(f"SQLite could not prune: {error}") from error
        self._checkpointer.wanted()
        return cursor.rowcount

    def check(self) -> None:
        with self._read_lock:
            self._read("SELECT 1", ())

    def close(self) -> None:
        self._checkpointer.stop()
        self._writer.close()
        self._reader.close()

    def _read(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        try:
            return self._reader.execute(sql, params).fetchall()
        except sqlite3.Error as error:
            raise StoreError(f"SQLite could not be read: {error}") from error


class _Lookups:
    """record_many's statements in SQLite's dialect. SQLite runs in this process, so a statement
    costs its Python call, not a round trip: the inserts go one by one (RETURNING gives each its
    seq; executemany returns none)."""

    def same_requests(
        self, conn: sqlite3.Connection, keys: list[tuple[str, str, str]]
    ) -> dict[tuple[str, str], int]:
        # The deliveries about these subjects with these Request-IDs, found through the subject's
        # index; pairs not asked for are left unused by the caller.
        subjects = sorted({subject for _rid, _sha, subject in keys})
        request_ids = sorted({request_id for request_id, _sha, _subject in keys})
        rows = conn.execute(
            "SELECT request_id, body_sha256, seq FROM deliveries "
            f"WHERE subject IN ({', '.join('?' * len(subjects))}) "
            f"AND request_id IN ({', '.join('?' * len(request_ids))})",
            [*subjects, *request_ids],
        )
        return {(rid, sha): int(seq) for rid, sha, seq in rows}

    def newest(self, conn: sqlite3.Connection, subjects: list[str]) -> dict[str, tuple[int, str, int]]:
        marks = ", ".join("?" * len(subjects))
        rows = conn.execute(
            "SELECT subject, seq, body_sha256, received_at_ms FROM deliveries WHERE seq IN "
            f"(SELECT MAX(seq) FROM deliveries WHERE subject IN ({marks}) GROUP BY subject)",
            subjects,
        )
        return {subject: (int(seq), sha, int(received)) for subject, seq, sha, received in rows}

    def insert(self, conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> list[int]:
        return [int(conn.execute(SQL.insert, row).fetchone()[0]) for row in rows]

    def bump(self, conn: sqlite3.Connection, seqs: list[int]) -> None:
        conn.executemany(SQL.bump, [(seq,) for seq in seqs])


LOOKUPS = _Lookups()


class _Checkpointer:
    """A thread that, at most every `interval` seconds and only after writes, copies the log
    into the database file with a passive checkpoint on a connection of its own."""

    def __init__(
        self, conn: sqlite3.Connection, interval: float, write_lock: threading.Lock, path: str
    ) -> None:
        self._conn = conn
        self._path = path
        self._interval = interval
        self._write_lock = write_lock
        self._lock = threading.Lock()
        self._dirty = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="webhooks-sqlite-checkpoint", daemon=True)
        self._thread.start()

    def wanted(self) -> None:
        self._dirty.set()

    def run(self) -> tuple[int, int, int]:
        with self._lock:
            busy, frames, copied = self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return int(busy), int(frames), int(copied)

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self._dirty.wait()
            if self._stopping.is_set():
                return
            self._dirty.clear()
            try:
                _busy, frames, _copied = self.run()
                if frames >= RESTART_PAGES:
                    self.flush_database_file()
                    with self._write_lock:
                        self.run()
            except (sqlite3.Error, OSError) as error:
                # The writer's own checkpoint stays as the fallback; the next write tries again.
                log.warning("SQLite checkpoint failed: %s", error)
            self._stopping.wait(self._interval)

    def flush_database_file(self) -> None:
        """What checkpoints copied into the database file, on disk (see RESTART_PAGES)."""
        fd = os.open(self._path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def stop(self) -> None:
        self._stopping.set()
        self._dirty.set()
        self._thread.join()
        self._conn.close()
