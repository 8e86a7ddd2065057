"""The stores' rules, on SQLite and PostgreSQL alike: what is a retry, what is a new fact, the
feed's order and paging, the transaction callers extend, retention."""

from __future__ import annotations

import hashlib
import time

import pytest

from source_sentry.webhooks.envelope import read_envelope
from source_sentry.webhooks.store import Incoming, StoreError, open_store
from tools.receiver import issue_body

WINDOW_MS = 3_600_000


def incoming(body: bytes, resource: str = "issue", request_id: str | None = None, at_ms: int | None = None):
    return Incoming(
        request_id=request_id,
        sent_at=int(time.time()),
        received_at_ms=at_ms if at_ms is not None else int(time.time() * 1000),
        body=body,
        body_sha256=hashlib.sha256(body).hexdigest(),
        envelope=read_envelope(resource, body),
    )


RESOLVED = issue_body("resolved", "42", "resolved")
REOPENED = issue_body("unresolved", "42", "unresolved")


def test_given_sentry_retry_with_same_body_and_new_request_id_when_recorded_then_kept_once(store):
    first = store.record_batch([incoming(RESOLVED, request_id="a" * 32)], WINDOW_MS)
    retry = store.record_batch([incoming(RESOLVED, request_id="b" * 32)], WINDOW_MS)
    assert [r.duplicate for r in first + retry] == [False, True]
    assert retry[0].seq == first[0].seq
    feed = store.feed(0, 10)
    assert [(e["seq"], e["attempts"], e["request_id"]) for e in feed] == [(first[0].seq, 2, "a" * 32)]


def test_given_issue_resolved_reopened_resolved_when_recorded_then_three_facts(store):
    results = [store.record_batch([incoming(body)], WINDOW_MS)[0] for body in (RESOLVED, REOPENED, RESOLVED)]
    assert [r.duplicate for r in results] == [False, False, False]
    actions = [(e["action"], e["payload"]["data"]["issue"]["status"]) for e in store.feed(0, 10)]
    assert actions == [("resolved", "resolved"), ("unresolved", "unresolved"), ("resolved", "resolved")]


def test_given_same_body_after_the_retry_window_when_recorded_then_a_new_fact(store):
    now = int(time.time() * 1000)
    store.record_batch([incoming(RESOLVED, at_ms=now - WINDOW_MS - 1)], WINDOW_MS)
    again = store.record_batch([incoming(RESOLVED, at_ms=now)], WINDOW_MS)
    assert not again[0].duplicate
    assert len(store.feed(0, 10)) == 2


def test_given_same_request_id_and_body_resent_later_when_recorded_then_a_duplicate(store):
    store.record_batch([incoming(RESOLVED, request_id="c" * 32)], WINDOW_MS)
    store.record_batch([incoming(REOPENED)], WINDOW_MS)
    resent = store.record_batch([incoming(RESOLVED, request_id="c" * 32)], WINDOW_MS)
    assert resent[0].duplicate
    assert [e["attempts"] for e in store.feed(0, 10)] == [2, 1]


def test_given_retry_in_the_same_batch_when_recorded_then_kept_once(store):
    results = store.record_batch([incoming(RESOLVED), incoming(RESOLVED)], WINDOW_MS)
    assert [r.duplicate for r in results] == [False, True]
    assert len(store.feed(0, 10)) == 1


def test_given_unparseable_signed_body_when_recorded_then_kept_raw_and_flagged(store):
    store.record_batch([incoming(b"\x00not json\xff")], WINDOW_MS)
    (entry,) = store.feed(0, 10)
    assert entry["parse_error"] is True
    assert entry["payload"] is None
    assert entry["raw_body_base64"] == "AG5vdCBqc29u/w=="


def test_given_many_deliveries_when_paged_by_last_seq_then_each_comes_once_in_order(store):
    bodies = [issue_body("created", str(n), "unresolved") for n in range(25)]
    store.record_batch([incoming(b) for b in bodies[:10]], WINDOW_MS)
    store.record_batch([incoming(b) for b in bodies[10:]], WINDOW_MS)
    seen, after = [], 0
    while page := store.feed(after, 7):
        seen.extend(e["issue_id"] for e in page)
        after = page[-1]["seq"]
    assert seen == [str(n) for n in range(25)]
    assert store.newest_seq() == after


def _outbox(database):
    """An outbox table as issue 28 will add one, and its placeholder style."""
    mark = "%s" if database.startswith("postgresql://") else "?"
    return f"INSERT INTO outbox (seq) VALUES ({mark})"


