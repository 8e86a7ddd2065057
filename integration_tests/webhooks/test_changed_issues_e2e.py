"""End to end over loopback: issues changed through the emulator's API, which sends its webhooks to
the receiver in its own process, reach the packaged connector's `issues` stream at the next sync,
read again from the API by id; with the receiver down, the status sweep corrects them instead."""

from __future__ import annotations

from typing import Any

import pytest
from airbyte_cdk.models import AirbyteStateMessageSerializer, FailureType, SyncMode
from airbyte_cdk.test.catalog_builder import CatalogBuilder
from airbyte_cdk.test.entrypoint_wrapper import read

from integration_tests.webhooks.conftest import put
from source_sentry.packaged.source import PackagedSource
from source_sentry.state import FEED_POSITION_KEY, sanitize_state
from tools.receiver import FEED_TOKEN, SECRET, ReceiverProcess, read_feed

STREAM = "issues"


@pytest.fixture
def receiver(tmp_path):
    with ReceiverProcess(tmp_path, str(tmp_path / "deliveries.sqlite3")) as running:
        yield running


def sync(config: dict[str, Any], state: list[dict[str, Any]] | None = None, *, every_state: bool = False):
    """A sync as the command runs one: the state cleaned as `read --state` cleans it. Returns the
    records by id and the last state (every state with `every_state`)."""
    catalog = CatalogBuilder().with_stream(STREAM, SyncMode.incremental).build()
    clean, warnings = sanitize_state(state or [])
    assert not warnings
    messages = [AirbyteStateMessageSerializer.load(s) for s in clean] or None
    output = read(PackagedSource(config=config, catalog=catalog, state=messages), config, catalog, messages)
    assert not output.errors, [e.trace.error.message for e in output.errors if e.trace and e.trace.error]
    records = {m.record.data["id"]: m.record.data for m in output.records if m.record is not None}
    assert len(records) == len(output.records), "an issue came twice in one sync"
    states = [AirbyteStateMessageSerializer.dump(m.state) for m in output.state_messages if m.state]
    return records, (states if every_state else states[-1:])


def by_id_requests(emu) -> list[dict[str, list[str]]]:
    """The query of each request for issues by id (`group=`) the emulator served."""
    path = f"/api/0/organizations/{emu.organization}/issues/"
    return [r["query"] for r in emu.requests if r["path"] == path and "group" in r["query"]]


def pick(emu, status: str, count: int, taken: set[str]) -> list[str]:
    chosen = [i["id"] for i in emu.ground_truth("issues") if i["status"] == status and i["id"] not in taken]
    assert len(chosen) >= count, f"the emulator has fewer than {count} {status} issues"
    taken.update(chosen[:count])
    return chosen[:count]


