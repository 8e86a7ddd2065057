"""Fixtures of the receiver's tests: a throwaway PostgreSQL cluster for the session (Debian's
`postgresql` package; missing binaries fail the tests with the command that installs them), a
store of each kind, and the receiver running in its own process."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from source_sentry.webhooks.store import open_store
from tools.postgres import PostgresMissing, TempCluster
from tools.receiver import ReceiverProcess, read_feed

STORES = ["sqlite", "postgres"]


@pytest.fixture(scope="session")
def pg_cluster():
    try:
        cluster = TempCluster()
    except PostgresMissing as missing:
        pytest.fail(str(missing), pytrace=False)
    with cluster:
        yield cluster


@pytest.fixture(params=STORES)
def database(request, tmp_path):
    """A fresh, empty database of each kind: a SQLite file path or a postgresql:// URL."""
    if request.param == "sqlite":
        return str(tmp_path / "deliveries.sqlite3")
    return request.getfixturevalue("pg_cluster").new_database()


@pytest.fixture
def store(database):
    opened = open_store(database)
    yield opened
    opened.close()


@pytest.fixture
def receiver(database, tmp_path):
    with ReceiverProcess(tmp_path, database, max_body_bytes=64 * 1024) as running:
        yield running


@pytest.fixture(scope="module", params=STORES)
def shared_receiver(request, tmp_path_factory):
    """One receiver per store for a module's tests (each start costs a second): tests tell their
    deliveries apart by issue id and read the feed from the seq it had when they began."""
    workdir = tmp_path_factory.mktemp("receiver")
    if request.param == "sqlite":
        database = str(workdir / "deliveries.sqlite3")
    else:
        database = request.getfixturevalue("pg_cluster").new_database()
    with ReceiverProcess(workdir, database, max_body_bytes=64 * 1024) as running:
        yield running


@pytest.fixture
def hooks(shared_receiver):
    return Window(shared_receiver)


class Window:
    """A test's view of a shared receiver: the feed after the seq it had when the test began."""

    def __init__(self, receiver: ReceiverProcess) -> None:
        self.receiver = receiver
        self.base_url = receiver.base_url
        feed = read_feed(receiver.base_url)
        self.after = feed[-1]["seq"] if feed else 0

    def feed(self) -> list[dict]:
        return read_feed(self.base_url, after=self.after)


def put(emu, issue_id: str, change: dict[str, Any]) -> None:
    """Change an issue through the emulator's API (`PUT .../issues/{id}/`), as a user in Sentry
    would: the emulator then sends its webhooks."""
    answer = requests.put(
        f"{emu.base_url}/api/0/organizations/{emu.organization}/issues/{issue_id}/",
        headers={"Authorization": f"Bearer {emu.token}"},
        json=change,
        timeout=10,
    )
    assert answer.ok, answer.text
