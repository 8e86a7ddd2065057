"""The feed's order with several receivers writing to one PostgreSQL database: a reader that
remembers the last seq it saw never skips a delivery and never gets one twice."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from source_sentry.webhooks.store.postgres import PostgresStore
from tools.receiver import issue_body

from .test_store import WINDOW_MS, incoming


@pytest.fixture
def pg_url(pg_cluster):
    return pg_cluster.new_database()


def _waiting_for_advisory_lock(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        ).fetchone()
    return int(row[0])


def test_given_plain_sequence_without_the_order_lock_when_commits_cross_then_a_reader_skips(pg_url):
    """Why the lock exists: seqs drawn outside it can commit out of order."""
    PostgresStore(pg_url).close()  # the table
    first = psycopg.connect(pg_url)
    second = psycopg.connect(pg_url)
    reader = psycopg.connect(pg_url, autocommit=True)
    try:
        early = first.execute("SELECT nextval('deliveries_seq_seq')").fetchone()[0]
        late = second.execute("SELECT nextval('deliveries_seq_seq')").fetchone()[0]
        for conn, seq in ((first, early), (second, late)):
            conn.execute(
                "INSERT INTO deliveries (seq, received_at_ms, attempts, parse_error, body, subject, "
                "body_sha256) VALUES (%s, 0, 1, false, '', %s, '')",
                (seq, f"s{seq}"),
            )
        second.commit()
        seen = [r[0] for r in reader.execute("SELECT seq FROM deliveries WHERE seq > 0 ORDER BY seq")]
        first.commit()
        after = seen[-1]
        seen += [r[0] for r in reader.execute("SELECT seq FROM deliveries WHERE seq > %s", (after,))]
    finally:
        for conn in (first, second, reader):
            conn.close()
    assert seen == [late]  # `early` committed later and the reader went past it: skipped
    assert early < late


def test_given_two_receivers_interleaving_when_the_first_holds_its_seq_uncommitted_then_no_reader_passes_it(
    pg_url,
):
    one, two, reader = PostgresStore(pg_url), PostgresStore(pg_url), PostgresStore(pg_url)
    inside, release = threading.Event(), threading.Event()
    results: dict[str, list] = {}

    def hold_open(_conn, _seq):
        inside.set()
        release.wait(30)

    def write(name, store, body, extend=None):
        results[name] = store.record_batch([incoming(body)], WINDOW_MS, extend=extend)

    first = threading.Thread(
        target=write, args=("one", one, issue_body("created", "1", "unresolved"), hold_open)
    )
    second = threading.Thread(target=write, args=("two", two, issue_body("created", "2", "unresolved")))
    try:
        first.start()
        assert inside.wait(30)
        second.start()
        deadline = time.monotonic() + 30
        while _waiting_for_advisory_lock(pg_url) < 1:  # the second receiver queues behind the first
            assert time.monotonic() < deadline, "the second writer never waited for the order lock"
            time.sleep(0.02)
        assert reader.feed(0, 10) == []
        assert "two" not in results
        release.set()
        first.join(30)
        second.join(30)
        feed = reader.feed(0, 10)
    finally:
        release.set()
        for store in (one, two, reader):
            store.close()
    assert [e["issue_id"] for e in feed] == ["1", "2"]
    assert [e["seq"] for e in feed] == [results["one"][0].seq, results["two"][0].seq]
    assert feed[0]["seq"] < feed[1]["seq"]


def test_given_four_writers_and_a_polling_reader_when_all_done_then_the_reader_saw_each_once_in_order(pg_url):
    writers = [PostgresStore(pg_url) for _ in range(4)]
    reader = PostgresStore(pg_url)
    per_writer, batch = 60, 3
    kept: list[int] = []
    lock = threading.Lock()
    done = threading.Event()

    def write(index, store):
        for start in range(0, per_writer, batch):
            items = [
                incoming(issue_body("created", f"{index}-{n}", "unresolved"))
                for n in range(start, start + batch)
            ]
            recorded = store.record_batch(items, WINDOW_MS)
            with lock:
                kept.extend(r.seq for r in recorded)

    seen: list[int] = []

    def read():
        after = 0
        while True:
            finished = done.is_set()
            page = reader.feed(after, 7)
            seen.extend(e["seq"] for e in page)
            if page:
                after = page[-1]["seq"]
            elif finished:
                return

    threads = [threading.Thread(target=write, args=(i, s)) for i, s in enumerate(writers)]
    polling = threading.Thread(target=read)
    try:
        polling.start()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        done.set()
        polling.join(60)
    finally:
        for store in [*writers, reader]:
            store.close()
    assert len(kept) == 4 * per_writer
    assert seen == sorted(kept)
