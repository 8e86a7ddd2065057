"""End to end over loopback, on both stores: the project's Sentry emulator sends its webhooks
(signed, byte-exact, with Sentry's headers) for API mutations to the receiver in its own process,
and the feed holds each delivery once, under the Request-ID of its first try."""

from __future__ import annotations

import json

import requests

from tools.receiver import OLD_SECRET, SECRET, ReceiverProcess, compact, read_feed


def api(emu, method: str, path: str, **kwargs) -> requests.Response:
    answer = requests.request(
        method,
        f"{emu.base_url}/api/0/{path}",
        headers={"Authorization": f"Bearer {emu.token}"},
        timeout=10,
        **kwargs,
    )
    assert answer.ok, answer.text
    return answer


def settled(emu) -> list[dict]:
    assert emu.webhooks.drain(30)
    return emu.webhooks.requests()


def test_given_mutations_and_repeats_when_delivered_then_one_entry_each_under_its_first_request_id(
    emulator, database, tmp_path
):
    with ReceiverProcess(tmp_path, database) as receiver:
        app = emulator.webhooks.register(
            f"{receiver.base_url}/sentry/webhook",
            SECRET,
            ["issue", "error", "comment"],
            published=True,
            retry_delay=0.05,
            duplicate_rate=1.0,  # every delivery answered 2xx comes again with a new Request-ID
        )
        issue_id = emulator.add_events(emulator.project_slugs[0], 1)[0]["groupID"]
        settled(emulator)  # issue.created and error.created, each twice
        for status in ("resolved", "unresolved", "resolved"):
            api(emulator, "PUT", f"organizations/acme/issues/{issue_id}/", json={"status": status})
            settled(emulator)  # a change and its repeat land before the next change
        api(emulator, "POST", f"issues/{issue_id}/comments/", json={"text": "Café — 再現"})
        tries = settled(emulator)
        feed = read_feed(receiver.base_url)

    assert {t["status"] for t in tries} == {200}
    first_tries = {t["request_id"]: t for t in tries if t["attempt"] == 1}
    deliveries = {t["delivery_id"] for t in tries}
    assert len(first_tries) == len(deliveries) == 6  # created, error, resolved, unresolved, resolved, comment
    assert len(tries) == 2 * len(deliveries)  # every delivery came twice, under a new Request-ID
    assert sorted(e["request_id"] for e in feed) == sorted(first_tries)
    assert sorted(first_tries[e["request_id"]]["delivery_id"] for e in feed) == sorted(deliveries)
    assert [e["attempts"] for e in feed] == [2] * 6
    assert [e["action"] for e in feed if e["resource"] == "issue"] == [
        "created",
        "resolved",
        "unresolved",
        "resolved",
    ]
    assert [e["resource"] for e in feed].count("error") == 1
    assert {e["issue_id"] for e in feed} == {issue_id}
    comment = feed[-1]
    assert (comment["resource"], comment["action"]) == ("comment", "created")
    assert comment["payload"]["data"]["comment"] == "Café — 再現"
    assert comment["installation_uuid"] == app["installation"]["uuid"]
    for entry in feed:
        assert compact(entry["payload"]).decode() == first_tries[entry["request_id"]]["body"]


def test_given_old_secret_and_reordered_deliveries_when_delivered_then_all_kept_in_arrival_order(
    emulator, database, tmp_path
):
    made = [emulator.add_events(emulator.project_slugs[1], 1)[0]["groupID"] for _ in range(6)]
    with ReceiverProcess(tmp_path, database) as receiver:  # OLD_SECRET is the second of its secrets
        emulator.webhooks.register(
            f"{receiver.base_url}/sentry/webhook", OLD_SECRET, ["issue"], reorder_window=0.3
        )
        ids = "&".join(f"id={i}" for i in made)
        api(emulator, "PUT", f"organizations/acme/issues/?{ids}", json={"status": "resolved"})
        tries = settled(emulator)
        feed = read_feed(receiver.base_url)

    assert {t["status"] for t in tries} == {200}
    assert sorted(e["request_id"] for e in feed) == sorted(t["request_id"] for t in tries)
    arrived = [e["issue_id"] for e in feed]
    assert sorted(arrived) == sorted(made)
    wait = {json.loads(t["body"])["data"]["issue"]["id"]: t["wait"] for t in tries}
    by_wait = sorted(made, key=wait.get)
    first, last = by_wait[0], by_wait[-1]
    assert by_wait != made  # the emulator sent them out of the order they were made in
    assert wait[last] - wait[first] > 0.1  # far enough apart to reach the receiver in that order
    assert arrived.index(first) < arrived.index(last)
    assert [e["seq"] for e in feed] == sorted(e["seq"] for e in feed)
