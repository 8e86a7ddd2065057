from __future__ import annotations

from source_sentry.state import sanitize_state, stream_cursors


def message(stream: str, blob) -> dict:
    return {"type": "STREAM", "stream": {"stream_descriptor": {"name": stream}, "stream_state": blob}}


GOOD_EVENTS = {
    "states": [
        {
            "partition": {"parent_slice": {}, "project_id": "11"},
            "cursor": {"dateReceived": "2024-05-01T00:00:00.000000Z"},
        }
    ],
    "state": {"dateReceived": "2024-05-01T00:00:00.000000Z"},
    "use_global_cursor": False,
    "lookback_window": 0,
}


def test_given_manifest_then_cursor_fields_and_partitioning_are_read_from_it() -> None:
    assert stream_cursors()["events"] == ("dateReceived", True)
    assert stream_cursors()["issues"] == ("lastSeen", True)
    assert stream_cursors()["releases"] == ("dateCreated", False)


def test_given_own_state_when_sanitized_then_kept_without_the_global_cursor() -> None:
    clean, warnings = sanitize_state(
        [message("events", GOOD_EVENTS), message("releases", {"dateCreated": "2024-01-01T00:00:00Z"})]
    )

    assert warnings == []
    assert clean[0]["stream"]["stream_state"] == {k: v for k, v in GOOD_EVENTS.items() if k != "state"}
    assert clean[1]["stream"]["stream_state"] == {"dateCreated": "2024-01-01T00:00:00Z"}


def test_given_official_connector_state_when_sanitized_then_dropped_with_a_warning_naming_the_stream() -> (
    None
):
    clean, warnings = sanitize_state([message("events", {"dateCreated": "2024-01-01T00:00:00Z"})])

    assert clean == []
    assert len(warnings) == 1
    assert "`events`" in warnings[0]
    assert "dateCreated" in warnings[0]


def test_given_unparseable_cursor_when_sanitized_then_dropped() -> None:
    clean, warnings = sanitize_state([message("releases", {"dateCreated": "yesterday"})])

    assert clean == []
    assert "'yesterday'" in warnings[0]


def test_given_legacy_map_state_when_sanitized_then_converted_to_stream_messages() -> None:
    clean, warnings = sanitize_state(
        {"releases": {"dateCreated": "2024-01-01T00:00:00Z"}, "issues": "garbage"}
    )

    assert [m["stream"]["stream_descriptor"]["name"] for m in clean] == ["releases"]
    assert len(warnings) == 1


def test_given_not_a_state_at_all_when_sanitized_then_everything_starts_over() -> None:
    clean, warnings = sanitize_state("nonsense")

    assert clean == []
    assert warnings


def issues_entry(project_id: str, period: str, last_seen: str) -> dict:
    partition = {"parent_slice": {}, "project_id": project_id, "status_period": period}
    return {"partition": partition, "cursor": {"lastSeen": last_seen}}


def test_given_issue_states_of_several_status_periods_when_sanitized_then_each_project_keeps_its_newest() -> (
    None
):
    blob = {
        "states": [
            issues_entry("11", "2024-05-30T00:00:00Z", "2024-05-30T08:00:00.000000Z"),
            issues_entry("11", "2024-05-31T00:00:00Z", "2024-05-31T08:00:00.000000Z"),
            issues_entry("12", "2024-05-30T00:00:00Z", "2024-05-29T08:00:00.000000Z"),
        ],
        "state": {"lastSeen": "2024-05-31T08:00:00.000000Z"},
        "use_global_cursor": False,
    }

    clean, warnings = sanitize_state([message("issues", blob)])

    assert warnings == []
    assert clean[0]["stream"]["stream_state"] == {
        "states": [
            issues_entry("11", "2024-05-31T00:00:00Z", "2024-05-31T08:00:00.000000Z"),
            issues_entry("12", "2024-05-30T00:00:00Z", "2024-05-29T08:00:00.000000Z"),
        ],
        "use_global_cursor": False,
    }


def test_given_feed_seq_states_when_sanitized_then_a_whole_seq_is_kept_and_a_date_or_text_dropped() -> None:
    clean, warnings = sanitize_state(
        [
            message("webhook_deliveries", {"seq": 42}),
            message("webhook_deliveries", {"seq": "2024-01-01T00:00:00Z"}),
            message("webhook_deliveries", {"dateCreated": "2024-01-01T00:00:00Z"}),
        ]
    )

    assert [m["stream"]["stream_state"] for m in clean] == [{"seq": 42}]
    assert len(warnings) == 2
    assert "is not a whole number" in warnings[0]
    assert "no `seq` cursor" in warnings[1]


def test_given_an_issues_feed_position_when_sanitized_then_a_whole_seq_is_kept_else_dropped() -> None:
    entry = issues_entry("11", "2024-05-31T00:00:00Z", "2024-05-31T08:00:00.000000Z")
    kept = {"states": [entry], "use_global_cursor": False, "webhook_feed_after": 7}
    clean, warnings = sanitize_state(
        [message("issues", kept), message("issues", {**kept, "webhook_feed_after": "7"})]
    )

    assert [m["stream"]["stream_state"] for m in clean] == [kept]
    assert len(warnings) == 1
    assert "`webhook_feed_after` value '7' is not a whole number" in warnings[0]
