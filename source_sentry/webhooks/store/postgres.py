"""PostgreSQL, for several receivers behind a load balancer.

The feed's order. A sequence value is taken before its transaction commits, so with plain
concurrent inserts seq 7 can commit after seq 8: a reader that saw 8 and asks for `seq > 8`
would never see 7. Here every writing transaction first takes one transaction-scoped advisory
lock (`pg_advisory_xact_lock`), and only then draws its seqs; PostgreSQL releases that lock
after the commit has become visible. So a transaction holding seq N has committed and is
visible before any other draws a seq above N: the rows a reader can see are always every row up
to some seq, and `seq > after` never skips. The cost is that writers queue for the lock, one
commit at a time; each receiver batches the deliveries that wait meanwhile into one transaction
(see committer.py), so the queue moves in batches, not in single rows.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from typing import Any

import psycopg

from source_sentry.webhooks.settings import redact_url, scrub
from source_sentry.webhooks.store.base import (
    COLUMNS,
    Extension,
    Incoming,
    Recorded,
    Statements,
    StoreError,
    feed_entry,
    record_many,
)

# Any fixed number names the lock; this one spells "sentry webhooks" loosely, to be recognisable
# in pg_locks.
FEED_ORDER_LOCK = 0x5E47_0F_EED


def take_feed_order_lock(conn: psycopg.Connection[Any]) -> None:
    """Wait for the feed's order lock, held until the caller's transaction ends (see above). It
    also keeps receivers starting together from creating the same tables side by side."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (FEED_ORDER_LOCK,))


SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    seq BIGSERIAL PRIMARY KEY,
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
    sent_at BIGINT,
    received_at_ms BIGINT NOT NULL,
    attempts INTEGER NOT NULL,
    parse_error BOOLEAN NOT NULL,
    body BYTEA NOT NULL,
    subject TEXT NOT NULL,
    body_sha256 TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_subject ON deliveries (subject, seq);
-- Request-IDs are found through the subject's index (see store.base.Lookups.same_requests); an
-- index of their own, kept by earlier versions, cost its upkeep on every delivery kept.
DROP INDEX IF EXISTS deliveries_request_id;
CREATE INDEX IF NOT EXISTS deliveries_received ON deliveries (received_at_ms);
"""
SQL = Statements.marked("%s")
# record_many's lookups, one row per key. Each key is looked up by a LIMIT 1 subquery of its own
# (LATERAL), which PostgreSQL can only answer by walking the key's index. The plain form,
# `WHERE request_id = ANY(%s)`, is planned from the table's statistics: on a table not yet
# analysed (a new receiver's first minute, or one that grew fast since autovacuum last looked)
# it was planned as a scan of the whole table for every batch, and that cost the server 600 µs
# per delivery at 5,000 rows, growing with the table (measured: 100 µs with this form).
SAME_REQUESTS = (
    "SELECT k.request_id, k.body_sha256, d.seq "
    "FROM ROWS FROM (json_array_elements_text(%s::json), json_array_elements_text(%s::json), "
    "json_array_elements_text(%s::json)) AS k(request_id, body_sha256, subject) "
    "CROSS JOIN LATERAL (SELECT seq FROM deliveries WHERE deliveries.subject = k.subject "
    "AND deliveries.request_id = k.request_id AND deliveries.body_sha256 = k.body_sha256 "
    "ORDER BY seq LIMIT 1) AS d"
)
NEWEST = (
    "SELECT s.subject, d.seq, d.body_sha256, d.received_at_ms "
    "FROM json_array_elements_text(%s::json) AS s(subject) "
    "CROSS JOIN LATERAL (SELECT seq, body_sha256, received_at_ms FROM deliveries "
    "WHERE deliveries.subject = s.subject ORDER BY seq DESC LIMIT 1) AS d"
)

DRAW_SEQS = "SELECT nextval(pg_get_serial_sequence('deliveries', 'seq')) FROM generate_series(1, %s)"
COPY_IN = f"COPY deliveries ({', '.join(COLUMNS)}, subject, body_sha256) FROM STDIN (FORMAT BINARY)"
# COPY_IN's columns' types in its order: seq, the ten text columns from request_id to
# project_slug, sent_at, received_at_ms, attempts, parse_error, body, subject, body_sha256.
COPY_TYPES = ["int8", *["text"] * 10, "int8", "int8", "int4", "bool", "bytea", "text", "text"]


class _Lookups:
    """record_many's statements for PostgreSQL: each is one round trip to the server whatever the
    batch holds (the inserts go as one COPY), where one delivery at a time cost two each."""

    def same_requests(
        self, conn: psycopg.Connection[Any], keys: list[tuple[str, str, str]]
    ) -> dict[tuple[str, str], int]:
        rows = conn.execute(SAME_REQUESTS, [_json(column) for column in zip(*keys, strict=True)]).fetchall()
        return {(rid, sha): int(seq) for rid, sha, seq in rows}

    def newest(self, conn: psycopg.Connection[Any], subjects: list[str]) -> dict[str, tuple[int, str, int]]:
        rows = conn.execute(NEWEST, (_json(subjects),)).fetchall()
        return {subject: (int(seq), sha, int(received)) for subject, seq, sha, received in rows}

    def insert(self, conn: psycopg.Connection[Any], rows: list[tuple[Any, ...]]) -> list[int]:
        # The run's seqs are drawn in one statement and its rows then go in one binary COPY, which
        # the server takes without parsing, planning and answering each row (measured on the store
        # alone, batches of 10: 10 to 20% less CPU in both this process and the server than one
        # INSERT per row, even pipelined). Seqs are drawn only under the feed's order lock, which
        # the caller holds, so these are the next ones; they are handed out in the rows' order.
        seqs = sorted(int(seq) for (seq,) in conn.execute(DRAW_SEQS, (len(rows),)).fetchall())
        with conn.cursor().copy(COPY_IN) as copy:
            copy.set_types(COPY_TYPES)
            for seq, row in zip(seqs, rows, strict=True):
                copy.write_row((seq, *row))
        return seqs

    def bump(self, conn: psycopg.Connection[Any], seqs: list[int]) -> None:
        with conn.cursor() as cursor:
            cursor.executemany(SQL.bump, [(seq,) for seq in seqs])


def _json(strings: Sequence[str]) -> str:
    """The lookups' keys as one JSON text per column. A Python list would go as a PostgreSQL array,
    which psycopg writes in Python with a quoting check per element: about 105 µs per batch of 27
    deliveries, against 16 µs for the same keys through json.dumps (in C), of the committer
    thread's time, which it shares with the event loop through the interpreter lock."""
    return json.dumps(strings)