def test_given_extension_when_it_writes_then_its_row_commits_with_the_delivery(store, database):
    insert = _outbox(database)

    def outbox(conn, seq):
        conn.execute("CREATE TABLE IF NOT EXISTS outbox (seq BIGINT)")
        conn.execute(insert, (seq,))

    (recorded,) = store.record_batch([incoming(RESOLVED)], WINDOW_MS, extend=outbox)
    (retry,) = store.record_batch([incoming(RESOLVED)], WINDOW_MS, extend=outbox)
    assert retry.duplicate
    check = open_store(database)
    try:
        rows = check._reader.execute("SELECT seq FROM outbox").fetchall()
    finally:
        check.close()
    assert [row[0] for row in rows] == [recorded.seq]


def test_given_extension_that_fails_when_recorded_then_the_delivery_is_not_kept(store):
    def broken(conn, seq):
        raise RuntimeError("outbox full")

    with pytest.raises((StoreError, RuntimeError)):
        store.record_batch([incoming(RESOLVED)], WINDOW_MS, extend=broken)
    assert store.feed(0, 10) == []
    store.record_batch([incoming(REOPENED)], WINDOW_MS)
    assert [e["action"] for e in store.feed(0, 10)] == ["unresolved"]


def test_given_deliveries_older_than_retention_when_pruned_then_only_they_go(store):
    now = int(time.time() * 1000)
    store.record_batch([incoming(RESOLVED, at_ms=now - 10 * 86_400_000)], WINDOW_MS)
    store.record_batch([incoming(REOPENED, at_ms=now)], WINDOW_MS)
    assert store.prune(now - 7 * 86_400_000) == 1
    assert [e["action"] for e in store.feed(0, 10)] == ["unresolved"]


def _second_database(database, request, tmp_path):
    if database.startswith("postgresql://"):
        return request.getfixturevalue("pg_cluster").new_database()
    return str(tmp_path / "one-at-a-time.sqlite3")


def _mixed_stream(seed: int, count: int) -> list:
    """Deliveries as Sentry's traffic mixes them: new facts, Sentry's retries (same body, new
    Request-ID) inside and past the retry window, a proxy's resends (same Request-ID and body),
    the same Request-ID with another body, status flips back and forth, unreadable bodies."""
    import random

    rng = random.Random(seed)
    start = int(time.time() * 1000) - 3 * WINDOW_MS
    sent: list = []
    for n in range(count):
        at = start + n * 40_000 + rng.randrange(1_000)
        roll = rng.random()
        if sent and roll < 0.2:  # Sentry's retry: same body, new Request-ID
            prior = rng.choice(sent[-30:])
            item = incoming(prior.body, request_id=f"r{n}", at_ms=at)
        elif sent and roll < 0.3:  # a resend of the same request
            prior = rng.choice(sent[-30:])
            item = incoming(prior.body, request_id=prior.request_id, at_ms=at)
        elif sent and roll < 0.35:  # the same Request-ID, another body
            prior = rng.choice(sent[-30:])
            body = issue_body("assigned", str(rng.randrange(8)), "unresolved")
            item = incoming(body, request_id=prior.request_id, at_ms=at)
        elif roll < 0.38:
            item = incoming(b"\x00not json %d\xff" % rng.randrange(4), request_id=f"r{n}", at_ms=at)
        else:
            action, status = rng.choice([("resolved", "resolved"), ("unresolved", "unresolved")])
            body = issue_body(action, str(rng.randrange(150)), status)
            item = incoming(body, request_id=rng.choice([f"r{n}", None]), at_ms=at)
        sent.append(item)
    return sent


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_given_batches_when_recorded_then_exactly_what_one_at_a_time_records(
    store, database, request, tmp_path, seed, monkeypatch
):
    # The committer hands the store whatever arrived together; a batch is judged with a fixed
    # number of statements, and must come out as if each delivery had been judged alone.
    import random

    stream = _mixed_stream(seed, 400)
    reference = open_store(_second_database(database, request, tmp_path))
    try:
        alone = [reference.record_batch([item], WINDOW_MS)[0] for item in stream]
        expected_feed = reference.feed(0, 1000)
    finally:
        reference.close()
    from source_sentry.webhooks.store import base

    alone_in_batch = []
    one_at_a_time = base.record_one

    def counted(*args, **kwargs):
        alone_in_batch.append(1)
        return one_at_a_time(*args, **kwargs)

    monkeypatch.setattr(base, "record_one", counted)
    rng = random.Random(seed)
    together, at = [], 0
    while at < len(stream):
        size = rng.choice([1, 2, 5, 17, 60])
        together += store.record_batch(stream[at : at + size], WINDOW_MS)
        at += size
    assert together == alone
    assert sum(r.duplicate for r in alone) > 50  # the stream does exercise the retry rule
    assert len(alone_in_batch) < len(stream) * 0.4  # and most deliveries were judged in runs
    shown = ("seq", "request_id", "subject", "attempts", "parse_error", "issue_id", "action")
    got = [{k: e.get(k) for k in shown} for e in store.feed(0, 1000)]
    assert got == [{k: e.get(k) for k in shown} for e in expected_feed]