def test_given_issues_changed_through_the_api_when_syncing_then_exactly_those_come_with_their_new_state(
    emulator, receiver
):
    emulator.webhooks.register(f"{receiver.base_url}/sentry/webhook", SECRET, ["issue"])
    config = {**emulator.config(), "webhooks_url": receiver.base_url, "webhooks_token": FEED_TOKEN}
    first, state = sync(config)
    assert set(first) == {i["id"] for i in emulator.ground_truth("issues")}
    taken: set[str] = set()
    resolved, ignored, assigned, regressed = pick(emulator, "unresolved", 4, taken)
    (reopened,) = pick(emulator, "resolved", 1, taken)
    user = emulator.ground_truth("members")[1]["user"]

    put(emulator, resolved, {"status": "resolved"})
    put(emulator, ignored, {"status": "ignored"})
    put(emulator, assigned, {"assignedTo": f"user:{user['id']}"})
    put(emulator, reopened, {"status": "unresolved"})
    put(emulator, regressed, {"status": "resolved"})
    slug = next(i["project"]["slug"] for i in emulator.ground_truth("issues") if i["id"] == regressed)
    emulator.add_events(slug, 1, issue_id=regressed)  # a new event: the lastSeen read sends this one
    assert emulator.webhooks.drain(30)
    emulator.reset_log()
    second, state = sync(config, state)
    asked = by_id_requests(emulator)
    emulator.reset_log()
    third, third_state = sync(config, state)

    truth = {i["id"]: i for i in emulator.ground_truth("issues")}
    assert set(second) == {resolved, ignored, assigned, reopened, regressed}
    assert {i: second[i]["status"] for i in (resolved, ignored, reopened, regressed)} == {
        resolved: "resolved",
        ignored: "ignored",
        reopened: "unresolved",
        regressed: "unresolved",
    }
    assert second[assigned]["assignedTo"]["id"] == user["id"]
    fields = ("status", "statusDetails", "assignedTo", "lastSeen", "project")
    assert {i: {f: second[i].get(f) for f in fields} for i in second} == {
        i: {f: truth[i].get(f) for f in fields} for i in second
    }
    # One request for the four the lastSeen read did not send, every status asked for.
    assert [sorted(q["group"]) for q in asked] == [sorted([resolved, ignored, assigned, reopened])]
    assert asked[0]["query"] == [""]
    assert third == {}
    assert by_id_requests(emulator) == []
    feed = read_feed(receiver.base_url)
    assert state[0]["stream"]["stream_state"][FEED_POSITION_KEY] == feed[-1]["seq"]
    assert third_state[0]["stream"]["stream_state"][FEED_POSITION_KEY] == feed[-1]["seq"]


def test_given_changes_outside_the_configured_projects_when_syncing_then_they_are_not_read_again(
    emulator, receiver
):
    emulator.webhooks.register(f"{receiver.base_url}/sentry/webhook", SECRET, ["issue"])
    inside, outside = emulator.project_slugs[:2]
    config = {
        **emulator.config(projects=[inside]),
        "webhooks_url": receiver.base_url,
        "webhooks_token": FEED_TOKEN,
    }
    _, state = sync(config)
    unresolved = [i for i in emulator.ground_truth("issues") if i["status"] == "unresolved"]
    mine = next(i["id"] for i in unresolved if i["project"]["slug"] == inside)
    theirs = next(i["id"] for i in unresolved if i["project"]["slug"] == outside)
    put(emulator, mine, {"status": "resolved"})
    put(emulator, theirs, {"status": "resolved"})
    assert emulator.webhooks.drain(30)
    emulator.reset_log()
    records, _ = sync(config, state)

    assert set(records) == {mine}
    assert [q["group"] for q in by_id_requests(emulator)] == [[mine]]


def test_given_the_receiver_down_while_issues_change_when_the_status_period_turns_then_the_sweep_fixes_them(
    emulator, tmp_path
):
    database = str(tmp_path / "deliveries.sqlite3")
    receiver = ReceiverProcess(tmp_path, database).start()
    try:
        emulator.webhooks.register(f"{receiver.base_url}/sentry/webhook", SECRET, ["issue"])
        config = {
            **emulator.config(issue_status_refresh_hours=1),
            "webhooks_url": receiver.base_url,
            "webhooks_token": FEED_TOKEN,
        }
        _, state = sync(config)
        receiver.stop()
        changed = pick(emulator, "unresolved", 3, set())
        for issue_id in changed:
            put(emulator, issue_id, {"status": "resolved"})
        assert emulator.webhooks.drain(30)  # an internal integration's failed delivery is gone
        receiver.start()
        assert read_feed(receiver.base_url) == []
        within_period, state = sync(config, state)
        # The hour is over: the state's partitions are of the previous period (as the CDK finds them
        # when the clock has moved on), so the first sync of the new one reads every issue again.
        swept, _ = sync(config, [_one_period_earlier(s) for s in state])
    finally:
        receiver.stop()

    assert set(within_period).isdisjoint(changed)  # nothing told this sync that they changed
    assert {swept[i]["status"] for i in changed} == {"resolved"}
    assert set(swept) == {i["id"] for i in emulator.ground_truth("issues")}


