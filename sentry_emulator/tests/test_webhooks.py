"""The emulator sends webhooks as Sentry does: signed, byte-exact, on the changes that trigger
them, with Sentry's timeout and retry rules, to a real HTTP target on 127.0.0.1."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import socket
import time

import requests

from sentry_emulator import Emulator

SECRET = "0f2e5c1d8b7a4e9f0f2e5c1d8b7a4e9f0f2e5c1d8b7a4e9f0f2e5c1d8b7a4e9f"
FAST = {"retry_delay": 0.05}


def api(emu: Emulator, method: str, path: str, token: str | None = None, **kwargs) -> requests.Response:
    return requests.request(
        method,
        f"{emu.base_url}/api/0/{path}",
        headers={"Authorization": f"Bearer {token or emu.token}"},
        timeout=10,
        **kwargs,
    )


def new_issue(emu: Emulator) -> str:
    return emu.add_events(emu.project_slugs[0], 1)[0]["groupID"]


def sent(emu: Emulator) -> list[dict]:
    assert emu.webhooks.drain(10)
    return emu.webhooks.requests()


def events_of(emu: Emulator) -> list[str]:
    return [r["event_type"] for r in sent(emu)]


def test_given_an_app_when_the_api_resolves_an_issue_then_one_delivery_with_sentrys_headers_and_signature(
    emulator, webhook_target
):
    issue_id = new_issue(emulator)
    app = emulator.webhooks.register(webhook_target.url, SECRET, ["issue"])

    r = api(emulator, "PUT", f"organizations/acme/issues/{issue_id}/", json={"status": "resolved"})

    assert r.status_code == 200
    assert r.json()["status"] == "resolved"
    [entry] = sent(emulator)
    [got] = webhook_target.received
    assert got.path == "/sentry/webhook"
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["Request-ID"] == entry["request_id"]
    assert re.fullmatch("[0-9a-f]{32}", entry["request_id"])
    assert got.headers["Sentry-Hook-Resource"] == "issue"
    assert abs(int(got.headers["Sentry-Hook-Timestamp"]) - time.time()) < 5
    expected = hmac.new(SECRET.encode(), got.body, hashlib.sha256).hexdigest()
    assert got.headers["Sentry-Hook-Signature"] == expected
    body = json.loads(got.body)
    assert got.body == json.dumps(body, separators=(",", ":")).encode()
    assert list(body) == ["action", "installation", "data", "actor"]
    assert body["action"] == "resolved"
    assert body["installation"] == {"uuid": app["installation"]["uuid"]}
    assert body["actor"] == {
        "type": "user",
        "id": int(emulator.ground_truth("members")[0]["user"]["id"]),
        "name": "Ada Lovelace",
    }
    assert body["data"]["resolution_type"] == "now"
    issue = body["data"]["issue"]
    assert {k: v for k, v in issue.items() if k not in ("url", "web_url", "project_url")} == emulator.issue(
        issue_id
    )
    assert issue["url"] == f"{emulator.base_url}/api/0/organizations/acme/issues/{issue_id}/"
    assert issue["web_url"] == f"{emulator.base_url}/organizations/acme/issues/{issue_id}/"
    assert (
        issue["project_url"] == f"{emulator.base_url}/organizations/acme/projects/{issue['project']['slug']}/"
    )
    assert (entry["status"], entry["attempt"], entry["error"], entry["app"]) == (200, 1, None, app["slug"])
    assert entry["body"].encode() == got.body


def test_given_a_non_ascii_comment_then_the_body_escapes_it_and_the_signature_covers_those_exact_bytes(
    emulator, webhook_target
):
    issue_id = new_issue(emulator)
    emulator.webhooks.register(webhook_target.url, SECRET, ["comment"])

    r = api(emulator, "POST", f"issues/{issue_id}/comments/", json={"text": "Café crashed — 再現"})

    assert r.status_code == 201
    sent(emulator)
    [got] = webhook_target.received
    assert got.body.isascii()
    assert b'"comment":"Caf\\u00e9 crashed \\u2014 \\u518d\\u73fe"' in got.body
    body = json.loads(got.body)
    assert body["data"] == {
        "comment_id": int(r.json()["id"]),
        "issue_id": int(issue_id),
        "project_slug": emulator.project_slugs[0],
        "timestamp": body["data"]["timestamp"],
        "comment": "Café crashed — 再現",
    }
    assert (
        got.headers["Sentry-Hook-Signature"]
        == hmac.new(SECRET.encode(), got.body, hashlib.sha256).hexdigest()
    )
    # A receiver that re-serialises before verifying fails on this body.
    reserialised = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    assert (
        hmac.new(SECRET.encode(), reserialised, hashlib.sha256).hexdigest()
        != got.headers["Sentry-Hook-Signature"]
    )


def test_given_an_issues_first_event_then_issue_created_and_error_created_come_from_sentry(
    emulator, webhook_target
):
    emulator.webhooks.register(webhook_target.url, SECRET, ["issue", "error"])

    [event] = emulator.add_events(emulator.project_slugs[1], 1)
    emulator.add_events(emulator.project_slugs[1], 1, issue_id=event["groupID"])

    log = sent(emulator)
    assert sorted(r["event_type"] for r in log) == ["error.created", "error.created", "issue.created"]
    bodies = [json.loads(r["body"]) for r in log]
    assert all(b["actor"] == {"type": "application", "id": "sentry", "name": "Sentry"} for b in bodies)
    created = next(b for b in bodies if b["data"].get("issue"))
    assert created["data"]["issue"]["id"] == event["groupID"]
    errors = {b["data"]["error"]["event_id"]: b["data"]["error"] for b in bodies if "error" in b["data"]}
    error = errors[event["id"]]
    assert len(errors) == 2
    slug = emulator.project_slugs[1]
    assert error["issue_id"] == event["groupID"]
    assert error["url"] == f"{emulator.base_url}/api/0/projects/acme/{slug}/events/{event['id']}/"
    assert (
        error["web_url"]
        == f"{emulator.base_url}/organizations/acme/issues/{event['groupID']}/events/{event['id']}/"
    )
    assert error["issue_url"] == f"{emulator.base_url}/api/0/organizations/acme/issues/{event['groupID']}/"
    assert error["project"] == int(event["projectID"])
    fixed = ["event_id", "project", "release", "dist", "platform", "message", "datetime", "tags"]
    assert list(error)[:8] == fixed
    assert list(error)[8:-4] == sorted(list(error)[8:-4])
    assert list(error)[-4:] == ["url", "web_url", "issue_url", "issue_id"]
    assert error["datetime"].endswith("Z")
    assert all(len(pair) == 2 for pair in error["tags"])
    assert error["title"] == event["title"]


def test_given_a_resolved_issue_when_a_new_event_comes_then_sentry_sends_it_unresolved(
    emulator, webhook_target
):
    issue_id = new_issue(emulator)
    emulator.set_issue_status(issue_id, "resolved")
    emulator.webhooks.register(webhook_target.url, SECRET, ["issue"])

    emulator.add_events(emulator.project_slugs[0], 1, issue_id=issue_id)

    [entry] = sent(emulator)
    body = json.loads(entry["body"])
    assert (body["action"], body["actor"]["type"]) == ("unresolved", "application")
    assert body["data"]["issue"]["substatus"] == "regressed"


def test_given_a_processing_delay_then_issue_created_is_sent_when_the_event_becomes_visible(
    emulator, webhook_target
):
    emulator.webhooks.register(webhook_target.url, SECRET, ["issue"])
    emulator.add_events(emulator.project_slugs[0], 1, visible_after=3600)
    assert sent(emulator) == []

    assert emulator.release_pending() == 1

    assert events_of(emulator) == ["issue.created"]


def test_given_a_status_set_by_sentry_itself_then_the_actor_is_sentry(emulator, webhook_target):
    issue_id = new_issue(emulator)
    emulator.webhooks.register(webhook_target.url, SECRET, ["issue"])

    emulator.set_issue_status(issue_id, "resolved", automatic=True)
    requests.post(
        f"{emulator.base_url}/_emulator/set_issue_status",
        json={"issue_id": issue_id, "status": "ignored", "automatic": True},
        timeout=10,
    )

    sentry = {"type": "application", "id": "sentry", "name": "Sentry"}
    assert [json.loads(r["body"])["actor"] for r in sent(emulator)] == [sentry, sentry]


def test_given_each_issue_mutation_of_the_api_then_its_action_and_none_for_no_change_or_unassign(
    emulator, webhook_target
):
    issue_id = new_issue(emulator)
    slug = emulator.project_slugs[0]
    emulator.webhooks.register(webhook_target.url, SECRET, ["issue"])
    user = emulator.ground_truth("members")[1]["user"]
    steps = [
        ("PUT", f"organizations/acme/issues/?id={issue_id}", {"status": "ignored"}, "issue.ignored"),
        ("PUT", f"projects/acme/{slug}/issues/?id={issue_id}", {"status": "unresolved"}, "issue.unresolved"),
        ("PUT", f"issues/{issue_id}/", {"status": "resolvedInNextRelease"}, "issue.resolved"),
        ("PUT", f"issues/{issue_id}/", {"status": "resolved"}, None),  # no change: nothing sent
        (
            "PUT",
            f"organizations/acme/issues/{issue_id}/",
            {"assignedTo": f"user:{user['id']}"},
            "issue.assigned",
        ),
        ("PUT", f"organizations/acme/issues/{issue_id}/", {"assignedTo": "team:3"}, "issue.assigned"),
        ("PUT", f"organizations/acme/issues/{issue_id}/", {"assignedTo": "team:3"}, None),  # the same
        ("PUT", f"organizations/acme/issues/{issue_id}/", {"assignedTo": "user:nobody"}, None),  # a 400
        ("PUT", f"organizations/acme/issues/{issue_id}/", {"assignedTo": ""}, None),
    ]
    seen = []
    for method, path, payload, _ in steps:
        expected = 400 if payload.get("assignedTo") == "user:nobody" else 200
        assert api(emulator, method, path, json=payload).status_code == expected, payload
        seen = events_of(emulator)
    assert seen == [e for *_, e in steps if e]
    bodies = [json.loads(r["body"]) for r in emulator.webhooks.requests()]
    assert bodies[2]["data"]["resolution_type"] == "in_next_release"
    assert bodies[3]["data"]["assignee"] == {
        "type": "user",
        "name": user["name"],
        "email": user["email"],
        "id": int(user["id"]),
    }
    assert bodies[3]["data"]["issue"]["assignedTo"]["id"] == user["id"]
    assert bodies[4]["data"]["assignee"] == {"type": "team", "name": "platform-crew", "id": 3}
    assert emulator.issue(issue_id)["assignedTo"] is None


def test_given_comments_created_updated_and_deleted_then_one_webhook_each_and_the_list_follows(
    emulator, webhook_target
):
    issue_id = new_issue(emulator)
    emulator.webhooks.register(webhook_target.url, SECRET, ["comment"])

    note = api(
        emulator, "POST", f"organizations/acme/issues/{issue_id}/comments/", json={"text": "first"}
    ).json()
    again = api(emulator, "POST", f"issues/{issue_id}/comments/", json={"text": "first"})
    edited = api(emulator, "PUT", f"issues/{issue_id}/comments/{note['id']}/", json={"text": "edited"})
    listed = api(emulator, "GET", f"issues/{issue_id}/comments/").json()
    deleted = api(emulator, "DELETE", f"organizations/acme/issues/{issue_id}/comments/{note['id']}/")

    assert again.status_code == 400
    assert again.json() == {"detail": "You have already posted that comment."}
    assert edited.json()["data"]["text"] == "edited"
    assert [n["id"] for n in listed] == [note["id"]]
    assert deleted.status_code == 204
    assert api(emulator, "GET", f"issues/{issue_id}/comments/").json() == []
    bodies = [json.loads(r["body"]) for r in sent(emulator)]
    assert sorted((b["action"], b["data"]["comment"]) for b in bodies) == [
        ("created", "first"),
        ("deleted", "edited"),
        ("updated", "edited"),
    ]
    assert {b["data"]["comment_id"] for b in bodies} == {int(note["id"])}


def test_given_subscriptions_then_only_those_and_issue_archived_only_to_apps_naming_it(
    emulator, webhook_target
):
    issue_id = new_issue(emulator)
    comments_only = emulator.webhooks.register(webhook_target.url, SECRET, ["comment"])
    archived_only = emulator.webhooks.register(webhook_target.url, SECRET, ["issue.archived"])
    issues = emulator.webhooks.register(webhook_target.url, SECRET, ["issue"])

    emulator.set_issue_status(issue_id, "resolved")
    emulator.set_issue_status(issue_id, "ignored")
    api(emulator, "POST", f"issues/{issue_id}/comments/", json={"text": "why"})

    log = sent(emulator)
    assert [r["event_type"] for r in log if r["app"] == comments_only["slug"]] == ["comment.created"]
    assert [r["event_type"] for r in log if r["app"] == archived_only["slug"]] == ["issue.archived"]
    assert sorted(r["event_type"] for r in log if r["app"] == issues["slug"]) == [
        "issue.ignored",
        "issue.resolved",
    ]


def test_given_a_token_without_event_write_when_resolving_then_403_and_nothing_sent(emulator, webhook_target):
    issue_id = new_issue(emulator)
    emulator.webhooks.register(webhook_target.url, SECRET, ["issue"])
    token = emulator.make_token(scopes=["event:read"])

    r = api(emulator, "PUT", f"issues/{issue_id}/", token, json={"status": "resolved"})

    assert r.status_code == 403
    assert api(emulator, "PUT", "issues/99/", json={"status": "resolved"}).status_code == 404
    assert (
        api(emulator, "PUT", "organizations/acme/issues/?id=99", json={"status": "resolved"}).status_code
        == 204
    )
    assert sent(emulator) == []
    assert emulator.issue(issue_id)["status"] == "unresolved"
    assert api(emulator, "GET", f"issues/{issue_id}/", token).json() == emulator.issue(issue_id)
    assert api(emulator, "GET", f"organizations/acme/issues/{issue_id}/").json() == emulator.issue(issue_id)


def test_given_a_target_that_holds_its_answer_then_the_api_has_already_answered(emulator, webhook_target):
    issue_id = new_issue(emulator)
    emulator.webhooks.register(webhook_target.url, SECRET, ["issue"], timeout=5)
    webhook_target.hold.clear()

    r = api(emulator, "PUT", f"issues/{issue_id}/", json={"status": "ignored"})

    assert r.status_code == 200
    assert emulator.webhooks.requests() == []  # the delivery is still waiting for its answer
    webhook_target.hold.set()
    assert [e["status"] for e in sent(emulator)] == [200]


def test_given_a_published_app_and_5xx_then_retried_with_new_request_ids_and_the_same_body(
    emulator, webhook_target
):
    issue_id = new_issue(emulator)
    emulator.webhooks.register(webhook_target.url, SECRET, ["issue"], published=True, **FAST)
    webhook_target.answers = [503, 500]

    emulator.set_issue_status(issue_id, "resolved")

    log = sent(emulator)
    got = webhook_target.received
    assert [(e["status"], e["attempt"]) for e in log] == [(503, 1), (500, 2), (200, 3)]
    assert len({e["delivery_id"] for e in log}) == 1
    assert len({g.headers["Request-ID"] for g in got}) == 3
    assert len({g.body for g in got}) == 1
    assert len({g.headers["Sentry-Hook-Signature"] for g in got}) == 1
    assert got[1].at - got[0].at >= 0.05


def test_given_a_published_app_whose_target_always_fails_then_three_retries_and_no_more(
    emulator, webhook_target
):
    issue_id = new_issue(emulator)
    emulator.webhooks.register(webhook_target.url, SECRET, ["issue"], published=True, **FAST)
    webhook_target.answers = [502] * 10

    emulator.set_issue_status(issue_id, "resolved")

    assert [(e["status"], e["attempt"]) for e in sent(emulator)] == [(502, 1), (502, 2), (502, 3), (502, 4)]


def test_given_an_internal_app_and_5xx_then_no_retry(emulator, webhook_target):
    issue_id = new_issue(emulator)
    emulator.webhooks.register(webhook_target.url, SECRET, ["issue"], published=False, **FAST)
    webhook_target.answers = [503]

    emulator.set_issue_status(issue_id, "resolved")

    assert [(e["status"], e["attempt"]) for e in sent(emulator)] == [(503, 1)]
    assert len(webhook_target.received) == 1


def test_given_a_published_app_and_4xx_or_a_redirect_then_no_retry_and_the_redirect_not_followed(
    emulator, webhook_target
):
    first, second = new_issue(emulator), new_issue(emulator)
    emulator.webhooks.register(webhook_target.url, SECRET, ["issue.resolved"], published=True, **FAST)
    webhook_target.answers = [410]
    emulator.set_issue_status(first, "resolved")
    assert [e["status"] for e in sent(emulator)] == [410]
    webhook_target.answers = [("redirect", webhook_target.url.replace("/sentry/webhook", "/elsewhere"))]

    emulator.set_issue_status(second, "resolved")

    assert [e["status"] for e in sent(emulator)] == [410, 302]
    assert [g.path for g in webhook_target.received] == ["/sentry/webhook", "/sentry/webhook"]


def test_given_a_slow_target_then_the_try_is_a_timeout_logged_as_0_and_a_published_app_retries(
    emulator, webhook_target
):
    issue_id = new_issue(emulator)
    # A timeout well above what a loaded machine takes to answer at once, well below the slow answer.
    internal = emulator.webhooks.register(webhook_target.url, SECRET, ["issue"], timeout=0.5, **FAST)
    published = emulator.webhooks.register(
        webhook_target.url, SECRET, ["issue"], published=True, timeout=0.5, **FAST
    )
    webhook_target.answers = [("slow", 0.8), ("slow", 0.8)]

    emulator.set_issue_status(issue_id, "resolved")

    log = sent(emulator)
    assert [(e["status"], e["error"]) for e in log if e["app"] == internal["slug"]] == [(0, "timeout")]
    assert [(e["status"], e["error"], e["attempt"]) for e in log if e["app"] == published["slug"]] == [
        (0, "timeout", 1),
        (200, None, 2),
    ]


def test_given_nothing_listening_then_a_connection_error_logged_as_0(emulator):
    issue_id = new_issue(emulator)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    emulator.webhooks.register(f"http://127.0.0.1:{port}/hook", SECRET, ["issue"])

    emulator.set_issue_status(issue_id, "ignored")

    assert [(e["status"], e["error"]) for e in sent(emulator)] == [(0, "connection")]


def test_given_a_reorder_window_then_deliveries_arrive_out_of_order_and_none_is_lost(
    emulator, webhook_target
):
    made = [new_issue(emulator) for _ in range(8)]
    emulator.webhooks.register(webhook_target.url, SECRET, ["issue"], reorder_window=0.3)

    # One request makes the 8 deliveries at once, so how fast the API answers cannot order them.
    ids = "&".join(f"id={i}" for i in made)
    assert api(emulator, "PUT", f"organizations/acme/issues/?{ids}", json={"status": "resolved"}).ok

    log = sent(emulator)
    arrived = [json.loads(g.body)["data"]["issue"]["id"] for g in webhook_target.received]
    assert sorted(arrived) == sorted(made)
    wait = {json.loads(e["body"])["data"]["issue"]["id"]: e["wait"] for e in log}
    assert all(0 <= w < 0.3 for w in wait.values())
    by_wait = sorted(made, key=lambda issue_id: wait[issue_id])
    assert by_wait != made  # the draws put them out of the order they were made in
    # Deliveries whose waits are far apart arrive in the order of their waits.
    first, last = by_wait[0], by_wait[-1]
    assert wait[last] - wait[first] > 0.1
    assert arrived.index(first) < arrived.index(last)


def test_given_a_duplicate_rate_of_one_then_each_delivery_comes_twice_with_a_new_request_id(
    emulator, webhook_target
):
    issue_id = new_issue(emulator)
    emulator.webhooks.register(webhook_target.url, SECRET, ["issue"], duplicate_rate=1.0, **FAST)

    emulator.set_issue_status(issue_id, "ignored")

    log = sent(emulator)
    assert [(e["attempt"], e["duplicate"], e["status"]) for e in log] == [(1, False, 200), (2, True, 200)]
    first, second = webhook_target.received
    assert first.body == second.body
    assert first.headers["Sentry-Hook-Signature"] == second.headers["Sentry-Hook-Signature"]
    assert first.headers["Request-ID"] != second.headers["Request-ID"]


def test_given_the_control_api_then_apps_options_requests_and_drain_over_http(emulator, webhook_target):
    issue_id = new_issue(emulator)
    control = f"{emulator.base_url}/_emulator/"
    app = requests.post(
        control + "add_sentry_app",
        json={
            "webhook_url": webhook_target.url,
            "client_secret": SECRET,
            "resources": ["issue"],
            "published": True,
        },
        timeout=10,
    ).json()
    opts = requests.post(
        control + "webhook_options", json={"slug": app["slug"], "retry_delay": 0.05}, timeout=10
    )
    bad = requests.post(
        control + "add_sentry_app",
        json={"webhook_url": webhook_target.url, "client_secret": SECRET, "resources": ["issues"]},
        timeout=10,
    )
    unknown = requests.post(control + "webhook_requests", json={"slug": "nope"}, timeout=10)

    emulator.set_issue_status(issue_id, "resolved")

    assert requests.post(control + "drain_webhooks", json={"timeout": 10}, timeout=20).json() == {
        "drained": True
    }
    assert (app["status"], app["timeout"], app["retry_delay"]) == ("published", 1.0, 300.0)
    assert opts.json()["retry_delay"] == 0.05
    assert bad.status_code == 400
    assert "issues" in bad.json()["error"]
    assert unknown.status_code == 404
    log = requests.get(control + "webhook_requests", params={"slug": app["slug"]}, timeout=10).json()
    assert [(e["event_type"], e["status"]) for e in log] == [("issue.resolved", 200)]
    assert log[0]["request_id"] == webhook_target.received[0].headers["Request-ID"]
    assert requests.get(control + "sentry_apps", timeout=10).json() == [opts.json()]


def test_given_an_https_target_then_its_certificate_is_checked_against_the_ca_given(
    emulator, tls_webhook_target
):
    issue_id = new_issue(emulator)
    trusting = emulator.webhooks.register(
        tls_webhook_target.url, SECRET, ["issue"], ca_cert=tls_webhook_target.ca_cert
    )
    untrusting = emulator.webhooks.register(tls_webhook_target.url, SECRET, ["issue"])

    emulator.set_issue_status(issue_id, "resolved")

    log = sent(emulator)
    assert [e["status"] for e in log if e["app"] == trusting["slug"]] == [200]
    assert [(e["status"], e["error"]) for e in log if e["app"] == untrusting["slug"]] == [(0, "connection")]
    assert len(tls_webhook_target.received) == 1
