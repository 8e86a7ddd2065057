from __future__ import annotations

from source_sentry.webhooks.envelope import read_envelope
from tools.receiver import INSTALLATION, compact, issue_body


def test_given_issue_delivery_when_read_then_issue_project_installation_and_actor_are_named():
    env = read_envelope("issue", issue_body("resolved", "42", "resolved"))
    assert (env.action, env.issue_id, env.project_id, env.project_slug) == ("resolved", "42", "11", "backend")
    assert env.installation_uuid == INSTALLATION
    assert env.actor == {"type": "user", "id": 1, "name": "Ada"}
    assert env.subject == "issue:42"
    assert not env.parse_error


def test_given_error_created_when_read_then_the_event_is_the_subject_and_its_issue_is_named():
    body = compact(
        {
            "action": "created",
            "installation": {"uuid": INSTALLATION},
            "data": {"error": {"event_id": "ab" * 16, "issue_id": "42", "project": 11}},
            "actor": {"type": "application", "id": "sentry", "name": "Sentry"},
        }
    )
    env = read_envelope("error", body)
    assert (env.event_id, env.issue_id, env.project_id) == ("ab" * 16, "42", "11")
    assert env.subject == f"error:{'ab' * 16}"


def test_given_comment_when_read_then_comment_issue_and_project_slug_are_named():
    body = compact(
        {
            "action": "created",
            "installation": {"uuid": INSTALLATION},
            "data": {"comment_id": 7, "issue_id": 42, "project_slug": "backend", "comment": "hi"},
            "actor": {"type": "user", "id": 1, "name": "Ada"},
        }
    )
    env = read_envelope("comment", body)
    assert (env.comment_id, env.issue_id, env.project_slug, env.subject) == (
        "7",
        "42",
        "backend",
        "comment:7",
    )


def test_given_body_that_is_not_json_when_read_then_flagged_and_its_own_subject():
    env = read_envelope("issue", b"\xff\xfe not json")
    assert env.parse_error
    assert env.action is None
    assert env.subject.startswith("body:")
    assert read_envelope("issue", b"[1,2]").parse_error


def test_given_unknown_resource_when_read_then_kept_with_the_body_as_subject():
    body = compact({"action": "triggered", "installation": {"uuid": INSTALLATION}, "data": {"x": 1}})
    env = read_envelope("seer", body)
    assert (env.resource, env.action, env.parse_error) == ("seer", "triggered", False)
    assert env.subject == read_envelope("seer", body).subject != read_envelope("seer", body + b" ").subject


def test_given_surrogate_big_integer_or_nan_when_read_then_read_exactly_not_flagged():
    # A lone surrogate escape, NaN and an integer past 64 bits are JSON Python's json module reads;
    # such a body is a readable delivery, not a parse error, and the integer stays exact (a faster
    # parser tried here read it as a float).
    for actor_id, expected in (('"\\ud800"', "\ud800"), ("123456789012345678901234567890", None)):
        body = (
            '{"action":"resolved","installation":{"uuid":"u"},"data":{"issue":{"id":"42"}},'
            f'"actor":{{"type":"user","id":{actor_id},"name":"Ada"}}}}'
        ).encode("ascii")
        env = read_envelope("issue", body)
        assert not env.parse_error
        assert (env.action, env.issue_id, env.subject) == ("resolved", "42", "issue:42")
        assert env.actor is not None
        assert env.actor["id"] == (expected if expected is not None else 123456789012345678901234567890)
    env = read_envelope("issue", b'{"action":"resolved","data":{"issue":{"id":"7","level":NaN}}}')
    assert (env.parse_error, env.issue_id) == (False, "7")
