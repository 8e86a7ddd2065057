"""The outbox: one row per (delivery, target) to send, in the receiver's own database.

Rows are written by `choose_in` inside the transaction that keeps the delivery, so a delivery
answered 2xx always has its rows. A sender claims due rows with a lease (`lease_until_ms`):
claiming takes the rows with `FOR UPDATE SKIP LOCKED` on PostgreSQL (SQLite's BEGIN IMMEDIATE
lets one writer in at a time), so receivers sharing a database never claim one row together;
the lease keeps the row theirs while the request is in flight, and a receiver that dies
mid-request leaves a lease that runs out, after which another sends the row again with the same
`webhook_id`. A result is recorded only by the claim that holds the row.

States: `pending` (waiting; with attempts > 0 it is a failure waiting for its retry), in flight
(pending under a live lease), `sent`, `dead` (every attempt failed; `replay` makes it pending).
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from source_sentry.webhooks.forward.choose import chosen, facts
from source_sentry.webhooks.forward.config import Target
from source_sentry.webhooks.settings import redact_url, scrub
from source_sentry.webhooks.store import StoreError

TABLES = """
CREATE TABLE IF NOT EXISTS forward_outbox (
    id {id_type},
    seq BIGINT NOT NULL,
    target TEXT NOT NULL,
    webhook_id TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_ms BIGINT NOT NULL,
    lease_until_ms BIGINT,
    claim TEXT,
    created_ms BIGINT NOT NULL,
    last_attempt_ms BIGINT,
    last_status INTEGER,
    last_error TEXT,
    sent_ms BIGINT
);
CREATE INDEX IF NOT EXISTS forward_outbox_due ON forward_outbox (target, state, next_attempt_ms);
CREATE INDEX IF NOT EXISTS forward_outbox_seq ON forward_outbox (seq);
CREATE INDEX IF NOT EXISTS forward_outbox_claim ON forward_outbox (claim);
CREATE TABLE IF NOT EXISTS forward_targets (
    name TEXT PRIMARY KEY,
    disabled_ms BIGINT,
    disabled_reason TEXT
);
"""
NOT_LEASED = "(lease_until_ms IS NULL OR lease_until_ms < ?)"
COUNTS = f"""
SELECT target,
    SUM(CASE WHEN state = 'pending' AND attempts = 0 AND {NOT_LEASED} THEN 1 ELSE 0 END),
    SUM(CASE WHEN state = 'pending' AND lease_until_ms >= ? THEN 1 ELSE 0 END),
    SUM(CASE WHEN state = 'pending' AND attempts > 0 AND {NOT_LEASED} THEN 1 ELSE 0 END),
    SUM(CASE WHEN state = 'dead' THEN 1 ELSE 0 END),
    SUM(CASE WHEN state = 'sent' THEN 1 ELSE 0 END)
