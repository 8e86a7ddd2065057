"""What the re-read of changed issues sends (to the receiver's feed and to Sentry) and which of
the issues Sentry answers it keeps, with HTTP faked; the whole path runs over loopback in
integration_tests/webhooks/test_changed_issues_e2e.py."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from airbyte_cdk.models import AirbyteMessage, Type

from source_sentry.packaged.changed_issues import ChangedIssues
from source_sentry.sentry_api import SentryApi
from source_sentry.state import FEED_POSITION_KEY
from unit_tests.fake_sentry import FakeSentry

FEED = "http://hooks.test"
SENTRY = "http://sentry.test/api/0"
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC).timestamp()


def delivery(seq: int, resource: str, issue: str | None, slug: str | None = "backend") -> dict[str, Any]:
    return {"seq": seq, "resource": resource, "issue_id": issue, "project_slug": slug}


def issue(issue_id: str, slug: str = "backend", last_seen: str = "2024-06-01T10:00:00Z") -> dict[str, Any]:
    return {"id": issue_id, "status": "resolved", "lastSeen": last_seen, "project": {"slug": slug}}


def reread(fake: FakeSentry, position: int, **config: Any) -> tuple[list[AirbyteMessage], ChangedIssues]:
    settings = {"auth_token": "t0ken-for-tests", "organization": "acme", "settle_seconds": 300, **config}
    changed = ChangedIssues(
        settings,
        position,
        feed=SentryApi(FEED, "feed-token-for-tests", transport=fake, sleep=lambda _: None),
        sentry=SentryApi(SENTRY, "t0ken-for-tests", transport=fake, sleep=lambda _: None),
        clock=lambda: NOW,
    )
    found, head = changed.read_feed()
    return list(changed.reread(found, head)), changed


def test_given_feed_pages_when_reread_then_only_issue_and_comment_deliveries_are_asked_for_once_by_id(
    fake_sentry: FakeSentry,
) -> None:
    fake_sentry.get(f"{FEED}/v1/deliveries?after=5", json={
        "deliveries": [delivery(6, "issue", "11"), delivery(7, "error", "12"), delivery(8, "comment", "13")],
        "next_after": 8, "more": True,
    })  # fmt: skip
    fake_sentry.get(f"{FEED}/v1/deliveries?after=8", json={
        "deliveries": [delivery(9, "issue", "11"), delivery(10, "installation", None)],
        "next_after": 10, "more": False,
    })  # fmt: skip
    fake_sentry.get(f"{SENTRY}/organizations/acme/issues/", json=[issue("11"), issue("13")])

    messages, changed = reread(fake_sentry, 5)

    sentry_requests = [r for r in fake_sentry.request_history if r.url.startswith(SENTRY)]
    assert [r.qs.get("after") for r in fake_sentry.request_history[:2]] == [["5"], ["8"]]
    assert fake_sentry.request_history[0].headers["Authorization"] == "Bearer feed-token-for-tests"
    assert len(sentry_requests) == 1
    assert sentry_requests[0].qs["group"] == ["11", "13"]
    assert sentry_requests[0].qs["project"] == ["-1"]
    assert "query=&" in sentry_requests[0].url + "&"
    assert [m.record.data["id"] for m in messages if m.type == Type.RECORD and m.record] == ["11", "13"]
    assert messages[-1].state.stream.stream_state.__dict__[FEED_POSITION_KEY] == 10  # type: ignore[union-attr]
    assert changed.requests == 1


def test_given_issues_outside_the_projects_or_dates_when_reread_then_they_are_not_sent(
    fake_sentry: FakeSentry,
) -> None:
    fake_sentry.get(f"{FEED}/v1/deliveries?after=0", json={
        "deliveries": [delivery(1, "issue", "1"), delivery(2, "issue", "2", "web"), delivery(3, "issue", "3"),
                       delivery(4, "issue", "4"), delivery(5, "issue", "5")],
        "next_after": 5, "more": False,
    })  # fmt: skip
    fake_sentry.get(f"{SENTRY}/organizations/acme/issues/", json=[
        issue("1"),
        issue("3", slug="renamed-away"),
        issue("4", last_seen="2024-06-01T11:58:00Z"),  # within settle_seconds: the next lastSeen read's
        issue("5", last_seen="2024-04-01T00:00:00Z"),  # before start_date
    ])  # fmt: skip

    messages, _ = reread(fake_sentry, 0, projects=["backend"], start_date="2024-05-01T00:00:00Z")

    asked = [r.qs["group"] for r in fake_sentry.request_history if r.url.startswith(SENTRY)]
    assert asked == [["1", "3", "4", "5"]]  # web's delivery is not asked for
    assert [m.record.data["id"] for m in messages if m.type == Type.RECORD and m.record] == ["1"]


def test_given_more_changed_issues_than_a_batch_when_reread_then_each_batch_commits_up_to_its_last_delivery(
    fake_sentry: FakeSentry,
) -> None:
    deliveries = [delivery(seq, "issue", str(1000 + seq)) for seq in range(1, 151)]
    fake_sentry.get(
        f"{FEED}/v1/deliveries?after=0", json={"deliveries": deliveries, "next_after": 150, "more": False}
    )
    fake_sentry.get(f"{SENTRY}/organizations/acme/issues/", json=[])

    messages, _ = reread(fake_sentry, 0)

    batches = [r.qs["group"] for r in fake_sentry.request_history if r.url.startswith(SENTRY)]
    positions = [m.state.stream.stream_state.__dict__[FEED_POSITION_KEY] for m in messages if m.state]  # type: ignore[union-attr]
    assert [len(b) for b in batches] == [100, 50]
    assert positions == [100, 150]  # after the first batch: every delivery up to seq 100 is done
