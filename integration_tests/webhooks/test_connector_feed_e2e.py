"""End to end over loopback: the emulator sends its webhooks for issue mutations to the receiver in
its own process, and the connector's `webhook_deliveries` stream reads the receiver's feed: each
delivery once across syncs, also those kept while a sync runs; `check` says which setting is wrong."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from airbyte_cdk.models import (
    AirbyteMessageSerializer,
    AirbyteStateMessageSerializer,
    FailureType,
    Status,
    SyncMode,
)
from airbyte_cdk.test.catalog_builder import CatalogBuilder
from airbyte_cdk.test.entrypoint_wrapper import discover, read

import source_sentry
from integration_tests.webhooks.conftest import put
from source_sentry.source import SourceSentry
from tools.receiver import FEED_TOKEN, SECRET, ReceiverProcess, headers, issue_body, read_feed

STREAM = "webhook_deliveries"
SCHEMA = json.loads((Path(source_sentry.__file__).parent / "schemas" / f"{STREAM}.json").read_text())


@pytest.fixture
def sqlite_receiver(tmp_path):
    # The access log on: the tests read from it which feed requests the connector made.
    with ReceiverProcess(tmp_path, str(tmp_path / "deliveries.sqlite3"), access_log=True) as running:
        yield running


def feed_config(emu, receiver: ReceiverProcess, **overrides: Any) -> dict[str, Any]:
    return {**emu.config(), "webhooks_url": receiver.base_url, "webhooks_token": FEED_TOKEN, **overrides}


def sync(config: dict[str, Any], state: list[dict[str, Any]] | None = None):
    catalog = CatalogBuilder().with_stream(STREAM, SyncMode.incremental).build()
    messages = [AirbyteStateMessageSerializer.load(s) for s in state] if state else None
    output = read(SourceSentry(config=config, catalog=catalog, state=messages), config, catalog, messages)
    assert not output.errors, [e.trace.error.message for e in output.errors if e.trace and e.trace.error]
    records = [m.record.data for m in output.records if m.record is not None]
    states = [AirbyteStateMessageSerializer.dump(m.state) for m in output.state_messages if m.state]
    return records, states[-1:]


def feed_requests(receiver: ReceiverProcess) -> list[str]:
    """The query of each feed request the receiver served, from its access log."""
    return re.findall(r'"GET /v1/deliveries\?([^ "]*) HTTP', receiver.log_text())


def test_given_issue_mutations_over_two_syncs_when_reading_deliveries_then_each_comes_once_in_seq_order(
    emulator, sqlite_receiver
):
    emulator.webhooks.register(f"{sqlite_receiver.base_url}/sentry/webhook", SECRET, ["issue"])
    issue_id = next(i["id"] for i in emulator.ground_truth("issues") if i["status"] == "unresolved")
    user = emulator.ground_truth("members")[1]["user"]
    config = feed_config(emulator, sqlite_receiver)

    put(emulator, issue_id, {"status": "resolved"})
    put(emulator, issue_id, {"status": "ignored"})
    assert emulator.webhooks.drain(30)
    first, state = sync(config)
    put(emulator, issue_id, {"assignedTo": f"user:{user['id']}"})
    put(emulator, issue_id, {"status": "unresolved"})
    assert emulator.webhooks.drain(30)
    second, state = sync(config, state)
    third, _ = sync(config, state)
    asked = feed_requests(sqlite_receiver)

    feed = read_feed(sqlite_receiver.base_url)
    assert asked == ["after=0", "after=2", "after=4"]  # one request a sync, after the last seq read
    assert [(r["resource"], r["action"]) for r in first] == [("issue", "resolved"), ("issue", "ignored")]
    assert [(r["resource"], r["action"]) for r in second] == [("issue", "assigned"), ("issue", "unresolved")]
    assert third == []
    # Every field as the feed serves it; the CDK leaves out a top-level null.
    assert first + second == [{k: v for k, v in e.items() if v is not None} for e in feed]
    assert {r["issue_id"] for r in first + second} == {issue_id}
    assert second[0]["payload"]["data"]["assignee"]["id"] == int(user["id"])
    assert state[0]["stream"]["stream_state"] == {"seq": feed[-1]["seq"]}
    for record in first + second:
        jsonschema.validate(record, SCHEMA)


def test_given_deliveries_kept_while_syncs_run_when_syncing_until_quiet_then_each_comes_exactly_once(
    emulator, sqlite_receiver
):
    config = feed_config(emulator, sqlite_receiver)
    stop = threading.Event()
    sent: list[int] = []

    def deliver(client: httpx.Client, issue_id: int) -> int:
        body = issue_body("resolved", str(issue_id), "resolved")  # a new subject: never a retry
        url = f"{sqlite_receiver.base_url}/sentry/webhook"
        seq: int = client.post(url, content=body, headers=headers(body, "issue")).json()["seq"]
        return seq

    def keep_delivering() -> None:
        with httpx.Client(timeout=10) as client:
            while not stop.is_set():
                sent.append(deliver(client, 10_000 + len(sent)))

    with httpx.Client(timeout=10) as client:  # more than two of the feed's pages of 100 to start
        first = [deliver(client, n) for n in range(250)]
    records, state = sync(config)
    assert [r["seq"] for r in records] == first
    assert feed_requests(sqlite_receiver) == ["after=0", "after=100", "after=200"]
    writer = threading.Thread(target=keep_delivering)
    writer.start()
    seen: list[int] = []
    try:
        for _ in range(3):
            records, state = sync(config, state)
            seen += [r["seq"] for r in records]
    finally:
        stop.set()
        writer.join()
    records, _ = sync(config, state)
    seen += [r["seq"] for r in records]

    assert len(sent) > 3
    assert seen == sorted(set(seen))  # no delivery twice, in feed order
    assert seen == sorted(sent)  # none missed


def test_given_no_receiver_settings_when_discovering_and_checking_then_no_stream_and_no_feed_word(
    emulator, sqlite_receiver
):
    plain = stream_list(emulator.config())
    with_feed = stream_list(feed_config(emulator, sqlite_receiver))
    assert STREAM not in plain
    assert with_feed - plain == {STREAM}
    status, message = check(emulator.config())
    assert status == Status.SUCCEEDED, message
    assert "webhook" not in message


def stream_list(config: dict[str, Any]) -> set[str]:
    output = discover(SourceSentry(config=config, catalog=None, state=None), config)
    assert output.catalog is not None
    return {s.name for s in output.catalog.catalog.streams}


def check(config: dict[str, Any]):
    status = SourceSentry(config=config, catalog=None, state=None).check(_logger(), config)
    return status.status, status.message or ""


def _logger():
    import logging

    return logging.getLogger("airbyte")


def test_given_the_feed_when_checking_then_success_names_it_and_each_wrong_setting_is_named(
    emulator, sqlite_receiver
):
    good = feed_config(emulator, sqlite_receiver)
    status, message = check(good)
    assert status == Status.SUCCEEDED, message
    assert f"The webhook receiver's feed at {sqlite_receiver.base_url} answered." in message

    status, message = check({**good, "webhooks_token": "not-the-feed-token-at-all"})
    assert status == Status.FAILED
    assert "refused webhooks_token (401)" in message
    assert "not-the-feed-token-at-all" not in message

    status, message = check({**good, "webhooks_url": f"{sqlite_receiver.base_url}/v1/deliveries"})
    assert status == Status.FAILED
    assert "(404): webhooks_url must be the receiver's base URL" in message

    status, message = check({**good, "webhooks_url": emulator.base_url})  # a server, not the receiver
    assert status == Status.FAILED
    assert "webhooks_url" in message

    status, message = check({**good, "webhooks_url": "http://127.0.0.1:9"})  # nothing listens
    assert status == Status.FAILED
    assert "The webhook receiver at http://127.0.0.1:9/v1/deliveries could not be reached" in message

    status, message = check({**good, "webhooks_token": ""})
    assert status == Status.FAILED
    assert "webhooks_token is empty" in message
    assert FEED_TOKEN not in message


def test_given_a_wrong_feed_token_when_syncing_then_a_config_error_names_the_setting_not_the_token(
    emulator, sqlite_receiver
):
    config = feed_config(emulator, sqlite_receiver, webhooks_token="wrong-feed-token-9876543210")
    catalog = CatalogBuilder().with_stream(STREAM, SyncMode.incremental).build()
    output = read(SourceSentry(config=config, catalog=catalog, state=None), config, catalog, None)

    errors = [m.trace.error for m in output.errors if m.trace and m.trace.error]
    assert {e.failure_type for e in errors} == {FailureType.config_error}
    assert "refused webhooks_token (401)" in (errors[0].message or "")
    assert not output.records
    assert "wrong-feed-token-9876543210" not in "\n".join(
        AirbyteMessageSerializer.dump(m).__repr__() for m in output._messages
    )