FROM forward_outbox GROUP BY target
"""
ROW = (
    "SELECT o.id, o.target, o.seq, o.webhook_id, o.state, o.attempts, o.last_status, o.last_error, "
    "o.last_attempt_ms, o.created_ms, o.sent_ms, d.resource, d.action, d.project_slug "
    "FROM forward_outbox o LEFT JOIN deliveries d ON d.seq = o.seq"
)
STATES = ("pending", "in_flight", "failed", "dead", "sent")


@dataclass(frozen=True)
class Claimed:
    id: int
    target: str
    seq: int
    webhook_id: str
    attempts: int
    created_ms: int
    claim: str
    resource: str | None
    action: str | None
    body: bytes | None  # None: the delivery was pruned by retention before it could be sent


@dataclass(frozen=True)
class Outcome:
    """One attempt's result: `sent` (2xx), `failed` (due again at `next_ms`, or dead when None),
    or `gone` (410: the target is disabled for every receiver; the row waits, its attempts
    untouched, until `enable`)."""

    kind: str
    row: Claimed
    at_ms: int
    status: int | None = None
    error: str | None = None
    next_ms: int | None = None


def _assignments(outcome: Outcome) -> tuple[str, tuple[Any, ...]]:
    at = outcome.at_ms
    if outcome.kind == "sent":
        return (
            "state = 'sent', attempts = attempts + 1, sent_ms = ?, last_attempt_ms = ?, last_status = ?, "
            "last_error = NULL",
            (at, at, outcome.status),
        )
    if outcome.kind == "gone":
        return "last_attempt_ms = ?, last_status = 410, last_error = 'gone: target disabled'", (at,)
    state = "pending" if outcome.next_ms is not None else "dead"
    return (
        "state = ?, attempts = attempts + 1, next_attempt_ms = ?, last_attempt_ms = ?, last_status = ?, "
        "last_error = ?",
        (state, outcome.next_ms if outcome.next_ms is not None else at, at, outcome.status, outcome.error),
    )


@dataclass(frozen=True)
class Entry:
    """One row as the CLI and the status page show it (never a URL or a body)."""

    id: int
    target: str
    seq: int
    webhook_id: str
    state: str
    attempts: int
    last_status: int | None
    last_error: str | None
    last_attempt_ms: int | None
    created_ms: int
    sent_ms: int | None
    resource: str | None
    action: str | None
    project: str | None


class Outbox:
    def __init__(self, database: str) -> None:
        self.postgres = database.startswith(("postgresql://", "postgres://"))
        self._database = database
        self._lock = threading.Lock()
        self._conn: Any = self._connect()
        id_type = "BIGSERIAL PRIMARY KEY" if self.postgres else "INTEGER PRIMARY KEY AUTOINCREMENT"
        try:
            with self._transaction() as conn:
                if self.postgres:
                    from source_sentry.webhooks.store.postgres import take_feed_order_lock

                    # Receivers starting together would race on CREATE TABLE IF NOT EXISTS (one
                    # fails on PostgreSQL's catalog); the store's creation waits on the same lock.
                    take_feed_order_lock(conn)
                for statement in TABLES.format(id_type=id_type).split(";"):
                    if statement.strip():
                        conn.execute(statement)
        except StoreError as error:
            self._conn.close()
            cause = error.__cause__ if error.__cause__ is not None else error
            raise StoreError(
                f"cannot create the outbox tables (forward_outbox, forward_targets) in "
                f"{redact_url(database)}: {self._said(cause)} The database user needs the right to "
                "create tables there and to own those two tables if they already exist (or create "
                "them from the schema in forward/outbox.py)."
            ) from error

    def _connect(self) -> Any:
        try:
            # The outbox's own writes (claims, outcomes) do not wait for the disk: a crash of the
            # machine or the database server can lose the last of them, and the rows concerned are
            # then sent again, with the same webhook-id, as at-least-once allows. The rows written
            # with a delivery go through the receiver's connection and are as durable as it is.
            if self.postgres:
                import psycopg

                server = psycopg.connect(self._database, autocommit=True, connect_timeout=10)
                server.execute("SET synchronous_commit = off")
                return server
            Path(self._database).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self._database, isolation_level=None, check_same_thread=False, timeout=30)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            return conn
        except Exception as error:
            raise StoreError(
                f"cannot open the outbox in {redact_url(self._database)}: {self._said(error)} Check "
                "that the database accepts one more connection from this host (the outbox keeps "
                "its own)."
            ) from error

    def _said(self, error: BaseException) -> str:
        """A driver's message as one sentence, without the URL's password (libpq can quote it)."""
        said = scrub(" ".join(str(error).split()), self._database)
        return said if said.endswith((".", "?")) else said + "."

    def sql(self, text: str) -> str:
        return text.replace("?", "%s") if self.postgres else text

    @contextmanager
    def _transaction(self, write: bool = True) -> Iterator[Any]:
        """One transaction on the outbox's own connection (reconnecting after a server restart).
        SQLite: a reading one does not take the database's single write lock, which the
        receiver's commits need."""
        with self._lock:
            try:
                if self.postgres and (self._conn.closed or self._conn.broken):
                    self._conn = self._connect()
                conn = self._conn
                conn.execute("BEGIN" if self.postgres or not write else "BEGIN IMMEDIATE")
                try:
                    yield _Dialect(conn, self)
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
            except StoreError:
                raise
            except Exception as error:
                if isinstance(error, sqlite3.Error) or type(error).__module__.startswith("psycopg"):
                    raise StoreError(f"The forwarding outbox could not be used: {error}") from error
                raise

    # Inside the receiver's transaction --------------------------------------------------------

    def choose_in(self, conn: Any, seq: int, targets: Sequence[Target], now_ms: int) -> int:
        """Write the rows of the delivery `seq` for every target its facts match, on the store's
        connection inside the store's transaction; returns how many."""
        db = _Dialect(conn, self)
        row = db.execute(
            "SELECT resource, action, project_slug, project_id, body FROM deliveries WHERE seq = ?", (seq,)
        ).fetchone()
        if row is None:
            return 0
        picked = chosen(targets, facts(row[0], row[1], row[2], row[3], bytes(row[4])))
        for target in picked:
            db.execute(
                "INSERT INTO forward_outbox (seq, target, webhook_id, state, attempts, "
                "next_attempt_ms, created_ms) "
                "VALUES (?, ?, ?, 'pending', 0, ?, ?)",
                (seq, target.name, f"msg_{uuid.uuid4().hex}", now_ms, now_ms),
            )
        return len(picked)

    # Senders ----------------------------------------------------------------------------------

    def claim(self, target: str, limit: int, now_ms: int, lease_ms: int) -> list[Claimed]:
        token = uuid.uuid4().hex
        lock = " FOR UPDATE SKIP LOCKED" if self.postgres else ""
        with self._transaction() as db:
            ids = [
                int(r[0])
                for r in db.execute(
                    "SELECT id FROM forward_outbox WHERE target = ? AND state = 'pending' AND "
                    "next_attempt_ms <= ? "
                    f"AND {NOT_LEASED} AND NOT EXISTS (SELECT 1 FROM forward_targets t WHERE t.name = ? "
                    f"AND t.disabled_ms IS NOT NULL) ORDER BY next_attempt_ms, id LIMIT ?{lock}",
                    (target, now_ms, now_ms, target, limit),
                ).fetchall()
            ]
            if not ids:
                return []
            marks = ", ".join("?" * len(ids))
            db.execute(
                f"UPDATE forward_outbox SET lease_until_ms = ?, claim = ? WHERE id IN ({marks})",
                (now_ms + lease_ms, token, *ids),
            )
            rows = db.execute(
                "SELECT o.id, o.target, o.seq, o.webhook_id, o.attempts, o.created_ms, d.resource, "
                "d.action, d.body "
                "FROM forward_outbox o LEFT JOIN deliveries d ON d.seq = o.seq WHERE o.claim = ? "
                "ORDER BY o.id",
                (token,),
            ).fetchall()
        return [
            Claimed(
                id=int(r[0]),
                target=r[1],
                seq=int(r[2]),
                webhook_id=r[3],
                attempts=int(r[4]),
                created_ms=int(r[5]),
                claim=token,
                resource=r[6],
                action=r[7],
                body=bytes(r[8]) if r[8] is not None else None,
            )
            for r in rows
        ]

    def record(self, outcomes: Sequence[Outcome]) -> int:
        """Record attempts' outcomes in one transaction (one commit for many sends); each only if
        its claim still holds the row (its lease may have run out and another receiver taken it:
        then that one records). Returns how many were recorded."""
        recorded = 0
        with self._transaction() as db:
            for outcome in outcomes:
                if outcome.kind == "gone":
                    self._disable(db, outcome.row.target, outcome.at_ms, "answered 410 Gone")
                assignments, params = _assignments(outcome)
                cursor = db.execute(
                    f"UPDATE forward_outbox SET {assignments}, lease_until_ms = NULL, claim = NULL "
                    "WHERE id = ? AND claim = ?",
                    (*params, outcome.row.id, outcome.row.claim),
                )
                recorded += cursor.rowcount
        return recorded

    def release(self, rows: Sequence[Claimed]) -> int:
        """Give back rows claimed but not sent (a 410 disabled their target while the claim ran):
        unleased, attempts untouched, as if never claimed. A row whose lease another receiver has
        taken since is left to that one. Returns how many were given back."""
        released = 0
        with self._transaction() as db:
            for row in rows:
                released += db.execute(
                    "UPDATE forward_outbox SET lease_until_ms = NULL, claim = NULL "
                    "WHERE id = ? AND claim = ?",
                    (row.id, row.claim),
                ).rowcount
        return released

    # Operators --------------------------------------------------------------------------------

    def counts(self, now_ms: int) -> dict[str, dict[str, int]]:
        with self._transaction(write=False) as db:
            rows = db.execute(COUNTS, (now_ms, now_ms, now_ms)).fetchall()
        return {r[0]: dict(zip(STATES, (int(v or 0) for v in r[1:]), strict=True)) for r in rows}

    def disabled(self) -> dict[str, str]:
        with self._transaction(write=False) as db:
            rows = db.execute(
                "SELECT name, disabled_reason FROM forward_targets WHERE disabled_ms IS NOT NULL"
            ).fetchall()
        return {r[0]: r[1] for r in rows}

    def entries(self, where: str, params: tuple[Any, ...], limit: int) -> list[Entry]:
        with self._transaction(write=False) as db:
            rows = db.execute(
                f"{ROW} WHERE {where} ORDER BY COALESCE(o.last_attempt_ms, o.created_ms) DESC, o.id "
                "DESC LIMIT ?",
                (*params, limit),
            ).fetchall()
        return [Entry(int(r[0]), r[1], int(r[2]), *r[3:]) for r in rows]

    def dead(self, target: str | None = None, limit: int = 1000) -> list[Entry]:
        if target is None:
            return self.entries("o.state = 'dead'", (), limit)
        return self.entries("o.state = 'dead' AND o.target = ?", (target,), limit)

    def replay(self, now_ms: int, target: str | None = None, ids: Sequence[int] = ()) -> int:
        """Dead rows back to pending with a fresh set of attempts (and their old webhook-id)."""
        where, params = "state = 'dead'", list[Any]()
        if target is not None:
            where += " AND target = ?"
            params.append(target)
        if ids:
            where += f" AND id IN ({', '.join('?' * len(ids))})"
            params.extend(ids)
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE forward_outbox SET state = 'pending', attempts = 0, next_attempt_ms = ? "
                f"WHERE {where}",
                (now_ms, *params),
            )
            return int(cursor.rowcount)

    def enable(self, target: str) -> bool:
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE forward_targets SET disabled_ms = NULL, disabled_reason = NULL "
                "WHERE name = ? AND disabled_ms IS NOT NULL",
                (target,),
            )
            return bool(cursor.rowcount)

    def prune(self, sent_before_ms: int) -> int:
        """Sent rows older than the retention, and rows whose delivery retention removed."""
        with self._transaction() as db:
            removed = db.execute(
                "DELETE FROM forward_outbox WHERE (state = 'sent' AND sent_ms < ?) "
                "OR NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.seq = forward_outbox.seq)",
                (sent_before_ms,),
            ).rowcount
        return int(removed)

    def _disable(self, db: _Dialect, target: str, now_ms: int, reason: str) -> None:
        updated = db.execute(
            "UPDATE forward_targets SET disabled_ms = ?, disabled_reason = ? WHERE name = ?",
            (now_ms, reason, target),
        ).rowcount
        if not updated:
            db.execute(
                "INSERT INTO forward_targets (name, disabled_ms, disabled_reason) VALUES (?, ?, ?)",
                (target, now_ms, reason),
            )

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class _Dialect:
    """A connection whose `execute` takes `?` marks on either database."""

    def __init__(self, conn: Any, outbox: Outbox) -> None:
        self._conn = conn
        self._outbox = outbox

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        return self._conn.execute(self._outbox.sql(sql), params)
