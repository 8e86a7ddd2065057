"""The interface both stores implement, the rule that tells a retry from a new delivery, and the
feed's JSON shape.

A retry (Sentry's own, published apps only: same body, new Request-ID and timestamp, minutes
later) is recognised as: the same body bytes (sha256) as the newest delivery kept about the same
subject (the issue of an issue.* delivery, the event of error.created, the comment, ...), kept
less than the retry window ago. It then adds one to that delivery's `attempts` instead of
becoming a new fact. An issue resolved, reopened and resolved again gives two byte-identical
`resolved` bodies (Sentry's body holds no time of the change), but the `unresolved` between them
is the newest about the issue when the second arrives: three facts. The same Request-ID with the
same body (a proxy resending one request) is always a duplicate.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from source_sentry.webhooks.envelope import Envelope

# Called inside the transaction that keeps a new delivery, with that transaction's connection
# and the delivery's seq: a row written there (issue 28's outbox) commits with it or not at all.
Extension = Callable[[Any, int], None]


class StoreError(RuntimeError):
    """The store could not keep a delivery or answer a read; the sender should try again."""


@dataclass(frozen=True)
class Incoming:
    request_id: str | None
    sent_at: int | None  # Sentry-Hook-Timestamp, Unix seconds
    received_at_ms: int
    body: bytes
    body_sha256: str
    envelope: Envelope


@dataclass(frozen=True)
class Recorded:
    seq: int
    duplicate: bool


class Store(Protocol):
    def record_batch(
        self, batch: Sequence[Incoming], retry_window_ms: int, extend: Extension | None = None
    ) -> list[Recorded]:
        """Keep each delivery (or count it as a retry) in one transaction, committed durably
        before returning; seqs follow commit order."""

    def feed(self, after: int, limit: int) -> list[dict[str, Any]]:
        """Deliveries with seq > after, oldest first, as feed entries."""

    def newest_seq(self) -> int: ...

    def prune(self, received_before_ms: int) -> int:
        """Delete deliveries received before that instant; returns how many."""

    def check(self) -> None:
        """Raise StoreError when the store cannot be used."""

    def close(self) -> None: ...


# The columns both stores keep, in the order their SELECTs return them.
COLUMNS = (
    "seq",
    "request_id",
    "resource",
    "action",
    "installation_uuid",
    "actor",
    "issue_id",
    "event_id",
    "comment_id",
    "project_id",
    "project_slug",
    "sent_at",
    "received_at_ms",
    "attempts",
    "parse_error",
    "body",
)


# json.dumps with separators builds a new encoder on each call: 3.3 µs for an actor, against 1.5
# for the same bytes from one encoder kept here.
_COMPACT = json.JSONEncoder(separators=(",", ":"))


def insert_values(incoming: Incoming) -> tuple[Any, ...]:
    """Values for the columns after seq, then subject and body_sha256."""
    env = incoming.envelope
    return (
        incoming.request_id,
        env.resource,
        env.action,
        env.installation_uuid,
        _COMPACT.encode(env.actor) if env.actor is not None else None,
        env.issue_id,
        env.event_id,
        env.comment_id,
        env.project_id,
        env.project_slug,
        incoming.sent_at,
        incoming.received_at_ms,
        1,
        env.parse_error,
        incoming.body,
        env.subject,
        incoming.body_sha256,
    )


@dataclass(frozen=True)
class Statements:
    """The SQL both stores run, in a driver's placeholder style (`?` or `%s`)."""

    earlier: str
    bump: str
    insert: str
    feed: str

    @classmethod
    def marked(cls, mark: str) -> Statements:
        names = ", ".join(COLUMNS[1:])
        marks = ", ".join([mark] * (len(COLUMNS) + 1))
        return cls(
            # One round trip for both duplicate checks: the delivery with this Request-ID and
            # body, if any (flag 1), then the newest about the same subject (flag 0). Both walk
            # the subject's index: the same body means the same subject.
            earlier=(
                f"SELECT * FROM (SELECT seq, body_sha256, received_at_ms, 1 FROM deliveries "
                f"WHERE subject = {mark} AND request_id = {mark} AND body_sha256 = {mark} LIMIT 1) "
                f"AS same_request "
                f"UNION ALL SELECT * FROM (SELECT seq, body_sha256, received_at_ms, 0 FROM deliveries "
                f"WHERE subject = {mark} ORDER BY seq DESC LIMIT 1) AS newest ORDER BY 4 DESC"
            ),
            bump=f"UPDATE deliveries SET attempts = attempts + 1 WHERE seq = {mark}",
            insert=f"INSERT INTO deliveries ({names}, subject, body_sha256) VALUES ({marks}) RETURNING seq",
            feed=f"SELECT {', '.join(COLUMNS)} FROM deliveries WHERE seq > {mark} ORDER BY seq LIMIT {mark}",
        )


def record_one(
    conn: Any, sql: Statements, item: Incoming, retry_window_ms: int, extend: Extension | None
) -> Recorded:
    """Keep one delivery, or count it as a retry of one kept, inside the caller's transaction
    (`conn` is a DB-API connection: sqlite3's or psycopg's)."""
    subject = item.envelope.subject
    params = (subject, item.request_id, item.body_sha256, subject)
    match = conn.execute(sql.earlier, params).fetchone()
    if match is not None and not match[3] and not is_retry((match[1], match[2]), item, retry_window_ms):
        match = None
    if match is not None:
        conn.execute(sql.bump, (match[0],))
        return Recorded(seq=int(match[0]), duplicate=True)
    seq = int(conn.execute(sql.insert, insert_values(item)).fetchone()[0])
    if extend is not None:
        extend(conn, seq)
    return Recorded(seq=seq, duplicate=False)


