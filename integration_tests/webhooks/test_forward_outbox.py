"""The outbox across crashes and operators, on SQLite and PostgreSQL: kill -9 with deliveries
pending and in flight, then every one is sent after the restart (a resend keeps its webhook-id);
deliveries that used every attempt are dead, listed, shown in metrics, and replayed with one
command."""

from __future__ import annotations

import json
import time

import httpx

from integration_tests.webhooks.test_forward_e2e import ADMIN_TOKEN, forward_cli, status_json
from source_sentry.webhooks.forward.outbox import Outbox
from tools.forward_target import SECRET, Behaviour, ForwardTarget, verify
from tools.receiver import ReceiverProcess, headers, issue_body, read_feed

DELIVERIES = 30


def hook(target: ForwardTarget, name: str = "hook") -> dict:
    return {"name": name, "kind": "webhook", "url": target.url(), "secret": SECRET}


def post_issues(receiver: ReceiverProcess, prefix: str, n: int) -> None:
    with httpx.Client(base_url=receiver.base_url, timeout=10) as client:
        for number in range(n):
            body = issue_body("created", f"{prefix}{number}", "unresolved")
            assert (
                client.post("/sentry/webhook", content=body, headers=headers(body, "issue")).status_code
                == 200
            )


def test_given_deliveries_pending_and_in_flight_when_killed_then_after_restart_every_one_is_sent(
    database, tmp_path
):
    with ForwardTarget() as target:
        target.plan(*[Behaviour(delay=0.8)] * 8)  # the first requests are slow: in flight at the kill
        settings = {
            "forward": [hook(target)],
            "forward_retry_seconds": [0.2],
            "forward_timeout_seconds": 1,
            "forward_poll_seconds": 0.05,
        }
        receiver = ReceiverProcess(tmp_path, database, **settings).start()
        try:
            post_issues(receiver, "kill", DELIVERIES)
            deadline = time.monotonic() + 10
            while len(target.requests()) < 4 and time.monotonic() < deadline:
                time.sleep(0.01)
        finally:
            receiver.kill()
        sent_before = len({r.webhook_id for r in target.requests()})
        assert sent_before < DELIVERIES, "every delivery went out before the kill: nothing was pending"
        with ReceiverProcess(tmp_path, database, **settings) as restarted:
            feed = read_feed(restarted.base_url)
            target.wait_for(DELIVERIES, timeout=30)
    assert len(feed) == DELIVERIES
    accepted = {r.body for r in target.requests() if r.accepted}
    assert accepted == {json.dumps(e["payload"], separators=(",", ":")).encode() for e in feed}
    ids: dict[bytes, set[str]] = {}
    for got in target.requests():
        assert verify(SECRET, got.headers, got.body)
        ids.setdefault(got.body, set()).add(got.webhook_id)
    assert all(len(seen) == 1 for seen in ids.values()), "a resend after the crash changed its webhook-id"


def test_given_a_target_failing_every_attempt_when_retries_run_out_then_dead_listed_counted_and_replayed(
    database, tmp_path
):
    with ForwardTarget() as target:
        target.plan(*[Behaviour(500)] * 9)  # 3 deliveries x 3 attempts, then 200
        settings = {
            "forward": [hook(target, "dead-end")],
            "forward_retry_seconds": [0.05, 0.05],
            "forward_poll_seconds": 0.05,
            "admin_token": ADMIN_TOKEN,
        }
        with ReceiverProcess(tmp_path, database, **settings) as receiver:
            post_issues(receiver, "dead", 3)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                report = status_json(receiver)
                if report["targets"][0]["counts"]["dead"] == 3:
                    break
                time.sleep(0.05)
            cli_status = forward_cli(receiver, "status")
            assert report["targets"][0]["counts"] == {
                "pending": 0,
                "in_flight": 0,
                "failed": 0,
                "dead": 3,
                "sent": 0,
            }
            assert len(target.requests()) == 9
            dead = forward_cli(receiver, "dead")
            dead_json = json.loads(forward_cli(receiver, "dead", "--json").stdout)
            time.sleep(1.2)  # the gauges are refreshed every 10 polls
            metrics = httpx.get(f"{receiver.base_url}/metrics").text
            replay = forward_cli(receiver, "replay")
            target.wait_for(3, timeout=20)
    assert cli_status.stdout.splitlines()[1].split() == ["dead-end", "webhook", "0", "0", "0", "3", "0"]
    assert dead.returncode == 0
    assert len(dead.stdout.splitlines()) == 4  # a header and the three rows
    assert all(entry["attempts"] == 3 and entry["last_status"] == 500 for entry in dead_json)
    assert 'sentry_webhooks_forward_rows{state="dead",target="dead-end"} 3.0' in metrics
    assert 'sentry_webhooks_forward_attempts_total{outcome="dead",target="dead-end"} 3.0' in metrics
    assert replay.stdout.startswith("Replayed 3 dead deliveries")
    replayed = [r for r in target.requests() if r.accepted]
    assert {r.webhook_id for r in replayed} == {entry["webhook_id"] for entry in dead_json}
    assert str(target.port) not in dead.stdout + replay.stdout + json.dumps(dead_json)