LOOKUPS = _Lookups()


class PostgresStore:
    def __init__(self, url: str) -> None:
        self._url = url
        self._write_lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._writer = self._connect(autocommit=False)
        self._reader = self._connect(autocommit=True)
        try:
            with self._writer.transaction():
                # Receivers starting together would race on CREATE TABLE IF NOT EXISTS.
                take_feed_order_lock(self._writer)
                self._writer.execute(SCHEMA)
        except psycopg.Error as error:
            raise StoreError(
                f"cannot create the tables in {redact_url(url)}: {self._said(error)} The database "
                "user needs the right to create tables in it (or create them from the schema in "
                "store/postgres.py)."
            ) from error

    def _connect(self, autocommit: bool) -> psycopg.Connection[Any]:
        try:
            return psycopg.connect(self._url, autocommit=autocommit, connect_timeout=10)
        except psycopg.Error as error:
            raise StoreError(
                f"cannot connect to {redact_url(self._url)}: {self._said(error)} Check the host, "
                "port, database name, user and password in the URL, and that PostgreSQL is running "
                "and accepts connections from this host."
            ) from error

    def _said(self, error: psycopg.Error) -> str:
        """psycopg's message as one sentence, without the password (libpq quotes a URL part it
        cannot read, and that can be the password)."""
        said = scrub(" ".join(str(error).split()), self._url)
        return said if said.endswith((".", "?")) else said + "."

    def _healthy(self, conn: psycopg.Connection[Any], autocommit: bool) -> psycopg.Connection[Any]:
        """The connection, or a new one when the server dropped it (restart, failover)."""
        if conn.closed or conn.broken:
            return self._connect(autocommit)
        return conn

    def record_batch(
        self, batch: Sequence[Incoming], retry_window_ms: int, extend: Extension | None = None
    ) -> list[Recorded]:
        with self._write_lock:
            try:
                self._writer = conn = self._healthy(self._writer, autocommit=False)
                with conn.transaction():
                    take_feed_order_lock(conn)
                    return record_many(conn, SQL, LOOKUPS, batch, retry_window_ms, extend)
            except psycopg.Error as error:
                raise StoreError(f"PostgreSQL could not keep the deliveries: {error}") from error

    def feed(self, after: int, limit: int) -> list[dict[str, Any]]:
        rows = self._read(SQL.feed, (after, limit))
        return [feed_entry(row) for row in rows]

    def newest_seq(self) -> int:
        return int(self._read("SELECT COALESCE(MAX(seq), 0) FROM deliveries", ())[0][0])

    def prune(self, received_before_ms: int) -> int:
        with self._write_lock:
            try:
                self._writer = conn = self._healthy(self._writer, autocommit=False)
                with conn.transaction():
                    cursor = conn.execute(
                        "DELETE FROM deliveries WHERE received_at_ms < %s", (received_before_ms,)
                    )
                    return cursor.rowcount
            except psycopg.Error as error:
                raise StoreError(f"PostgreSQL could not prune: {error}") from error

    def check(self) -> None:
        self._read("SELECT 1", ())

    def close(self) -> None:
        self._writer.close()
        self._reader.close()

    def _read(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        with self._read_lock:
            try:
                self._reader = conn = self._healthy(self._reader, autocommit=True)
                return conn.execute(sql, params).fetchall()
            except psycopg.Error as error:
                raise StoreError(f"PostgreSQL could not be read: {error}") from error
