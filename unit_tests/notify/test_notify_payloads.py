from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from source_sentry.notify.payloads import (
    InputError,
    Notification,
    check_environment,
    check_name,
    check_url,
    check_version,
    deploy_window,
    format_time,
    parse_time,
    path_segment,
)
from unit_tests.notify.conftest import NOW


def notification(**fields) -> Notification:
    values = {
        "organization": "acme",
        "version": "1.2.3",
        "environment": "production",
        "projects": ("web", "api"),
        "date_finished": NOW,
    }
    values.update(fields)
    return Notification(**values)


@pytest.mark.parametrize(
    "version",
    [
        "1.2.3",
        "my-app@1.2.3+build.7",
        "v1 beta",
        "#42",
        "50%",
        "why?",
        "café-1",
        "a:b~c",
        "x" * 200,
        "LATEST-1",
    ],
)
def test_given_version_sentry_allows_when_checked_then_kept_unchanged(version: str):
    assert check_version(version) == version


@pytest.mark.parametrize(
    ("version", "fragment"),
    [
        ("", "empty"),
        ("   ", "empty"),
        (".", "reserves"),
        ("..", "reserves"),
        ("Latest", "reserves"),
        ("x" * 201, "201 characters"),
        ("a/b", "a slash"),
        ("a\\b", "a backslash"),
        ("a\rb", "carriage return"),
        ("a\nb", "line break"),
        ("a\tb", "a tab"),
        ("a\fb", "form feed"),
    ],
)
def test_given_version_sentry_refuses_when_checked_then_input_error_says_why(version: str, fragment: str):
    with pytest.raises(InputError, match=fragment):
        check_version(version)


@pytest.mark.parametrize(
    ("environment", "fragment"),
    [
        (None, "missing"),
        ("  ", "missing"),
        ("e" * 65, "65 characters"),
        ("prod/eu", "slash"),
        ("a\nb", "line"),
    ],
)
def test_given_environment_sentry_refuses_when_checked_then_input_error(environment, fragment):
    with pytest.raises(InputError, match=fragment):
        check_environment(environment)


def test_given_64_character_environment_and_name_when_checked_then_accepted():
    assert check_environment("e" * 64) == "e" * 64
    assert check_name("n" * 64) == "n" * 64


def test_given_long_name_or_odd_url_when_checked_then_input_error():
    with pytest.raises(InputError, match="65 characters"):
        check_name("n" * 65)
    with pytest.raises(InputError, match="not an http"):
        check_url("ci.example.com/build/1")


@pytest.mark.parametrize(
    ("version", "segment"),
    [
        ("1.2.3+build.7", "1.2.3%2Bbuild.7"),
        ("release#42", "release%2342"),
        ("50%", "50%25"),
        ("why?", "why%3F"),
        ("v1 beta", "v1%20beta"),
        ("café", "caf%C3%A9"),
        ("app@1.2:3~rc", "app@1.2:3~rc"),
    ],
)
def test_given_version_with_special_characters_when_encoded_then_one_path_segment(version, segment):
    assert path_segment(version) == segment


def test_given_version_with_plus_and_hash_when_building_paths_then_encoded_once():
    n = notification(version="1.0+b#7")
    assert n.deploys_path == "organizations/acme/releases/1.0%2Bb%237/deploys/"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", NOW),
        ("NOW", NOW),
        ("1714557600", datetime(2024, 5, 1, 10, 0, tzinfo=UTC)),
        ("1714557600.5", datetime(2024, 5, 1, 10, 0, 0, 500000, tzinfo=UTC)),
        ("2024-05-01T10:00:00Z", datetime(2024, 5, 1, 10, 0, tzinfo=UTC)),
        ("2024-05-01t10:00:00z", datetime(2024, 5, 1, 10, 0, tzinfo=UTC)),
        ("2024-05-01T12:00:00+02:00", datetime(2024, 5, 1, 10, 0, tzinfo=UTC)),
        ("2024-05-01T10:00:00.250Z", datetime(2024, 5, 1, 10, 0, 0, 250000, tzinfo=UTC)),
    ],
)
def test_given_time_in_any_accepted_form_when_parsed_then_utc_instant(text, expected):
    parsed = parse_time(text, now=NOW, flag="--started")
    assert parsed == expected
    assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("2024-05-01T10:00:00", "no UTC offset"),
        ("yesterday", "not a time"),
        ("-5", "positive"),
        ("nan", "positive"),
    ],
)
def test_given_unusable_time_when_parsed_then_input_error_names_flag(text, fragment):
    with pytest.raises(InputError, match=f"--finished .*{fragment}"):
        parse_time(text, now=NOW, flag="--finished")


def test_given_only_duration_when_windowing_then_ends_now_and_starts_duration_ago():
    assert deploy_window(started=None, finished=None, duration="90", now=NOW) == (
        NOW - timedelta(seconds=90),
        NOW,
    )


