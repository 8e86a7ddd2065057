"""The receiver as Sentry and a feed reader meet it: its own process, real HTTP over loopback,
on SQLite and on PostgreSQL. The module shares one receiver per store; each test speaks of
issues no other test uses and reads the feed from where it stood when the test began."""

from __future__ import annotations

import itertools

import httpx
import pytest

from tools.receiver import (
    FEED_TOKEN,
    OLD_SECRET,
    SECRET,
    ReceiverProcess,
    compact,
    headers,
    issue_body,
)

ISSUE_IDS = itertools.count(1000)


def bodies() -> tuple[bytes, bytes]:
    """A resolved and a reopened body about an issue no other test of the module uses."""
    issue = str(next(ISSUE_IDS))
    return issue_body("resolved", issue, "resolved"), issue_body("unresolved", issue, "unresolved")


def post(hooks, body: bytes, resource: str = "issue", **kwargs) -> httpx.Response:
    sent = kwargs.pop("headers", None) or headers(body, resource, **kwargs)
    return httpx.post(f"{hooks.base_url}/sentry/webhook", content=body, headers=sent, timeout=10)


def test_given_signed_delivery_when_posted_then_2xx_and_in_the_feed_with_its_facts(hooks):
    resolved, _ = bodies()
    sent = headers(resolved, "issue")
    answer = post(hooks, resolved, headers=sent)
    assert answer.status_code == 200
    (entry,) = hooks.feed()
    assert entry["seq"] == answer.json()["seq"]
    assert entry["request_id"] == sent["Request-ID"]
    assert (entry["resource"], entry["action"]) == ("issue", "resolved")
    assert entry["issue_id"] == compact_issue_id(resolved)
    assert (entry["project_slug"], entry["project_id"]) == ("backend", "11")
    assert entry["installation_uuid"] == "7a485448-a9e2-4c85-8a3c-4f44175783c9"
    assert entry["actor"] == {"type": "user", "id": 1, "name": "Ada"}
    assert entry["verified"] is True
    assert entry["parse_error"] is False
    assert entry["sent_at"].endswith("Z")
    assert entry["received_at"].endswith("Z")
    assert compact(entry["payload"]) == resolved


def compact_issue_id(body: bytes) -> str:
    import json

    return str(json.loads(body)["data"]["issue"]["id"])


SIGNED = issue_body("resolved", "1", "resolved")


@pytest.mark.parametrize(
    ("body", "sent"),
    [
        pytest.param(SIGNED.replace(b"Boom", b"Bang"), headers(SIGNED, "issue"), id="tampered body"),
        pytest.param(SIGNED, headers(SIGNED, "issue", secret="not-the-secret"), id="wrong secret"),
        pytest.param(
            SIGNED,
            {k: v for k, v in headers(SIGNED, "issue").items() if k != "Sentry-Hook-Signature"},
            id="unsigned",
        ),
    ],
)
def test_given_bad_or_missing_signature_when_posted_then_401_without_detail_and_nothing_kept(
    hooks, body, sent
):
    answer = post(hooks, body, headers=sent)
    assert answer.status_code == 401
    assert answer.json() == {"detail": "unauthorized"}
    assert hooks.feed() == []


def test_given_old_secret_during_rotation_when_posted_then_accepted(hooks):
    resolved, _ = bodies()
    assert post(hooks, resolved, secret=OLD_SECRET).status_code == 200
    assert len(hooks.feed()) == 1


def test_given_body_over_the_limit_when_posted_then_413_and_nothing_kept(hooks):
    big = compact({"action": "created", "data": {"pad": "x" * (64 * 1024)}})
    assert post(hooks, big).status_code == 413
    chunked = httpx.post(
        f"{hooks.base_url}/sentry/webhook",
        content=iter([big[:40_000], big[40_000:]]),  # no Content-Length: read until over the limit
        headers=headers(big, "issue"),
        timeout=10,
    )
    assert chunked.status_code == 413
    assert hooks.feed() == []


def test_given_non_ascii_payload_when_posted_then_the_exact_bytes_verify_and_the_text_survives(hooks):
    body = issue_body("created", str(next(ISSUE_IDS)), "unresolved", title="Ünïcode — 例外 🚨")
    assert b"\\u00dcn" in body
    assert post(hooks, body).status_code == 200
    (entry,) = hooks.feed()
    assert entry["payload"]["data"]["issue"]["title"] == "Ünïcode — 例外 🚨"
    assert compact(entry["payload"]) == body