class _Recording:
    """A DB-API connection that notes each statement and its parameters, then runs it."""

    def __init__(self, conn) -> None:
        self.conn = conn
        self.statements: list[tuple[str, tuple]] = []

    def execute(self, sql, params=()):
        self.statements.append((sql, tuple(params)))
        return self.conn.execute(sql, params)


def test_given_a_table_never_analysed_when_a_batch_is_judged_then_its_lookups_walk_the_indexes(
    store, database
):
    """The lookups of a batch must find their rows through the indexes whatever the planner knows
    of the table: a scan of the whole table for every batch costs more with every delivery kept.
    A new receiver's table has never been analysed, as here."""
    bodies = [issue_body("created", str(n), "unresolved") for n in range(3000)]
    for start in range(0, len(bodies), 100):
        store.record_batch(
            [
                incoming(body, request_id=f"r{start + i}")
                for i, body in enumerate(bodies[start : start + 100])
            ],
            WINDOW_MS,
        )
    judged = [incoming(body, request_id=f"r{n}") for n, body in enumerate(bodies[:40])]
    keys = [(item.request_id, item.body_sha256, item.envelope.subject) for item in judged]
    subjects = [item.envelope.subject for item in judged]
    if database.startswith("postgresql://"):
        import psycopg

        from source_sentry.webhooks.store.postgres import LOOKUPS

        conn = psycopg.connect(database, autocommit=True)
        explain = "EXPLAIN "
    else:
        import sqlite3

        from source_sentry.webhooks.store.sqlite import LOOKUPS

        conn = sqlite3.connect(database)
        explain = "EXPLAIN QUERY PLAN "
    try:
        recording = _Recording(conn)
        assert set(LOOKUPS.same_requests(recording, keys)) == {(rid, sha) for rid, sha, _s in keys}
        assert set(LOOKUPS.newest(recording, subjects)) == set(subjects)
        assert len(recording.statements) == 2
        for sql, params in recording.statements:
            plan = "\n".join(str(row[-1]) for row in conn.execute(explain + sql, params).fetchall())
            assert "deliveries_" in plan, plan  # one of the table's indexes
            assert "Seq Scan on deliveries" not in plan, plan  # PostgreSQL's whole-table scan
            assert "SCAN deliveries" not in plan.replace("SCAN deliveries USING", ""), plan  # SQLite's
    finally:
        conn.close()


def _index_names(database: str) -> set[str]:
    if database.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(database, autocommit=True) as conn:
            rows = conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'deliveries'")
            return {name for (name,) in rows}
    import sqlite3

    conn = sqlite3.connect(database)
    try:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'deliveries'")
        return {name for (name,) in rows}
    finally:
        conn.close()


def test_given_the_request_id_index_of_earlier_versions_when_opened_then_dropped_and_nothing_lost(
    database,
):
    """Earlier versions kept an index on request_id; Request-IDs are now found through the
    subject's index, and the old index, still costing a page per delivery, goes at start-up."""
    first = open_store(database)
    first.record_batch([incoming(RESOLVED, request_id="d" * 32)], WINDOW_MS)
    first.close()
    if database.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(database, autocommit=True) as conn:
            conn.execute("CREATE INDEX deliveries_request_id ON deliveries (request_id)")
    else:
        import sqlite3

        conn = sqlite3.connect(database)
        conn.execute("CREATE INDEX deliveries_request_id ON deliveries (request_id)")
        conn.close()
    assert "deliveries_request_id" in _index_names(database)
    reopened = open_store(database)
    try:
        assert "deliveries_request_id" not in _index_names(database)
        resent = reopened.record_batch([incoming(RESOLVED, request_id="d" * 32)], WINDOW_MS)
        assert resent[0].duplicate
        assert [entry["attempts"] for entry in reopened.feed(0, 10)] == [2]
    finally:
        reopened.close()