class Lookups(Protocol):
    """A store's batched reads and writes for record_many, inside the caller's transaction."""

    def same_requests(self, conn: Any, keys: list[tuple[str, str, str]]) -> dict[tuple[str, str], int]:
        """(request_id, body_sha256) -> seq of the kept delivery with that Request-ID and body, for
        the keys (request_id, body_sha256, subject) kept (more pairs may come back; only these
        are looked up). The same body means the same subject, so the subject's index finds
        them: an index on the Request-ID would cost a random index page per delivery kept."""

    def newest(self, conn: Any, subjects: list[str]) -> dict[str, tuple[int, str, int]]:
        """subject -> (seq, body_sha256, received_at_ms) of the newest delivery about each."""

    def insert(self, conn: Any, rows: list[tuple[Any, ...]]) -> list[int]:
        """Insert rows of insert_values(); their seqs, in the rows' order."""

    def bump(self, conn: Any, seqs: list[int]) -> None:
        """Count one more attempt on each of these deliveries."""


def record_many(
    conn: Any,
    sql: Statements,
    lookups: Lookups,
    batch: Sequence[Incoming],
    retry_window_ms: int,
    extend: Extension | None,
) -> list[Recorded]:
    """record_one's rule for a whole batch, with a fixed number of statements per run of
    unrelated deliveries. A delivery is judged only against earlier deliveries about its subject
    (the same Request-ID counts only with the same body, hence the same subject); so the batch is
    cut, in order, where a delivery's subject already came up in the run. Inside a run no delivery
    can change another's judgement: the earlier deliveries of every subject and Request-ID of the
    run are read in one go, each delivery is judged against them, and the new ones are inserted
    together. Runs follow one another in the transaction, so each sees the rows of those before."""
    results: list[Recorded] = []
    for run in _unrelated_runs(batch):
        if len(run) == 1:
            results.append(record_one(conn, sql, run[0], retry_window_ms, extend))
        else:
            results += _record_run(conn, lookups, run, retry_window_ms, extend)
    return results


def _unrelated_runs(batch: Sequence[Incoming]) -> list[list[Incoming]]:
    runs: list[list[Incoming]] = []
    run: list[Incoming] = []
    subjects: set[str] = set()
    for item in batch:
        if item.envelope.subject in subjects:
            runs.append(run)
            run, subjects = [], set()
        run.append(item)
        subjects.add(item.envelope.subject)
    if run:
        runs.append(run)
    return runs


def _record_run(
    conn: Any, lookups: Lookups, run: list[Incoming], retry_window_ms: int, extend: Extension | None
) -> list[Recorded]:
    keys = [
        (item.request_id, item.body_sha256, item.envelope.subject)
        for item in run
        if item.request_id is not None
    ]
    same = lookups.same_requests(conn, keys) if keys else {}
    newest = lookups.newest(conn, [item.envelope.subject for item in run])
    results: list[Recorded | None] = [None] * len(run)
    new: list[int] = []
    bumped: list[int] = []
    for index, item in enumerate(run):
        seq = same.get((item.request_id, item.body_sha256)) if item.request_id is not None else None
        if seq is None:
            earlier = newest.get(item.envelope.subject)
            if earlier is not None and is_retry((earlier[1], earlier[2]), item, retry_window_ms):
                seq = earlier[0]
        if seq is None:
            new.append(index)
        else:
            bumped.append(seq)
            results[index] = Recorded(seq=seq, duplicate=True)
    if bumped:
        lookups.bump(conn, bumped)
    if new:
        seqs = lookups.insert(conn, [insert_values(run[index]) for index in new])
        for index, seq in zip(new, seqs, strict=True):
            results[index] = Recorded(seq=seq, duplicate=False)
            if extend is not None:
                extend(conn, seq)
    return [result for result in results if result is not None]


def is_retry(newest: tuple[str, int], incoming: Incoming, retry_window_ms: int) -> bool:
    """`newest` is (body_sha256, received_at_ms) of the newest delivery about the same subject."""
    sha, received_at_ms = newest
    return sha == incoming.body_sha256 and incoming.received_at_ms - received_at_ms <= retry_window_ms


def feed_entry(row: Sequence[Any]) -> dict[str, Any]:
    """One delivery as the feed serves it: self-describing, the payload parsed when it parses."""
    values = dict(zip(COLUMNS, row, strict=True))
    body = bytes(values.pop("body"))
    parse_error = bool(values["parse_error"])
    actor = values.pop("actor")
    received_at_ms = int(values.pop("received_at_ms"))
    sent_at = values.pop("sent_at")
    entry: dict[str, Any] = {
        **values,
        "actor": json.loads(actor) if actor else None,
        "sent_at": _iso(int(sent_at) * 1000) if sent_at is not None else None,
        "received_at": _iso(received_at_ms),
        "verified": True,
        "parse_error": parse_error,
        "attempts": int(values["attempts"]),
    }
    if parse_error:
        entry["payload"] = None
        entry["raw_body_base64"] = base64.b64encode(body).decode("ascii")
    else:
        entry["payload"] = json.loads(body)
    return entry


def _iso(epoch_ms: int) -> str:
    moment = datetime.fromtimestamp(epoch_ms / 1000, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