def test_given_sentry_retry_when_posted_then_one_fact_with_two_attempts(hooks):
    resolved, _ = bodies()
    first = post(hooks, resolved)
    retry = post(hooks, resolved)  # same body and signature, new Request-ID and timestamp
    assert (first.status_code, retry.status_code) == (200, 200)
    assert retry.json() == {"seq": first.json()["seq"], "duplicate": True}
    (entry,) = hooks.feed()
    assert entry["attempts"] == 2


def test_given_resolved_reopened_resolved_when_posted_then_three_facts(hooks):
    resolved, reopened = bodies()
    for body in (resolved, reopened, resolved):
        assert post(hooks, body).json()["duplicate"] is False
    assert [e["action"] for e in hooks.feed()] == ["resolved", "unresolved", "resolved"]


def test_given_deliveries_out_of_order_when_posted_then_kept_in_arrival_order(hooks):
    resolved, _ = bodies()
    created = issue_body("created", compact_issue_id(resolved), "unresolved")
    post(hooks, resolved)
    post(hooks, created)
    feed = hooks.feed()
    assert [e["action"] for e in feed] == ["resolved", "created"]
    assert feed[0]["seq"] < feed[1]["seq"]


def test_given_signed_body_that_is_not_json_when_posted_then_kept_raw_and_flagged(hooks):
    assert post(hooks, b"<html>not json</html>").status_code == 200
    (entry,) = hooks.feed()
    assert entry["parse_error"] is True
    assert entry["raw_body_base64"] == "PGh0bWw+bm90IGpzb248L2h0bWw+"


def test_given_feed_without_or_with_wrong_token_when_read_then_401(hooks):
    feed = f"{hooks.base_url}/v1/deliveries"
    assert httpx.get(feed).status_code == 401
    assert httpx.get(feed, headers={"Authorization": f"Bearer {SECRET}"}).status_code == 401
    assert httpx.get(feed, headers={"Authorization": f"Bearer {FEED_TOKEN}"}).status_code == 200


@pytest.mark.parametrize("query", ["after=-1", "after=x", "limit=0", "limit=100001"])
def test_given_bad_feed_query_when_read_then_400_saying_what_to_fix(hooks, query):
    answer = httpx.get(
        f"{hooks.base_url}/v1/deliveries?{query}", headers={"Authorization": f"Bearer {FEED_TOKEN}"}
    )
    assert answer.status_code == 400
    assert query.split("=")[0] in answer.json()["detail"]


def test_given_traffic_when_metrics_scraped_then_counts_match(database, tmp_path):
    resolved, reopened = bodies()
    with ReceiverProcess(tmp_path, database) as receiver:
        post(receiver, resolved)
        post(receiver, resolved)
        post(receiver, reopened, secret="wrong")
        page = httpx.get(f"{receiver.base_url}/metrics").text
        assert httpx.get(f"{receiver.base_url}/healthz").json() == {"status": "ok"}
    assert 'sentry_webhooks_accepted_total{resource="issue"} 1.0' in page
    assert "sentry_webhooks_duplicates_total 1.0" in page
    assert 'sentry_webhooks_rejected_total{reason="bad_signature"} 1.0' in page
    assert "sentry_webhooks_answer_seconds_count 3.0" in page
    assert "sentry_webhooks_newest_seq 1.0" in page
    # SIGTERM: uvicorn finishes what is in flight, the app commits and closes the store, and
    # the process then dies of the signal it was sent (uvicorn re-raises it).
    assert receiver.process.returncode in (0, -15)
    log = receiver.log_text()
    assert "Stopped: every delivery answered is committed" in log
    # At the default level, deliveries are summed up (here at the stop), not logged one by one.
    assert (
        "Since the last summary: kept 1 new deliveries and 1 duplicates (retries of kept ones); newest seq 1"
        in log
    )
    assert "Kept delivery" not in log
    assert "POST /sentry/webhook" not in log
    for secret in (SECRET, OLD_SECRET, FEED_TOKEN, "Boom", '"issue"'):
        assert secret not in log