def _one_period_earlier(state: dict[str, Any]) -> dict[str, Any]:
    from datetime import datetime, timedelta

    blob = state["stream"]["stream_state"]
    entries = []
    for entry in blob["states"]:
        period = datetime.fromisoformat(entry["partition"]["status_period"].replace("Z", "+00:00"))
        earlier = (period - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        entries.append({**entry, "partition": {**entry["partition"], "status_period": earlier}})
    return {**state, "stream": {**state["stream"], "stream_state": {**blob, "states": entries}}}


def test_given_over_a_batch_of_changes_when_a_sync_stops_after_its_first_batch_then_the_next_reads_the_rest(
    make_emulator, receiver
):
    emu = make_emulator(issues=130, events=400)
    emu.webhooks.register(f"{receiver.base_url}/sentry/webhook", SECRET, ["issue"])
    config = {**emu.config(), "webhooks_url": receiver.base_url, "webhooks_token": FEED_TOKEN}
    _, state = sync(config)
    changed = [i["id"] for i in emu.ground_truth("issues")]
    for issue in emu.ground_truth("issues"):
        put(emu, issue["id"], {"status": "resolved" if issue["status"] == "unresolved" else "unresolved"})
    assert emu.webhooks.drain(60)
    emu.reset_log()
    records, states = sync(config, state, every_state=True)
    batches = [q["group"] for q in by_id_requests(emu)]
    emu.reset_log()
    # The sync stopped once the first batch and its state were out: the next one starts there.
    after_first_batch = states[-2]
    rest, _ = sync(config, [after_first_batch])

    assert len(changed) > 100
    assert set(records) == set(changed)
    assert [len(b) for b in batches] == [100, len(changed) - 100]
    assert [q["group"] for q in by_id_requests(emu)] == [batches[1]]
    assert set(rest) == set(batches[1])
    positions = [s["stream"]["stream_state"][FEED_POSITION_KEY] for s in states]
    assert positions[0] < positions[-2] < positions[-1]


def test_given_the_receiver_unreachable_at_sync_time_when_syncing_then_issues_sync_and_the_position_stays(
    emulator, caplog
):
    config = {**emulator.config(), "webhooks_url": "http://user:pw@127.0.0.1:9", "webhooks_token": FEED_TOKEN}
    _, state = sync(config)
    kept = {**state[0], "stream": {**state[0]["stream"]}}
    kept["stream"]["stream_state"] = {**state[0]["stream"]["stream_state"], FEED_POSITION_KEY: 41}
    records, after = sync(config, [kept])

    assert records == {}
    assert after[0]["stream"]["stream_state"][FEED_POSITION_KEY] == 41
    warned = [r.getMessage() for r in caplog.records if "webhook receiver's feed" in r.getMessage()]
    assert warned
    assert "http://127.0.0.1:9/v1/deliveries could not be reached" in warned[0]
    assert "pw" not in "\n".join(r.getMessage() for r in caplog.records)


def test_given_a_wrong_feed_token_when_syncing_issues_then_a_config_error_names_the_setting(
    emulator, receiver
):
    config = {
        **emulator.config(),
        "webhooks_url": receiver.base_url,
        "webhooks_token": "not-the-token-0123456789",
    }
    catalog = CatalogBuilder().with_stream(STREAM, SyncMode.incremental).build()
    output = read(PackagedSource(config=config, catalog=catalog, state=None), config, catalog, None)

    errors = [m.trace.error for m in output.errors if m.trace and m.trace.error]
    assert [e.failure_type for e in errors][:1] == [FailureType.config_error]
    assert "refused webhooks_token (401)" in (errors[0].message or "")
    assert "not-the-token-0123456789" not in str([e.message for e in errors])
