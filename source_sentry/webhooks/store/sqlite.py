"""The embedded store: one SQLite file in WAL mode, needing no server.

`synchronous=FULL` makes each commit fsync the write-ahead log, so a delivery answered 2xx
survives the process being killed and the machine losing power. Writers take the database's
write lock at BEGIN IMMEDIATE, so seqs (the rowid, never reused) follow commit order even with
several processes on one file, and a reader of `seq > after` never passes a row that commits
later.
"""

from __future__ import annotations

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
    record_one,
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
CREATE INDEX IF NOT EXISTS deliveries_request_id ON deliveries (request_id);
CREATE INDEX IF NOT EXISTS deliveries_received ON deliveries (received_at_ms);
"""
SQL = Statements.marked("?")


class SqliteStore:
    def __init__(self, path: str) -> None:
        self.path = path
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._writer = self._connect()
            self._writer.executescript(SCHEMA)
            self._reader = self._connect()
        except sqlite3.Error as error:
            raise StoreError(f"Cannot open the SQLite database {path}: {error}") from error
        self._write_lock = threading.Lock()
        self._read_lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: transactions are begun explicitly (BEGIN IMMEDIATE below).
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        return conn

    def record_batch(
        self, batch: Sequence[Incoming], retry_window_ms: int, extend: Extension | None = None
    ) -> list[Recorded]:
        with self._write_lock:
            conn = self._writer
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    results = [record_one(conn, SQL, item, retry_window_ms, extend) for item in batch]
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as error:
                raise StoreError(f"SQLite could not keep the deliveries: {error}") from error
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
        return cursor.rowcount

    def check(self) -> None:
        with self._read_lock:
            self._read("SELECT 1", ())

    def close(self) -> None:
        self._writer.close()
        self._reader.close()

    def _read(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        try:
            return self._reader.execute(sql, params).fetchall()
        except sqlite3.Error as error:
            raise StoreError(f"SQLite could not be read: {error}") from error
