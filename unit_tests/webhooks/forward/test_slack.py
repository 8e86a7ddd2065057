"""A slack target gets one readable message: title, project, level, event count, status, link."""

from __future__ import annotations

import json

from source_sentry.webhooks.forward.slack import message


def test_given_an_issue_delivery_when_formatted_then_every_fact_and_the_link_are_in_the_message():
    body = json.dumps(
        {
            "action": "resolved",
            "data": {
                "issue": {
                    "id": "42",
                    "shortId": "BACKEND-42",
                    "title": "ZeroDivisionError: <division> & more",
                    "level": "error",
                    "count": "17",
                    "status": "resolved",
                    "project": {"id": "11", "slug": "backend"},
                    "web_url": "https://acme.sentry.io/issues/42/",
                }
            },
        }
    ).encode()
    sent = json.loads(message("issue", "resolved", body))
    assert sent["text"] == "Sentry issue.resolved: BACKEND-42: ZeroDivisionError: <division> & more"
    head, facts = (block for block in sent["blocks"])
    assert head["text"]["text"] == (
        "*<https://acme.sentry.io/issues/42/|BACKEND-42: ZeroDivisionError: &lt;division&gt; &amp; more>*\n"
        "_issue.resolved_"
    )
    assert [f["text"] for f in facts["fields"]] == [
        "*Project:* backend",
        "*Level:* error",
        "*Events:* 17",
        "*Status:* resolved",
    ]


def test_given_an_unreadable_body_when_formatted_then_still_a_message_naming_what_happened():
    sent = json.loads(message("issue", None, b"\xff"))
    assert sent["text"] == "Sentry issue.None: issue.None"
    assert len(sent["blocks"]) == 1