def test_given_start_and_duration_when_windowing_then_ends_duration_after_start():
    start, end = deploy_window(started="2024-05-01T09:00:00Z", finished=None, duration="120", now=NOW)
    assert (format_time(start), format_time(end)) == ("2024-05-01T09:00:00Z", "2024-05-01T09:02:00Z")


def test_given_no_time_flags_when_windowing_then_no_start_and_finished_now():
    assert deploy_window(started=None, finished=None, duration=None, now=NOW) == (None, NOW)


@pytest.mark.parametrize(
    ("flags", "fragment"),
    [
        ({"started": "2024-05-01T11:00:00Z", "finished": "2024-05-01T10:00:00Z"}, "before it starts"),
        ({"finished": "now", "duration": "5"}, "either --finished or --time"),
        ({"duration": "1.5"}, "whole seconds"),
        ({"duration": "-1"}, "negative"),
    ],
)
def test_given_contradictory_time_flags_when_windowing_then_input_error(flags, fragment):
    values = {"started": None, "finished": None, "duration": None, **flags}
    with pytest.raises(InputError, match=fragment):
        deploy_window(now=NOW, **values)


def test_given_fractional_second_when_formatted_then_kept_else_whole_seconds():
    assert format_time(NOW) == "2024-05-01T10:00:00Z"
    assert format_time(NOW.replace(microsecond=1500)) == "2024-05-01T10:00:00.001500Z"


def test_given_all_fields_when_building_deploy_body_then_api_names_and_explicit_projects():
    n = notification(
        name="deploy #9", url="https://ci.example.com/9", date_started=NOW - timedelta(minutes=5)
    )
    assert n.deploy_body() == {
        "environment": "production",
        "projects": ["web", "api"],
        "name": "deploy #9",
        "url": "https://ci.example.com/9",
        "dateStarted": "2024-05-01T09:55:00Z",
        "dateFinished": "2024-05-01T10:00:00Z",
    }


def test_given_no_name_url_or_start_when_building_deploy_body_then_those_fields_left_out():
    assert notification().deploy_body() == {
        "environment": "production",
        "projects": ["web", "api"],
        "dateFinished": "2024-05-01T10:00:00Z",
    }


def test_given_finalize_when_planning_then_date_sent_with_the_release_and_put_only_for_an_existing_one():
    plan = notification(finalize=True).planned_requests()
    assert [(r.method, r.path, r.only_if) for r in plan] == [
        ("POST", "organizations/acme/releases/", None),
        ("PUT", "organizations/acme/releases/1.2.3/", "if the release already existed"),
        ("POST", "organizations/acme/releases/1.2.3/deploys/", None),
    ]
    assert plan[0].body == {
        "version": "1.2.3",
        "projects": ["web", "api"],
        "dateReleased": "2024-05-01T10:00:00Z",
    }
    assert plan[1].body == {"dateReleased": "2024-05-01T10:00:00Z"}


def test_given_no_finalize_when_building_release_body_then_no_date_released():
    assert notification().release_body() == {"version": "1.2.3", "projects": ["web", "api"]}


@pytest.mark.parametrize(
    ("finalize", "answered", "done"),
    [
        (True, "2024-05-01T10:00:00.000000Z", True),
        (True, None, False),
        (True, "2024-04-01T10:00:00Z", False),
        (False, "2024-05-01T10:00:00Z", False),
    ],
)
def test_given_release_answer_when_asked_if_finalized_then_only_our_instant_counts(finalize, answered, done):
    assert notification(finalize=finalize).is_finalized_by({"dateReleased": answered}) is done


@pytest.mark.parametrize(
    ("listed", "matches"),
    [
        ({"dateFinished": "2024-05-01T10:00:00.000000Z"}, True),
        ({"dateFinished": "2024-05-01T10:00:00.000Z"}, True),
        ({"dateFinished": "2024-05-01T10:00:01Z"}, False),
        ({"environment": "staging", "dateFinished": "2024-05-01T10:00:00Z"}, False),
        ({"name": "other", "dateFinished": "2024-05-01T10:00:00Z"}, False),
        ({"dateStarted": "2024-05-01T09:00:00Z", "dateFinished": "2024-05-01T10:00:00Z"}, False),
    ],
)
def test_given_listed_deploy_when_compared_then_same_instants_match_whatever_digits(listed, matches):
    deploy = {"id": "1", "environment": "production", "name": None, "dateStarted": None, **listed}
    assert notification().is_this_deploy(deploy) is matches


@pytest.mark.parametrize(
    ("listed", "dropped"),
    [
        ([{"slug": "web", "id": "1"}, {"slug": "api", "id": "2"}], []),
        ([{"slug": "web", "id": "1"}], ["api"]),
        ([{"slug": "other", "id": "2"}], ["web", "api"]),
        ([], []),  # an answer without projects: nothing to compare
    ],
)
def test_given_the_servers_answer_when_compared_then_the_projects_it_dropped(listed, dropped) -> None:
    asked = notification(projects=("web", "api"))

    assert asked.dropped_projects({"version": "1.2.3", "projects": listed}) == dropped
    assert notification(projects=("2",)).dropped_projects({"projects": [{"slug": "api", "id": 2}]}) == []
