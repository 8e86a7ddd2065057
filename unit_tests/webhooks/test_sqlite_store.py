"""The SQLite store's durability setting and its checkpoints, which run beside the commits that
keep deliveries instead of inside them."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import time

import pytest

from source_sentry.webhooks.envelope import read_envelope
from source_sentry.webhooks.store import Incoming, open_store
from source_sentry.webhooks.store import sqlite as sqlite_store
from source_sentry.webhooks.store.sqlite import SqliteStore
from tools.receiver import issue_body

WINDOW_MS = 3_600_000


def incoming(issue: str) -> Incoming:
    body = issue_body("created", issue, "unresolved", title="frame " * 100)
    return Incoming(None, None, 0, body, hashlib.sha256(body).hexdigest(), read_envelope("issue", body))


@pytest.mark.parametrize(("chosen", "pragma"), [("full", 2), ("normal", 1)])
def test_given_synchronous_setting_when_opened_then_every_connection_uses_it(tmp_path, chosen, pragma):
    store = open_store(str(tmp_path / "d.sqlite3"), sqlite_synchronous=chosen)
    try:
        for conn in (store._writer, store._reader, store._checkpointer._conn):
            assert conn.execute("PRAGMA synchronous").fetchone()[0] == pragma
    finally:
        store.close()


def test_given_commits_when_they_return_then_none_of_them_checkpointed(tmp_path):
    """SQLite's default would copy the log back inside the commit that passes 1,000 pages."""
    store = SqliteStore(str(tmp_path / "d.sqlite3"))
    store._checkpointer.stop()  # nothing copies the log now, unless a commit does
    wal = tmp_path / "d.sqlite3-wal"
    for n in range(0, 20_000, 50):  # bounded: a log that commits keep resetting never grows this far
        if os.path.getsize(wal) >= 1_500 * (4096 + 24):  # a frame: a page and its header
            break
        store.record_batch([incoming(str(n + i)) for i in range(50)], WINDOW_MS)
    probe = sqlite3.connect(tmp_path / "d.sqlite3")
    try:
        busy, frames, copied = probe.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    finally:
        probe.close()
    # Every frame was still only in the log: no commit had copied any of it.
    assert (busy, copied) == (0, frames)
    assert frames >= 1_500
    store._writer.close()
    store._reader.close()


def test_given_steady_writes_when_checkpoints_run_beside_them_then_the_log_is_started_afresh(
    tmp_path, monkeypatch
):
    """A passive checkpoint leaves behind what was committed while it ran; under steady writes
    the log would grow with everything ever written unless the thread finishes the job."""
    monkeypatch.setattr(sqlite_store, "RESTART_PAGES", 64)
    store = SqliteStore(str(tmp_path / "d.sqlite3"), synchronous="normal", checkpoint_seconds=0.01)
    written = 0

    def write() -> None:
        nonlocal written
        while written < 3_000:
            store.record_batch([incoming(f"{written}-{i}") for i in range(10)], WINDOW_MS)
            written += 10
            # The committer waits for requests between batches; a loop that takes the write
            # lock back at once can keep the checkpoint thread from it for the whole run on a
            # busy machine (seen at load 6: the log grew to the database's size). Under such
            # overload the writer's own checkpoint at WRITER_AUTOCHECKPOINT_PAGES bounds the log.
            time.sleep(0.001)

    writer = threading.Thread(target=write)
    writer.start()
    writer.join(120)
    wal_bytes = os.path.getsize(tmp_path / "d.sqlite3-wal")
    assert store.newest_seq() == written
    store.close()  # the last connection to close copies the rest of the log back
    database_bytes = os.path.getsize(tmp_path / "d.sqlite3")
    # Everything written is in the database file; the log, reused from its start, held far less
    # at its largest (its file keeps its largest size until cut back).
    assert database_bytes > 1_000 * 4096, (database_bytes, wal_bytes, written)
    # Never restarted, the log ends about 3.5 times the database's size (it holds every version of
    # every page); restarted, a fraction of it (0.05 to 0.5 seen, the most on a busy machine).
    assert wal_bytes < database_bytes, (wal_bytes, database_bytes)
    reopened = SqliteStore(str(tmp_path / "d.sqlite3"))
    try:
        assert len(reopened.feed(0, 100_000)) == written
    finally:
        reopened.close()


def test_given_the_log_started_afresh_when_the_write_lock_is_taken_then_the_database_file_was_flushed_first(
    tmp_path, monkeypatch
):
    """Only the checkpoint that reaches the log's end flushes the database file, and under load
    that is the one run holding the write lock: unflushed, everything the first pass copied went
    to disk while every commit waited. The thread flushes the file before taking the lock."""
    monkeypatch.setattr(sqlite_store, "RESTART_PAGES", 64)
    database = tmp_path / "d.sqlite3"
    store = SqliteStore(str(database), checkpoint_seconds=0.01)
    events: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if os.readlink(f"/proc/self/fd/{fd}") == str(database):
            events.append("database flushed")
        real_fsync(fd)

    class RecordingLock:
        def __init__(self, lock: threading.Lock) -> None:
            self._lock = lock

        def __enter__(self) -> None:
            self._lock.acquire()
            events.append("write lock taken")

        def __exit__(self, *_exc: object) -> None:
            self._lock.release()

    monkeypatch.setattr(sqlite_store.os, "fsync", fsync)
    store._checkpointer._write_lock = RecordingLock(store._write_lock)
    try:
        for n in range(0, 3_000, 10):
            store.record_batch([incoming(f"{n}-{i}") for i in range(10)], WINDOW_MS)
            time.sleep(0.001)
            if events.count("write lock taken") >= 2:
                break
    finally:
        store.close()
    taken = [i for i, event in enumerate(events) if event == "write lock taken"]
    assert len(taken) >= 2, events
    assert all(i > 0 and events[i - 1] == "database flushed" for i in taken), events
