"""The packaged connector (Python components swapped in) and the manifest as written (what Airbyte
Cloud runs) sync the same emulator data to the same records and the same final state. One
difference is by design, and its own test bounds it: with a webhook receiver configured, the
packaged connector's `issues` also sends the issues the feed says changed, read again by id, and
keeps its feed position in the issues state (the manifest cannot, see docs/webhooks.md)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from airbyte_cdk.models import AirbyteStateMessageSerializer, SyncMode
from airbyte_cdk.test.catalog_builder import CatalogBuilder
from airbyte_cdk.test.entrypoint_wrapper import read

from source_sentry.manifest import incremental_stream_names, stream_names
from source_sentry.packaged.source import PackagedSource
from source_sentry.source import SourceSentry
from source_sentry.state import FEED_POSITION_KEY
from tools.receiver import FEED_TOKEN, SECRET, ReceiverProcess, read_feed


def sync(
    config: dict[str, Any],
    state: list[dict[str, Any]] | None,
    *,
    packaged: bool,
    streams: tuple[str, ...] | None = None,
    key: str = "id",
):
    builder = CatalogBuilder()
    for name in streams or stream_names():
        builder.with_stream(
            name, SyncMode.incremental if name in incremental_stream_names() else SyncMode.full_refresh
        )
    catalog = builder.build()
    messages = [AirbyteStateMessageSerializer.load(s) for s in state] if state else None
    source = (PackagedSource if packaged else SourceSentry)(config=config, catalog=catalog, state=messages)
    output = read(source, config, catalog, messages)
    assert not output.errors, [e.trace.error.message for e in output.errors if e.trace and e.trace.error]
    records: dict[str, dict[str, Any]] = {}
    for message in output.records:
        assert message.record is not None
        by_id = records.setdefault(message.record.stream, {})
        assert str(message.record.data[key]) not in by_id, "a record came twice"
        by_id[str(message.record.data[key])] = message.record.data
    # Each stream's last state message, without two timings: sourceStats (records since the state
    # before, which depends on how the threads interleaved) and the CDK's lookback_window (how
    # many seconds the partitions took). The next sync's positions are all kept.
    final: dict[str, dict[str, Any]] = {}
    for message in output.state_messages:
        assert message.state is not None
        assert message.state.stream is not None
        serialized = AirbyteStateMessageSerializer.dump(message.state)
        serialized.pop("sourceStats", None)
        serialized["stream"]["stream_state"].pop("lookback_window", None)
        final[message.state.stream.stream_descriptor.name] = serialized
    return records, final


def comparable(final: dict[str, dict[str, Any]], records: dict[str, Any]) -> dict[str, Any]:
    """The states to compare: a stream that read nothing (GlitchTip's 404s) keeps, per partition,
    the end of its window, the sync's own clock, which differs between two runs: its partitions
    are compared, not those ends."""
    return {
        name: serialized if name in records else _clock_free(serialized) for name, serialized in final.items()
    }


def _clock_free(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: ({c: "<clock>" for c in v} if k == "cursor" else _clock_free(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [_clock_free(item) for item in node]
    return node


def both(config: dict[str, Any], state: list[dict[str, Any]] | None = None):
    packaged = sync(config, state, packaged=True)
    declarative = sync(config, state, packaged=False)
    return packaged, declarative


@pytest.fixture(autouse=True)
def _no_backoff_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries of injected faults come at once; the emulator has no rate limits to wait for."""
    monkeypatch.setattr(time, "sleep", lambda seconds: None)


def _states(final: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [final[name] for name in sorted(final)]


@pytest.mark.parametrize(
    ("dialect", "overrides"),
    [
        ("sentry", {}),
        ("sentry", {"projects": ["__first__"]}),
        ("sentry", {"start_date": "__recent__"}),
        ("glitchtip", {}),
    ],
    ids=["whole-organization", "one-project", "start-date", "glitchtip"],
)
def test_given_same_data_when_full_then_incremental_sync_then_both_variants_agree(
    make_emulator, dialect, overrides
):
    emu = make_emulator(dialect=dialect)
    config = emu.config(**_resolve(overrides, emu))
    (records, state), (expected_records, expected_state) = both(config)
    assert records == expected_records
    assert comparable(state, records) == comparable(expected_state, expected_records)
    assert sum(len(by_id) for by_id in records.values()) > 100

    emu.add_events(emu.project_slugs[0], 40)
    emu.add_release("late-release", projects=[emu.project_slugs[0]])
    (new, new_state), (expected_new, expected_new_state) = both(config, _states(state))
    assert new == expected_new
    assert comparable(new_state, new) == comparable(expected_new_state, expected_new)
    assert len(new.get("events", {})) == 40


def test_given_faults_when_syncing_then_both_variants_agree_with_the_clean_sync(make_emulator):
    emu = make_emulator()
    config = emu.config()
    clean, _ = sync(config, None, packaged=False)
    emu.set_faults(
        "projects:truncatedx1,*:502html@0.1,events:truncated@0.1,org_issues:truncated@0.1,"
        "releases:truncated@0.1,projects:truncated@0.1"
    )
    (records, state), (expected_records, expected_state) = both(config)
    fault_requests = [r for r in emu.requests if r.get("fault")]
    assert fault_requests, "the fault mix hit no request"
    assert any(
        r["path"] == f"/api/0/organizations/{emu.organization}/projects/" and "truncated" in r["fault"]
        for r in fault_requests
    ), "no truncated project list"
    assert records == expected_records == clean
    assert state == expected_state


def _resolve(overrides: dict[str, Any], emu) -> dict[str, Any]:
    resolved = dict(overrides)
    if resolved.get("projects") == ["__first__"]:
        resolved["projects"] = emu.project_slugs[:1]
    if resolved.get("start_date") == "__recent__":
        events = sorted(e["dateCreated"] for e in emu.ground_truth("events"))
        resolved["start_date"] = events[len(events) // 2][:19] + "Z"
    return resolved


@pytest.mark.parametrize("packaged", [True, False], ids=["packaged", "declarative"])
def test_given_a_truncated_project_list_when_a_child_stream_syncs_then_the_retry_reads_it_again(
    make_emulator, packaged
):
    """The project list is the parent of the per-project streams. A truncated copy of it must not
    be kept and served to the retry (the CDK's parent-stream response cache did, until the retries
    ran out and the sync failed)."""
    emu = make_emulator(faults="projects:truncatedx1")
    records, _ = sync(emu.config(), None, packaged=packaged, streams=("project_detail",))
    assert sorted(records["project_detail"]) == sorted(str(p["id"]) for p in emu.ground_truth("projects"))
    path = f"/api/0/organizations/{emu.organization}/projects/"
    project_lists = [r for r in emu.requests if r["path"] == path]
    assert [bool(r.get("fault")) for r in project_lists[:2]] == [True, False]


def test_given_a_receivers_feed_when_syncing_webhook_deliveries_then_both_variants_agree(emulator, tmp_path):
    with ReceiverProcess(tmp_path, str(tmp_path / "deliveries.sqlite3")) as receiver:
        emulator.webhooks.register(f"{receiver.base_url}/sentry/webhook", SECRET, ["issue", "error"])
        emulator.add_events(emulator.project_slugs[0], 3)
        assert emulator.webhooks.drain(30)
        config = {**emulator.config(), "webhooks_url": receiver.base_url, "webhooks_token": FEED_TOKEN}
        streams = ("webhook_deliveries",)
        packaged = sync(config, None, packaged=True, streams=streams, key="seq")
        declarative = sync(config, None, packaged=False, streams=streams, key="seq")
        feed = read_feed(receiver.base_url)

    assert packaged == declarative
    records, state = packaged
    assert sorted(records["webhook_deliveries"]) == sorted(str(entry["seq"]) for entry in feed)
    assert len(feed) >= 4  # at least one issue created and three errors
    assert state["webhook_deliveries"]["stream"]["stream_state"] == {"seq": feed[-1]["seq"]}


def test_given_a_feed_naming_changed_issues_when_syncing_issues_then_the_packaged_adds_only_their_reread(
    emulator, tmp_path
):
    """The one place the two differ on purpose: with a receiver, the packaged connector also sends
    the issues the feed says changed (read again by id) and keeps its feed position in the issues
    state; the manifest has no such read. Everything else of the stream is the same."""
    with ReceiverProcess(tmp_path, str(tmp_path / "deliveries.sqlite3")) as receiver:
        emulator.webhooks.register(f"{receiver.base_url}/sentry/webhook", SECRET, ["issue"])
        config = {**emulator.config(), "webhooks_url": receiver.base_url, "webhooks_token": FEED_TOKEN}
        streams = ("issues",)
        (records, state) = sync(config, None, packaged=True, streams=streams)
        (expected_records, expected_state) = sync(config, None, packaged=False, streams=streams)
        changed = [i["id"] for i in emulator.ground_truth("issues") if i["status"] == "unresolved"][:2]
        for issue_id in changed:
            emulator.set_issue_status(issue_id, "resolved")
        assert emulator.webhooks.drain(30)
        (new, new_state) = sync(config, _states(state), packaged=True, streams=streams)
        (expected_new, expected_new_state) = sync(
            config, _states(expected_state), packaged=False, streams=streams
        )
        feed = read_feed(receiver.base_url)

    assert records == expected_records
    assert expected_new.get("issues", {}) == {}
    assert sorted(new["issues"]) == sorted(changed)
    assert {new["issues"][i]["status"] for i in changed} == {"resolved"}
    for packaged_state, declarative_state in ((state, expected_state), (new_state, expected_new_state)):
        blob = dict(packaged_state["issues"]["stream"]["stream_state"])
        assert blob.pop(FEED_POSITION_KEY) == (feed[-1]["seq"] if packaged_state is new_state else 0)
        assert blob == declarative_state["issues"]["stream"]["stream_state"]