def sent_by(receiver: ReceiverProcess, target: str) -> float:
    for line in httpx.get(f"{receiver.base_url}/metrics", timeout=10).text.splitlines():
        if line.startswith(f'sentry_webhooks_forward_attempts_total{{outcome="sent",target="{target}"}}'):
            return float(line.split()[-1])
    return 0.0


def test_given_two_receivers_on_one_postgres_when_both_forward_then_they_share_the_rows_and_send_each_once(
    pg_cluster, tmp_path
):
    database = pg_cluster.new_database()
    with ForwardTarget() as target:
        target.plan(*[Behaviour(delay=0.1)] * DELIVERIES)
        settings = {"forward": [hook(target)], "forward_poll_seconds": 0.02}
        first = ReceiverProcess(tmp_path, database, **settings).start()
        try:
            with ReceiverProcess(tmp_path, database, **settings) as second:
                post_issues(first, "a", DELIVERIES // 2)
                post_issues(second, "b", DELIVERIES // 2)
                target.wait_for(DELIVERIES, timeout=30)
                time.sleep(0.3)
                shares = (sent_by(first, "hook"), sent_by(second, "hook"))
        finally:
            first.stop()
    ids = [r.webhook_id for r in target.requests()]
    assert len(ids) == DELIVERIES, "a delivery was sent twice (or not at all)"
    assert len(set(ids)) == DELIVERIES
    assert sum(shares) == DELIVERIES
    assert min(shares) > 0, f"one receiver sent everything: {shares}"


def _open_together(database: str, receivers: int) -> tuple[list, list[str]]:
    """`receivers` outboxes opened at the same moment from as many threads: those opened, and the
    errors of those that failed."""
    import threading

    from source_sentry.webhooks.forward.outbox import Outbox

    together = threading.Barrier(receivers)
    failures: list[str] = []
    opened: list[Outbox] = []

    def start() -> None:
        together.wait()
        try:
            opened.append(Outbox(database))
        except Exception as error:  # noqa: BLE001 - the test reports what failed
            failures.append(str(error))

    threads = [threading.Thread(target=start) for _ in range(receivers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return opened, failures


def test_given_receivers_starting_together_on_a_new_postgres_database_then_all_create_the_outbox(
    pg_cluster,
):
    """Receivers behind a load balancer start at the same moment; CREATE TABLE IF NOT EXISTS run
    side by side fails in one of them on PostgreSQL's catalog (it did in 10 trials of 10)."""
    for _trial in range(3):
        opened, failures = _open_together(pg_cluster.new_database(), 6)
        for outbox in opened:
            outbox.close()
        assert failures == []
        assert len(opened) == 6


def test_given_rows_claimed_when_given_back_then_they_are_due_at_once_unless_another_claim_took_them(
    store, database
):
    """What a sender does with rows a claim brought back after a 410: they are unleased with
    their attempts untouched; a row whose lease ran out and was claimed again stays with that claim."""
    outbox = Outbox(database)
    try:
        with outbox._transaction() as db:
            for seq in (1, 2, 3):
                db.execute(
                    "INSERT INTO forward_outbox (seq, target, webhook_id, state, attempts, next_attempt_ms, "
                    "created_ms) VALUES (?, 't', ?, 'pending', 0, 0, 0)",
                    (seq, f"msg_{seq}"),
                )
        first = outbox.claim("t", 3, now_ms=1_000, lease_ms=100)
        assert outbox.claim("t", 3, now_ms=1_050, lease_ms=100) == []  # leased
        # The leases run out and another receiver claims row 1 before the first claim is given back.
        [taken] = outbox.claim("t", 1, now_ms=1_200, lease_ms=100_000)
        assert taken.id == first[0].id
        assert outbox.release(first) == 2
        again = outbox.claim("t", 3, now_ms=1_201, lease_ms=100)
        assert [r.id for r in again] == [r.id for r in first[1:]]
        assert {r.attempts for r in again} == {0}
        assert outbox.release([taken]) == 1
    finally:
        outbox.close()
