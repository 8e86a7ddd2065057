"""Forwarding end to end over loopback, on SQLite and PostgreSQL: the emulator creates and
resolves issues and sends Sentry's webhooks to the receiver, which forwards each chosen delivery
to a test target that fails in one way per path (500, 429 with Retry-After, 410, a late answer,
a closed connection). Every chosen delivery must arrive, correctly signed, and any request seen
twice must carry the same webhook-id."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import defaultdict

import httpx

from tools.forward_target import CLOSE, SECRET, TIMEOUT, Behaviour, ForwardTarget, verify
from tools.receiver import SECRET as SENTRY_SECRET
from tools.receiver import ReceiverProcess, read_feed

# Failure modes, one target path each: what the target answers first, then 200.
MODES = {
    "ok": (),
    "error500": (Behaviour(500), Behaviour(503)),
    "ratelimited": (Behaviour(429, retry_after="1"),),
    "gone": (Behaviour(410),),
    "timeout": (TIMEOUT,),
    "closed": (CLOSE,),
    "redirected": (Behaviour(307, location="/elsewhere"),),
}
ADMIN_TOKEN = "admin-token-for-tests-0123456789"
ISSUES = 4


def forward_settings(target: ForwardTarget) -> dict:
    hooks = [
        {
            "name": mode,
            "kind": "webhook",
            "url": target.url(f"/{mode}"),
            "secret": SECRET,
            "resources": ["issue"],
        }
        for mode in MODES
    ]
    return {
        "forward": [
            *hooks,
            {
                "name": "resolved-only",
                "kind": "webhook",
                "url": target.url("/resolved"),
                "secret": SECRET,
                "actions": ["resolved"],
            },
            {"name": "slack", "kind": "slack", "url": target.url("/slack/T0/B0/secretpart")},
        ],
        "forward_retry_seconds": [0.2, 0.2, 0.2, 0.2],
        "forward_timeout_seconds": 0.5,
        "forward_poll_seconds": 0.05,
        "admin_token": ADMIN_TOKEN,
    }


def forward_cli(receiver: ReceiverProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "source_sentry.run",
            "webhooks",
            "forward",
            "--config",
            str(receiver.config),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_given_issues_changing_when_targets_fail_in_every_way_then_each_chosen_delivery_arrives_signed(
    database, tmp_path, emulator
):
    with ForwardTarget() as target:
        for mode, behaviours in MODES.items():
            target.plan(*behaviours, path=f"/{mode}")
        with ReceiverProcess(tmp_path, database, **forward_settings(target)) as receiver:
            emulator.webhooks.register(f"{receiver.base_url}/sentry/webhook", SENTRY_SECRET, ["issue"])
            issues = emulator.add_issues(emulator.project_slugs[0], ISSUES)
            for issue in issues[:2]:
                emulator.resolve_issue(issue["id"])
            assert emulator.webhooks.drain(timeout=30)
            feed = read_feed(receiver.base_url)
            bodies = {
                entry["seq"]: json.dumps(entry["payload"], separators=(",", ":")).encode() for entry in feed
            }
            resolved = [e["seq"] for e in feed if e["action"] == "resolved"]
            assert len(feed) == ISSUES + 2
            assert len(resolved) == 2

            for mode in set(MODES) - {"gone"}:
                target.wait_for(len(feed), f"/{mode}", timeout=30)
            target.wait_for(len(resolved), "/resolved", timeout=30)
            target.wait_for(len(feed), "/slack/T0/B0/secretpart", timeout=30)
            # A 410 disabled "gone": nothing more goes there until it is enabled, the delivery
            # that met the 410 included. What was sent before is what the sender had claimed by
            # the time it read the 410: requests in flight beside it, and rows claimed in the
            # moment between the target's answer and the sender's reading of it, when other
            # requests may finish and free their slots (unit_tests/webhooks/forward/test_sender.py
            # holds the sender to that exactly).
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                [gone] = [t for t in status_json(receiver)["targets"] if t["name"] == "gone"]
                if gone["disabled"] and not gone["counts"]["in_flight"]:
                    break
                time.sleep(0.05)
            assert gone["disabled"] == "answered 410 Gone"
            before_enable = len(target.requests("/gone"))
            assert 1 <= before_enable <= len(feed)
            assert len([got for got in target.requests("/gone") if got.accepted]) < len(feed)
            time.sleep(0.5)
            assert len(target.requests("/gone")) == before_enable
            status = forward_cli(receiver, "status")
            assert status.returncode == 0, status.stderr
            assert "answered 410 Gone" in status.stdout
            enabled = forward_cli(receiver, "enable", "gone")
            assert enabled.returncode == 0, enabled.stderr
            target.wait_for(len(feed), "/gone", timeout=30)
            log = receiver.log_text()
    assert "Forward target gone answered 410 Gone: disabled" in log
    assert "secretpart" not in log
    assert f"127.0.0.1:{target.port}" not in log
    assert SECRET not in log
    assert "secretpart" not in status.stdout + status.stderr

    report = {}
    for mode in [*MODES, "resolved"]:
        requests = target.requests(f"/{mode}")
        chosen = resolved if mode == "resolved" else list(bodies)
        by_id: dict[str, set[bytes]] = defaultdict(set)
        for got in requests:
            assert verify(SECRET, got.headers, got.body), f"{mode}: a request failed the signature check"
            by_id[got.webhook_id].add(got.body)
        # One webhook-id per delivery, one delivery per webhook-id: a resend is always recognisable.
        assert all(len(sent) == 1 for sent in by_id.values()), f"{mode}: one webhook-id carried two bodies"
        accepted = {got.body for got in requests if got.accepted}
        assert accepted == {bodies[seq] for seq in chosen}, f"{mode}: a chosen delivery never arrived"
        assert len(by_id) == len(chosen)
        repeats = sorted(
            wid
            for wid, _ in ((g.webhook_id, 0) for g in requests)
            if sum(1 for g in requests if g.webhook_id == wid) > 1
        )
        report[mode] = {
            "chosen": len(chosen),
            "forwarded": len(accepted),
            "requests": len(requests),
            "resent_ids": sorted(set(repeats)),
        }
    assert target.requests("/elsewhere") == [], "a redirect was followed"
    assert report["ok"]["requests"] == len(bodies), "a healthy target got no resend"
    assert report["timeout"]["resent_ids"], "the late answer was not followed by a resend"
    assert report["closed"]["resent_ids"], "the closed connection was not followed by a resend"
    ratelimited = target.requests("/ratelimited")
    first, again = (
        ratelimited[0],
        next(r for r in ratelimited[1:] if r.webhook_id == ratelimited[0].webhook_id),
    )
    assert again.at - first.at >= 0.95, "Retry-After: 1 was not honoured"
    print(json.dumps(report, indent=1))

    slack = [json.loads(got.body) for got in target.requests("/slack/T0/B0/secretpart")]
    assert all("webhook-signature" not in got.headers for got in target.requests("/slack/T0/B0/secretpart"))
    titles = {issue["title"] for issue in issues}
    assert {message["text"].partition(": ")[2].partition(": ")[2] for message in slack} == titles
    assert sum("_issue.resolved_" in m["blocks"][0]["text"]["text"] for m in slack) == 2
    assert all("*Project:* " + emulator.project_slugs[0] in json.dumps(m) for m in slack)


def test_given_a_target_down_when_sentry_posts_then_the_receiver_still_answers_at_once(tmp_path):
    """A target that never answers in time holds only its own sender: Sentry's POSTs are answered
    as fast as with no target (the benchmark measures by how much, on both stores)."""
    from tools.receiver import headers, issue_body

    database = str(tmp_path / "d.sqlite3")

    with ForwardTarget() as target:
        target.plan(*[Behaviour(delay=30.0)] * 40, path="/slow")  # never answers within the test
        with (
            ReceiverProcess(
                tmp_path,
                database,
                **forward_settings(target)
                | {
                    "forward": [
                        {"name": "slow", "kind": "webhook", "url": target.url("/slow"), "secret": SECRET},
                        {"name": "fine", "kind": "webhook", "url": target.url("/fine"), "secret": SECRET},
                    ],
                    "forward_timeout_seconds": 20,
                    "shutdown_grace_seconds": 0,
                },
            ) as receiver,
            httpx.Client(base_url=receiver.base_url, timeout=10) as client,
        ):
            for n in range(20):
                body = issue_body("created", f"slow{n}", "unresolved")
                answer = client.post("/sentry/webhook", content=body, headers=headers(body, "issue"))
                assert answer.status_code == 200
                assert answer.elapsed.total_seconds() < 1.0, "an answer to Sentry waited on the slow target"
            fine = target.wait_for(20, "/fine", timeout=10)
            assert len({r.webhook_id for r in fine}) == 20, "the healthy target waited on the slow one"
            assert len(target.requests("/slow")) <= 4, "more requests in flight than the target's concurrency"


def test_given_an_https_target_when_its_certificate_is_not_trusted_then_nothing_is_sent_until_it_is(
    tmp_path, monkeypatch
):
    """TLS is verified: a certificate from a CA the receiver does not trust fails every attempt
    before any request is made; the same receiver started trusting that CA delivers."""
    from sentry_emulator.tls import make_certs

    ca, cert, key = make_certs(str(tmp_path))
    database = str(tmp_path / "d.sqlite3")
    with ForwardTarget(tls=(cert, key)) as target:
        settings = {
            "forward": [{"name": "tls", "kind": "webhook", "url": target.url(), "secret": SECRET}],
            "forward_retry_seconds": [0.05, 30],
            "forward_poll_seconds": 0.05,
            "admin_token": ADMIN_TOKEN,
        }
        with ReceiverProcess(tmp_path, database, **settings) as receiver:
            post_one(receiver)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                [failure] = status_json(receiver)["failures"] or [None]
                if failure and failure["attempts"] == 2:
                    break
                time.sleep(0.05)
        assert failure["last_error"] == "connection failed (ConnectError)"
        assert target.requests() == []
        monkeypatch.setenv("SSL_CERT_FILE", ca)
        with ReceiverProcess(tmp_path, database, **settings) as trusting:
            # The failed row is due again 30 s later; rather than wait, a new delivery proves the
            # trusted path.
            post_one(trusting, "tls-2")
            [got] = target.wait_for(1, timeout=20)
    assert verify(SECRET, got.headers, got.body)


def post_one(receiver: ReceiverProcess, issue: str = "tls-1") -> None:
    from tools.receiver import headers, issue_body

    body = issue_body("created", issue, "unresolved")
    answer = httpx.post(f"{receiver.base_url}/sentry/webhook", content=body, headers=headers(body, "issue"))
    assert answer.status_code == 200


def status_json(receiver: ReceiverProcess) -> dict:
    """The status page's data, as a script reads it with the admin token."""
    answer = httpx.get(
        f"{receiver.base_url}/forward/status.json",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=10,
    )
    answer.raise_for_status()
    return answer.json()
