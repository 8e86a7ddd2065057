"""Unit tests of the Sentry emulator's own rules (what BEHAVIOUR.md says Sentry does)."""

from __future__ import annotations

import json
import re
import signal
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
import requests

from sentry_emulator import Emulator
from sentry_emulator.faults import parse as parse_faults
from sentry_emulator.timeutil import fmt, parse_iso

FORBIDDEN = {"detail": "You do not have permission to perform this action."}
LINK_RE = re.compile(r'<([^>]*)>; rel="(previous|next)"; results="(true|false)"; cursor="([^"]*)"')


def get(emu: Emulator, path: str, token: str | None = None, **params) -> requests.Response:
    headers = {} if token == "" else {"Authorization": f"Bearer {token or emu.token}"}
    return requests.get(
        emu.base_url + "/api/0/" + path,
        params=params,
        headers=headers,
        timeout=10,
        verify=emu.ca_cert or True,  # an emulator started with tls=True: its own CA
    )


def send(emu: Emulator, method: str, path: str, body: dict, token: str | None = None) -> requests.Response:
    return requests.request(
        method,
        emu.base_url + "/api/0/" + path,
        json=body,
        headers={"Authorization": f"Bearer {token or emu.token}"},
        timeout=10,
    )


def links(resp: requests.Response) -> dict[str, tuple[str, bool, str]]:
    found = LINK_RE.findall(resp.headers["Link"])
    assert [rel for _, rel, _, _ in found] == ["previous", "next"]
    return {rel: (url, res == "true", cur) for url, rel, res, cur in found}


def follow(emu: Emulator, path: str, **params) -> tuple[list[dict], list[requests.Response]]:
    """Walk next links until results="false"; never stops on a short page."""
    resp = get(emu, path, **params)
    items, pages = [], []
    while True:
        assert resp.status_code == 200, resp.text
        items.extend(resp.json())
        pages.append(resp)
        url, more, _ = links(resp)["next"]
        if not more:
            return items, pages
        resp = requests.get(url, headers={"Authorization": f"Bearer {emu.token}"}, timeout=10)


def events_path(emu: Emulator, k: int = 0) -> str:
    return f"projects/{emu.organization}/{emu.project_slugs[k]}/events/"


def org_path(emu: Emulator, tail: str) -> str:
    return f"organizations/{emu.organization}/{tail}"


# ---------------------------------------------------------------- pagination
def test_link_header_lists_previous_then_next_with_cursor_replaced_and_absolute_url(emulator):
    resp = get(emulator, events_path(emulator), per_page=2, cursor="0:4:0")
    base = f"{emulator.base_url}/api/0/{events_path(emulator)}"
    assert resp.headers["Link"] == (
        f'<{base}?per_page=2&cursor=0:2:1>; rel="previous"; results="true"; cursor="0:2:1", '
        f'<{base}?per_page=2&cursor=0:6:0>; rel="next"; results="true"; cursor="0:6:0"'
    )


def test_link_header_on_first_page_without_query_has_question_mark_ampersand_and_no_previous(emulator):
    resp = get(emulator, org_path(emulator, "projects/"))
    base = f"{emulator.base_url}/api/0/{org_path(emulator, 'projects/')}"
    assert resp.headers["Link"].startswith(f'<{base}?&cursor=0:0:1>; rel="previous"; results="false"')
    assert links(resp)["next"][1] is False


def test_following_event_links_returns_every_event_once_newest_first(emulator):
    items, pages = follow(emulator, events_path(emulator, 1), per_page=7)
    assert items == emulator.ground_truth("events", [emulator.project_slugs[1]])
    assert len({e["id"] for e in items}) == len(items) > 7
    stamps = [parse_iso(e["dateCreated"]) for e in items]
    assert stamps == sorted(stamps, reverse=True)


def test_per_page_above_100_is_400_with_sentry_message(emulator):
    resp = get(emulator, events_path(emulator), per_page=101)
    assert resp.status_code == 400
    assert resp.json() == {"detail": "Invalid per_page value. Cannot exceed 100."}


def test_events_offset_at_or_above_the_limit_is_400_as_sentrys_paginators_answer(make_emulator):
    emu = make_emulator(event_offset_limit=100)

    allowed = get(emu, events_path(emu), cursor="0:99:0")
    refused = [get(emu, events_path(emu), cursor=cursor) for cursor in ("0:100:0", "0:200:0")]

    assert allowed.status_code == 200
    assert [r.status_code for r in refused] == [400, 400]
    assert [r.json() for r in refused] == [{"detail": "Pagination offset too large"}] * 2


@pytest.mark.parametrize("cursor", ["abc", "0:100", "0:100:0:1", "0:x:0", "0:-5:0", "a:1:0"])
def test_malformed_cursor_is_400_invalid_cursor_parameter(emulator, cursor):
    resp = get(emulator, events_path(emulator), cursor=cursor)
    assert resp.status_code == 400
    assert resp.json() == {"detail": "Invalid cursor parameter."}


def test_issue_limit_above_100_is_clamped_not_rejected(make_emulator):
    emu = make_emulator(events=1500, issues=130, short_pages=0)
    truth = emu.ground_truth("issues")
    assert len(truth) > 100
    resp = get(emu, org_path(emu, "issues/"), limit=500, query="", statsPeriod="90d")
    assert resp.status_code == 200
    assert [i["id"] for i in resp.json()] == [i["id"] for i in truth[:100]]
    assert links(resp)["next"][1] is True


# ---------------------------------------------------------------- events
def test_events_start_is_inclusive_and_end_exclusive_on_date_created(emulator):
    events = emulator.ground_truth("events", [emulator.project_slugs[0]])
    pivot = events[len(events) // 2]["dateCreated"]
    with_start = get(emulator, events_path(emulator), start=pivot, end="2100-01-01T00:00:00").json()
    with_end = get(emulator, events_path(emulator), start="2000-01-01T00:00:00", end=pivot).json()
    assert with_start[-1]["dateCreated"] == pivot
    assert all(parse_iso(e["dateCreated"]) < parse_iso(pivot) for e in with_end)
    assert len(with_start) + len(with_end) == len(events)


def test_naive_and_fractional_start_values_are_read_as_the_same_utc_instant(emulator):
    events = emulator.ground_truth("events", [emulator.project_slugs[0]])
    pivot_us = parse_iso(events[40]["dateCreated"]) - (parse_iso(events[40]["dateCreated"]) % 1_000_000)
    forms = [
        fmt(pivot_us, 0),
        fmt(pivot_us, 3),
        fmt(pivot_us, 6),
        fmt(pivot_us, 0).rstrip("Z"),
        fmt(pivot_us, 6).replace("Z", "+00:00"),
    ]
    counts = {len(get(emulator, events_path(emulator), start=f, end="2100-01-01").json()) for f in forms}
    assert counts == {sum(1 for e in events if parse_iso(e["dateCreated"]) >= pivot_us)}


def test_start_without_end_is_400(emulator):
    resp = get(emulator, events_path(emulator), start="2024-01-01T00:00:00")
    assert resp.status_code == 400
    assert resp.json() == {"detail": "start and end are both required"}


def test_stats_period_overrides_start_and_end(emulator):
    resp = get(emulator, events_path(emulator), statsPeriod="1d", start="2000-01-01", end="2000-01-02")
    assert resp.status_code == 200
    assert resp.json()
    day_ago = datetime.now(UTC) - timedelta(days=1, minutes=1)
    assert all(datetime.fromisoformat(e["dateCreated"]) >= day_ago for e in resp.json())


@pytest.mark.parametrize(
    ("value", "full"), [("1", True), ("true", True), ("false", True), ("0", True), ("", False)]
)
def test_full_is_on_for_any_non_empty_value(emulator, value, full):
    ev = get(emulator, events_path(emulator), full=value, per_page=1).json()[0]
    assert ("entries" in ev) is full
    assert ("dateReceived" in ev) is full
    assert ("event.type" in ev) is not full


def test_event_dates_mix_0_3_and_6_fraction_digits_and_received_is_not_before_created(emulator):
    events = emulator.ground_truth("events", full=True)
    matches = [re.search(r"\d\d:\d\d:\d\d(?:\.(\d+))?Z$", e["dateCreated"]) for e in events]
    assert all(matches)
    digits = {len(m.group(1)) if m.group(1) else 0 for m in matches if m}
    assert digits == {0, 3, 6}
    assert all(parse_iso(e["dateReceived"]) >= parse_iso(e["dateCreated"]) for e in events)
    assert all(re.fullmatch(r"[0-9a-f]{32}", e["id"]) for e in events)


def test_sample_returns_the_same_events_in_a_different_deterministic_order(emulator):
    plain = get(emulator, events_path(emulator), per_page=100).json()
    sample1 = get(emulator, events_path(emulator), sample="1", per_page=100).json()
    sample2 = get(emulator, events_path(emulator), sample="1", per_page=100).json()
    assert sample1 == sample2
    assert [e["id"] for e in sample1] != [e["id"] for e in plain]


def test_late_event_has_old_date_created_recent_date_received_and_lands_in_its_time_window(emulator):
    slug = emulator.project_slugs[0]
    late = emulator.add_events(slug, 1, late_by=timedelta(days=3))[0]
    created, received = parse_iso(late["dateCreated"]), parse_iso(late["dateReceived"])
    assert received - created > 3 * 86_400 * 1_000_000 - 5_000_000
    window = get(
        emulator, events_path(emulator), start=fmt(created - 1_000_000), end=fmt(created + 1_000_000)
    )
    assert late["id"] in {e["id"] for e in window.json()}
    assert late["id"] not in {e["id"] for e in get(emulator, events_path(emulator), statsPeriod="1h").json()}


def recent_issues(emu: Emulator) -> list[dict]:
    return get(emu, org_path(emu, "issues/"), statsPeriod="1h", query="").json()


def test_event_with_processing_delay_is_in_no_list_until_the_delay_is_over(emulator):
    slug = emulator.project_slugs[0]
    pending = emulator.add_events(slug, 1, visible_after=0.6)[0]
    visible = emulator.add_events(slug, 1)[0]
    issue_ids = {
        i["id"] for i in get(emulator, org_path(emulator, "issues/"), statsPeriod="1h", query="").json()
    }

    recent = {e["id"] for e in get(emulator, events_path(emulator), statsPeriod="1h").json()}

    assert visible["id"] in recent
    assert pending["id"] not in recent
    assert pending["groupID"] not in issue_ids
    assert parse_iso(pending["dateReceived"]) < parse_iso(visible["dateReceived"])
    time.sleep(0.7)
    recent = {e["id"] for e in get(emulator, events_path(emulator), statsPeriod="1h").json()}
    issue_ids = {
        i["id"] for i in get(emulator, org_path(emulator, "issues/"), statsPeriod="1h", query="").json()
    }
    assert pending["id"] in recent
    assert pending["groupID"] in issue_ids


def test_event_from_a_clock_ahead_keeps_its_future_date_up_to_a_minute(emulator):
    slug = emulator.project_slugs[0]
    ahead = emulator.add_events(slug, 1, ahead_by=40)[0]
    far_ahead = emulator.add_events(slug, 1, ahead_by=600)[0]

    gap = parse_iso(ahead["dateCreated"]) - parse_iso(ahead["dateReceived"])
    far_gap = parse_iso(far_ahead["dateCreated"]) - parse_iso(far_ahead["dateReceived"])

    assert 39_000_000 <= gap <= 40_000_000
    assert -1_000_000 <= far_gap <= 0
    up_to_now = {e["id"] for e in get(emulator, events_path(emulator), statsPeriod="1h").json()}
    assert ahead["id"] not in up_to_now
    assert far_ahead["id"] in up_to_now


def test_added_events_interleave_with_generated_ones_in_paging(emulator):
    slug = emulator.project_slugs[2]
    emulator.add_events(slug, 3, late_by=timedelta(days=10))
    emulator.add_events(slug, 2)
    items, _ = follow(emulator, events_path(emulator, 2), per_page=9)
    assert items == emulator.ground_truth("events", [slug])
    stamps = [parse_iso(e["dateCreated"]) for e in items]
    assert stamps == sorted(stamps, reverse=True)


# ---------------------------------------------------------------- issues
def test_org_issues_default_query_is_unresolved_and_empty_query_returns_all_statuses(emulator):
    default = get(emulator, org_path(emulator, "issues/"), statsPeriod="90d").json()
    everything = get(emulator, org_path(emulator, "issues/"), statsPeriod="90d", query="").json()
    assert {i["status"] for i in default} == {"unresolved"}
    assert {i["status"] for i in everything} > {"unresolved"}


def test_org_issues_by_group_ids_return_exactly_those_of_every_status_ignoring_query_and_dates(
    make_emulator,
):
    emu = make_emulator(span_days=60)
    truth = {i["id"]: i for i in get(emu, org_path(emu, "issues/"), statsPeriod="90d", query="").json()}
    old = sorted(truth, key=lambda i: truth[i]["lastSeen"])[0]  # outside the default 14 days
    resolved = next(i for i in truth if truth[i]["status"] == "resolved")
    unresolved = next(i for i in truth if truth[i]["status"] == "unresolved")
    wanted = {old, resolved, unresolved}
    resp = get(
        emu,
        org_path(emu, "issues/") + "?" + "&".join(f"group={i}" for i in [*wanted, "99999999"]),
        query="is:unresolved",
        limit="1",
    )
    assert resp.status_code == 200
    assert {i["id"] for i in resp.json()} == wanted
    assert "Link" not in resp.headers
    assert {i["id"]: i["status"] for i in resp.json()} == {i: truth[i]["status"] for i in wanted}


def test_org_issues_by_group_ids_keep_to_the_requested_projects_and_refuse_non_integers(emulator):
    truth = get(emulator, org_path(emulator, "issues/"), statsPeriod="90d", query="").json()
    first = next(i for i in truth if i["project"]["slug"] == emulator.project_slugs[0])
    other = next(i for i in truth if i["project"]["slug"] != emulator.project_slugs[0])
    path = org_path(emulator, "issues/") + f"?group={first['id']}&group={other['id']}"
    scoped = get(emulator, path, project=first["project"]["id"]).json()
    bad = get(emulator, org_path(emulator, "issues/") + "?group=abc")
    assert [i["id"] for i in scoped] == [first["id"]]
    assert bad.status_code == 400
    assert bad.json() == {"detail": "Group ids must be integers"}


def test_org_issues_without_dates_apply_a_14_day_window(make_emulator):
    emu = make_emulator(span_days=60, short_pages=0)
    default, _ = follow(emu, org_path(emu, "issues/"), query="")
    wide, _ = follow(emu, org_path(emu, "issues/"), query="", statsPeriod="90d")
    cutoff = datetime.now(UTC) - timedelta(days=14, minutes=1)
    assert len(default) < len(wide)
    assert all(datetime.fromisoformat(i["lastSeen"]) >= cutoff for i in default)


@pytest.mark.parametrize(
    ("op", "check"),
    [
        (">", lambda a, b: a > b),
        (">=", lambda a, b: a >= b),
        ("<", lambda a, b: a < b),
        ("<=", lambda a, b: a <= b),
    ],
)
def test_last_seen_search_operators_compare_instants(emulator, op, check):
    truth = emulator.ground_truth("issues")
    pivot = truth[len(truth) // 2]["lastSeen"]
    bare = pivot.rstrip("Z")
    resp = get(emulator, org_path(emulator, "issues/"), query=f"lastSeen:{op}{bare}", statsPeriod="90d")
    got = {i["id"] for i in resp.json()}
    want = {i["id"] for i in truth if check(parse_iso(i["lastSeen"]), parse_iso(pivot))}
    assert resp.status_code == 200
    assert got == want


def test_search_terms_are_anded(emulator):
    truth = emulator.ground_truth("issues")
    pivot = truth[len(truth) // 3]["firstSeen"]
    resp = get(
        emulator, org_path(emulator, "issues/"), query=f"is:resolved firstSeen:>={pivot}", statsPeriod="90d"
    )
    want = {
        i["id"] for i in truth if i["status"] == "resolved" and parse_iso(i["firstSeen"]) >= parse_iso(pivot)
    }
    assert {i["id"] for i in resp.json()} == want


def test_search_with_invalid_date_is_400(emulator):
    resp = get(emulator, org_path(emulator, "issues/"), query="lastSeen:>yesterday-ish")
    assert resp.status_code == 400
    assert resp.json() == {"detail": "Invalid date: yesterday-ish"}


def test_issue_start_end_keep_issues_overlapping_the_window(emulator):
    truth = emulator.ground_truth("issues")
    start, end = truth[-1]["lastSeen"], truth[0]["firstSeen"]
    resp = get(emulator, org_path(emulator, "issues/"), query="", start=start, end=end)
    want = {
        i["id"]
        for i in truth
        if parse_iso(i["lastSeen"]) >= parse_iso(start) and parse_iso(i["firstSeen"]) < parse_iso(end)
    }
    assert {i["id"] for i in resp.json()} == want


def test_issue_pages_can_be_short_or_empty_with_more_results_and_paging_still_returns_all(make_emulator):
    emu = make_emulator(short_pages=2, issues=40, events=600)
    items, pages = follow(emu, org_path(emu, "issues/"), query="", statsPeriod="90d", limit=4)
    assert sorted(i["id"] for i in items) == sorted(i["id"] for i in emu.ground_truth("issues"))
    assert len({i["id"] for i in items}) == len(items)
    short = [p for p in pages if len(p.json()) < 4 and links(p)["next"][1]]
    assert short, "expected at least one short page with results=true"


@pytest.mark.parametrize("sort", ["date", "new", "freq", "user"])
def test_issue_sorts_page_through_all_issues_in_order(make_emulator, sort):
    emu = make_emulator(short_pages=0)
    items, _ = follow(emu, org_path(emu, "issues/"), query="", statsPeriod="90d", limit=5, sort=sort)
    field = {"date": "lastSeen", "new": "firstSeen", "freq": "count", "user": "userCount"}[sort]
    keys = [parse_iso(i[field]) if "Seen" in field else int(i[field]) for i in items]
    assert keys == sorted(keys, reverse=True)
    assert len(items) == len(emu.ground_truth("issues"))


def test_issue_previous_cursor_returns_the_previous_page(make_emulator):
    emu = make_emulator(short_pages=0)
    first = get(emu, org_path(emu, "issues/"), query="", statsPeriod="90d", limit=5)
    second = requests.get(
        links(first)["next"][0], headers={"Authorization": f"Bearer {emu.token}"}, timeout=5
    )
    back = requests.get(
        links(second)["previous"][0], headers={"Authorization": f"Bearer {emu.token}"}, timeout=5
    )
    assert [i["id"] for i in back.json()] == [i["id"] for i in first.json()]


def test_project_param_minus_one_means_all_and_inaccessible_project_is_403(emulator):
    everything = get(
        emulator, org_path(emulator, "issues/"), query="", statsPeriod="90d", project="-1"
    ).json()
    one_id = emulator.ground_truth("projects")[0]["id"]
    only_one = get(
        emulator, org_path(emulator, "issues/"), query="", statsPeriod="90d", project=one_id
    ).json()
    assert {i["id"] for i in only_one} == {i["id"] for i in emulator.ground_truth("issues", [one_id])}
    assert {i["id"] for i in everything} == {i["id"] for i in emulator.ground_truth("issues")}
    unknown = get(emulator, org_path(emulator, "issues/"), project="999")
    assert (unknown.status_code, unknown.json()) == (403, FORBIDDEN)
    slug = get(emulator, org_path(emulator, "issues/"), project="billing")
    assert (slug.status_code, slug.json()) == (
        400,
        {"detail": "Invalid project parameter. Values must be numbers."},
    )


def test_status_change_does_not_move_last_seen_but_a_new_event_does(emulator):
    issue = next(i for i in emulator.ground_truth("issues") if i["status"] == "unresolved")
    after = emulator.resolve_issue(issue["id"])
    assert after["status"] == "resolved"
    assert after["lastSeen"] == issue["lastSeen"]
    emulator.add_events(issue["project"]["slug"], 2, issue_id=issue["id"])
    moved = emulator.issue(issue["id"])
    assert parse_iso(moved["lastSeen"]) > parse_iso(issue["lastSeen"])
    assert moved["count"] == str(int(issue["count"]) + 2)
    assert isinstance(moved["userCount"], int)
    assert moved["status"] == "unresolved"  # regression


def test_project_issues_endpoint_defaults_to_unresolved_and_has_project_shape(emulator):
    slug = emulator.project_slugs[0]
    resp = get(emulator, f"projects/{emulator.organization}/{slug}/issues/")
    assert resp.status_code == 200
    assert resp.json()
    assert {i["status"] for i in resp.json()} == {"unresolved"}
    assert set(resp.json()[0]["project"]) == {"id", "name", "slug"}


# ---------------------------------------------------------------- releases and deploys
def test_release_create_is_201_then_208_then_201_when_a_project_is_linked(emulator):
    a, b = emulator.project_slugs[:2]
    path = org_path(emulator, "releases/")
    first = send(emulator, "POST", path, {"version": "app@9.9.9", "projects": [a]})
    again = send(emulator, "POST", path, {"version": "app@9.9.9", "projects": [a], "ref": "ignored"})
    linked = send(emulator, "POST", path, {"version": "app@9.9.9", "projects": [a, b]})
    assert (first.status_code, again.status_code, linked.status_code) == (201, 208, 201)
    assert again.json()["version"] == "app@9.9.9"
    assert again.json()["ref"] is None
    assert {p["slug"] for p in linked.json()["projects"]} == {a, b}
    assert isinstance(first.json()["id"], int)
    assert first.json()["dateReleased"] is None


def test_release_create_with_unknown_project_is_400(emulator):
    resp = send(emulator, "POST", org_path(emulator, "releases/"), {"version": "v1", "projects": ["nope"]})
    assert resp.status_code == 400
    assert resp.json() == {"projects": ["Invalid project ids or slugs"]}


@pytest.mark.parametrize(
    ("version", "message"),
    [
        ("", "This field may not be blank."),
        ("   ", "This field may not be blank."),
        ("x" * 201, "Ensure this field has no more than 200 characters."),
        *((v, f"Release with name {v} is not allowed") for v in (".", "..", "latest", "LATEST")),
        *((v, f"Release with name {v} is not allowed") for v in ("a/b", "a\\b", "a\nb", "a\tb")),
    ],
)
def test_release_create_rejects_invalid_versions(emulator, version, message):
    resp = send(
        emulator,
        "POST",
        org_path(emulator, "releases/"),
        {"version": version, "projects": [emulator.project_slugs[0]]},
    )
    assert resp.status_code == 400
    assert resp.json() == {"version": [message]}


@pytest.mark.parametrize(
    "version", ["1.0 beta+build#7", "app@2.0.0+exp.sha?x=1:y", "100%-done~", "versión-ü"]
)
def test_unusual_versions_round_trip_through_a_percent_encoded_path_segment(emulator, version):
    created = send(
        emulator,
        "POST",
        org_path(emulator, "releases/"),
        {"version": version, "projects": [emulator.project_slugs[0]]},
    )
    assert created.status_code == 201
    fetched = get(emulator, org_path(emulator, f"releases/{quote(version, safe='')}/"))
    assert fetched.status_code == 200
    assert fetched.json()["version"] == version


def test_unencoded_hash_in_version_path_is_404(emulator):
    send(
        emulator,
        "POST",
        org_path(emulator, "releases/"),
        {"version": "v#1", "projects": [emulator.project_slugs[0]]},
    )
    resp = requests.get(
        f"{emulator.base_url}/api/0/{org_path(emulator, 'releases/v#1/deploys/')}",
        headers={"Authorization": f"Bearer {emulator.token}"},
        timeout=5,
    )
    # The client keeps "#1/deploys/" as a fragment: the server sees .../releases/v
    hint = f"/api/0/{org_path(emulator, 'releases/v/')}"
    assert resp.status_code == 404
    assert resp.json() == {"info": f"Route not found, did you forget a trailing slash? try: {hint}"}


def test_release_create_409_fault_still_creates_the_release(emulator):
    emulator.set_faults("release_create:409x1")
    body = {"version": "race@1", "projects": [emulator.project_slugs[0]]}
    raced = send(emulator, "POST", org_path(emulator, "releases/"), body)
    assert raced.status_code == 409
    assert raced.json() == {"detail": "Could not create the release it conflicts with existing data"}
    assert get(emulator, org_path(emulator, "releases/race@1/")).status_code == 200
    assert send(emulator, "POST", org_path(emulator, "releases/"), body).status_code == 208


def test_release_put_finalizes_and_list_is_newest_first(emulator):
    send(
        emulator,
        "POST",
        org_path(emulator, "releases/"),
        {"version": "fin@1", "projects": [emulator.project_slugs[0]]},
    )
    put = send(
        emulator, "PUT", org_path(emulator, "releases/fin@1/"), {"dateReleased": "2030-01-02T03:04:05Z"}
    )
    assert put.status_code == 200
    assert put.json()["dateReleased"] == "2030-01-02T03:04:05.000000Z"
    listed = get(emulator, org_path(emulator, "releases/")).json()
    assert listed[0]["version"] == "fin@1"
    stamps = [parse_iso(r["dateCreated"]) for r in listed]
    assert stamps == sorted(stamps, reverse=True)


def test_release_list_query_is_a_substring_and_project_filters(emulator):
    truth = emulator.ground_truth("releases")
    needle = truth[0]["version"][2:6]
    got = get(emulator, org_path(emulator, "releases/"), query=needle.upper()).json()
    assert got == [r for r in truth if needle.lower() in r["version"].lower()]
    assert truth[0] in got
    pid = emulator.ground_truth("projects")[1]["id"]
    got = get(emulator, org_path(emulator, "releases/"), project=pid).json()
    assert got == emulator.ground_truth("releases", [pid])


def test_deploy_post_is_not_idempotent_and_list_keeps_latest_per_project_and_environment(emulator):
    a, b = emulator.project_slugs[:2]
    send(emulator, "POST", org_path(emulator, "releases/"), {"version": "dep@1", "projects": [a, b]})
    path = org_path(emulator, "releases/dep@1/deploys/")
    d1 = send(emulator, "POST", path, {"environment": "prod", "projects": [a]}).json()
    d2 = send(emulator, "POST", path, {"environment": "prod", "projects": [a]}).json()
    d3 = send(emulator, "POST", path, {"environment": "prod", "projects": [b]}).json()
    d4 = send(emulator, "POST", path, {"environment": "staging", "projects": [a]}).json()
    assert len({d1["id"], d2["id"], d3["id"], d4["id"]}) == 4
    listed = [d["id"] for d in get(emulator, path).json()]
    assert listed == [d4["id"], d3["id"], d2["id"]]
    assert get(emulator, org_path(emulator, "releases/dep@1/")).json()["deployCount"] == 4


def test_deploy_without_projects_is_recorded_for_every_project_of_the_release(emulator):
    a, b = emulator.project_slugs[:2]
    send(emulator, "POST", org_path(emulator, "releases/"), {"version": "all@1", "projects": [a, b]})
    path = org_path(emulator, "releases/all@1/deploys/")
    every = send(emulator, "POST", path, {"environment": "prod"}).json()
    only_a = send(emulator, "POST", path, {"environment": "prod", "projects": [a]}).json()
    assert [d["id"] for d in get(emulator, path).json()] == [only_a["id"], every["id"]]


def test_deploy_for_project_outside_release_is_400_parameter_validation_error(emulator):
    a, b = emulator.project_slugs[:2]
    send(emulator, "POST", org_path(emulator, "releases/"), {"version": "one@1", "projects": [a]})
    resp = send(
        emulator,
        "POST",
        org_path(emulator, "releases/one@1/deploys/"),
        {"environment": "prod", "projects": [b]},
    )
    assert resp.status_code == 400
    assert resp.json() == {
        "detail": {
            "code": "parameter-validation-error",
            "message": f"Invalid projects for this release: {b}",
            "extra": None,
        }
    }


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (None, "This field is required."),
        ("", "This field may not be blank."),
        ("x" * 65, "Ensure this field has no more than 64 characters."),
        ("a/b", "Invalid value for environment"),
        ("a\nb", "Invalid value for environment"),
    ],
)
def test_deploy_environment_is_validated(emulator, env, message):
    send(
        emulator,
        "POST",
        org_path(emulator, "releases/"),
        {"version": "env@1", "projects": [emulator.project_slugs[0]]},
    )
    body = {} if env is None else {"environment": env}
    resp = send(emulator, "POST", org_path(emulator, "releases/env@1/deploys/"), body)
    assert resp.status_code == 400
    assert resp.json() == {"environment": [message]}


def test_deploy_for_unknown_release_is_404(emulator):
    resp = send(emulator, "POST", org_path(emulator, "releases/missing@0/deploys/"), {"environment": "prod"})
    assert resp.status_code == 404
    assert resp.json() == {"detail": "The requested resource does not exist"}


# ---------------------------------------------------------------- auth, scopes, routing
def test_missing_and_invalid_tokens_are_401_with_sentry_messages(emulator):
    missing = get(emulator, org_path(emulator, ""), token="")
    bad = get(emulator, org_path(emulator, ""), token="sntryu_nope")
    assert (missing.status_code, missing.json()) == (
        401,
        {"detail": "Authentication credentials were not provided."},
    )
    assert (bad.status_code, bad.json()) == (401, {"detail": "Invalid token"})


def test_scopes_gate_each_endpoint(emulator):
    org_token = emulator.make_token(kind="org")
    reader = emulator.make_token(scopes=["org:read", "project:read"])
    assert org_token.startswith("sntrys_")
    assert get(emulator, events_path(emulator), token=org_token).status_code == 403
    assert get(emulator, org_path(emulator, "releases/"), token=org_token).status_code == 200
    body = {"version": "ci@1", "projects": [emulator.project_slugs[0]]}
    assert send(emulator, "POST", org_path(emulator, "releases/"), body, token=org_token).status_code == 201
    assert get(emulator, org_path(emulator, "issues/"), token=reader).status_code == 403
    assert get(emulator, org_path(emulator, "projects/"), token=reader).status_code == 200
    forbidden = send(emulator, "POST", org_path(emulator, "releases/"), body, token=reader)
    assert forbidden.status_code == 403
    assert forbidden.json() == {"detail": "You do not have permission to perform this action."}


def test_token_with_a_forbidden_project_gets_403_there_only(emulator):
    bad = emulator.project_slugs[1]
    token = emulator.make_token(forbidden_projects=[bad])
    listed = get(emulator, org_path(emulator, "projects/"), token=token).json()
    assert [p["slug"] for p in listed] == emulator.project_slugs
    assert get(emulator, events_path(emulator, 1), token=token).status_code == 403
    assert get(emulator, f"projects/{emulator.organization}/{bad}/", token=token).status_code == 403
    assert get(emulator, events_path(emulator, 0), token=token).status_code == 200
    issues = get(emulator, org_path(emulator, "issues/"), token=token, query="", statsPeriod="90d").json()
    others = [s for s in emulator.project_slugs if s != bad]
    assert {i["id"] for i in issues} == {i["id"] for i in emulator.ground_truth("issues", others)}


def test_unknown_org_project_and_release_are_404(emulator):
    for path in (
        "organizations/nope/",
        f"projects/{emulator.organization}/nope/events/",
        org_path(emulator, "releases/nope/"),
    ):
        resp = get(emulator, path)
        assert (resp.status_code, resp.json()) == (404, {"detail": "The requested resource does not exist"})


def test_project_detail_accepts_slug_or_id(emulator):
    pid = emulator.ground_truth("projects")[0]["id"]
    by_id = get(emulator, f"projects/{emulator.organization}/{pid}/").json()
    by_slug = get(emulator, f"projects/{emulator.organization}/{emulator.project_slugs[0]}/").json()
    assert by_id == by_slug == emulator.ground_truth("project_detail")[0]


def test_missing_trailing_slash_is_404_with_a_hint(emulator):
    resp = requests.get(
        f"{emulator.base_url}/api/0/organizations/{emulator.organization}",
        headers={"Authorization": f"Bearer {emulator.token}"},
        timeout=5,
    )
    assert resp.status_code == 404
    assert resp.json() == {
        "info": "Route not found, did you forget a trailing slash? try: "
        f"/api/0/organizations/{emulator.organization}/"
    }


# ---------------------------------------------------------------- rate limits
def _at_window_start(window: float) -> None:
    time.sleep(window - (time.time() % window) + 0.02)


def test_rate_limit_headers_are_sent_in_sentry_mode_and_absent_in_none_mode(emulator, make_emulator):
    limited = make_emulator(rate_limits="sentry")
    resp = get(limited, org_path(limited, "releases/"))
    assert resp.headers["X-Sentry-Rate-Limit-Limit"] == "40"
    assert int(resp.headers["X-Sentry-Rate-Limit-Reset"]) >= int(time.time())
    assert {
        "X-Sentry-Rate-Limit-Remaining",
        "X-Sentry-Rate-Limit-ConcurrentLimit",
        "X-Sentry-Rate-Limit-ConcurrentRemaining",
    } <= set(resp.headers)
    events = get(limited, events_path(limited))
    assert (
        events.headers["X-Sentry-Rate-Limit-Limit"],
        events.headers["X-Sentry-Rate-Limit-ConcurrentLimit"],
    ) == ("60", "1")
    plain = get(emulator, org_path(emulator, "releases/"))
    assert not [h for h in plain.headers if h.startswith("X-Sentry-Rate-Limit")]


def test_exceeding_the_window_gives_429_text_html_json_string_until_reset(make_emulator):
    emu = make_emulator(rate_limits={"issues": (3, 2.0)})
    _at_window_start(2.0)
    resps = [get(emu, org_path(emu, "issues/")) for _ in range(4)]
    assert [r.status_code for r in resps] == [200, 200, 200, 429]
    assert [r.headers["X-Sentry-Rate-Limit-Remaining"] for r in resps] == ["2", "1", "0", "0"]
    last = resps[-1]
    assert last.headers["Content-Type"].startswith("text/html")
    assert json.loads(last.text) == (
        "You are attempting to use this endpoint too frequently. Limit is 3 requests in 2 seconds"
    )
    assert "Retry-After" not in last.headers
    # Sentry checks the concurrency only within the window, and names it only when it did.
    assert "X-Sentry-Rate-Limit-ConcurrentRemaining" not in last.headers
    assert last.headers["X-Sentry-Rate-Limit-ConcurrentLimit"] == "25"
    reset = int(last.headers["X-Sentry-Rate-Limit-Reset"])
    time.sleep(max(0.0, reset - time.time()) + 0.05)
    assert get(emu, org_path(emu, "issues/")).status_code == 200


def test_events_allow_one_request_in_flight(make_emulator):
    emu = make_emulator(rate_limits="sentry", faults="events:slow=0.6x1")
    results: dict[str, requests.Response] = {}
    slow = threading.Thread(target=lambda: results.setdefault("slow", get(emu, events_path(emu))))
    slow.start()
    time.sleep(0.2)
    second = get(emu, events_path(emu))
    slow.join()
    assert results["slow"].status_code == 200
    assert second.status_code == 429
    assert "concurrency" in second.text
    assert second.headers["X-Sentry-Rate-Limit-ConcurrentRemaining"] == "0"
    # The window is not spent: the two requests took 2 of its 60 (a 429 counts too).
    assert second.headers["X-Sentry-Rate-Limit-Remaining"] == "58"


def test_given_one_slot_when_a_client_sends_on_each_answer_then_no_concurrency_429(make_emulator):
    """The slot is free once the answer is ready, before it is sent, as in Sentry's middleware:
    a client that sends its next request on receiving an answer is never refused."""
    emu = make_emulator(rate_limits={"events": (1000, 60.0, 1)})
    with requests.Session() as one, requests.Session() as other:
        codes = []
        for i in range(40):
            session = one if i % 2 else other  # two connections, so two server threads
            url = emu.base_url + "/api/0/" + events_path(emu)
            codes.append(session.get(url, headers={"Authorization": f"Bearer {emu.token}"}).status_code)
    assert codes == [200] * 40


def test_fault_429concurrent_is_a_concurrency_429_with_the_window_left(emulator):
    emulator.set_faults("events:429concurrentx1")
    resp = get(emulator, events_path(emulator))
    assert resp.status_code == 429
    assert "concurrency" in resp.text
    assert resp.headers["X-Sentry-Rate-Limit-ConcurrentRemaining"] == "0"
    assert int(resp.headers["X-Sentry-Rate-Limit-Remaining"]) > 0
    assert int(resp.headers["X-Sentry-Rate-Limit-Reset"]) >= int(time.time())
    assert get(emulator, events_path(emulator)).status_code == 200


def test_page_latency_delays_each_list_page_not_single_objects_and_pages_overlap(make_emulator):
    emu = make_emulator(page_latency_ms=600)
    detail = get(emu, f"projects/{emu.organization}/{emu.project_slugs[0]}/")
    with ThreadPoolExecutor(3) as pool:
        t0 = time.perf_counter()
        pages = list(pool.map(lambda k: get(emu, events_path(emu, k)), range(3)))
        overlapped = time.perf_counter() - t0

    assert detail.status_code == 200
    assert isinstance(detail.json(), dict)
    assert [p.status_code for p in pages] == [200, 200, 200]
    durations = {e["path"].rsplit("/", 2)[-2]: e["duration"] for e in emu.requests}
    assert durations[emu.project_slugs[0]] < 0.6
    assert durations["events"] >= 0.6
    # three pages of 0.6 s served side by side (1.8 s one after another), as a server's workers do
    assert overlapped < 1.5


def test_page_latency_cannot_be_negative():
    with pytest.raises(ValueError, match="page_latency_ms"):
        Emulator(page_latency_ms=-1)


# ---------------------------------------------------------------- faults
def test_fault_count_applies_to_the_next_n_requests_then_stops(emulator):
    emulator.set_faults("events:429x3")
    codes = [get(emulator, events_path(emulator)).status_code for _ in range(4)]
    assert codes == [429, 429, 429, 200]
    headers = emulator.requests[0]["response_headers"]
    assert int(headers["X-Sentry-Rate-Limit-Reset"]) >= int(time.time())
    assert headers["X-Sentry-Rate-Limit-Remaining"] == "0"
    assert "X-Sentry-Rate-Limit-ConcurrentRemaining" not in headers
    assert [r["fault"] for r in emulator.requests] == ["events:429x3"] * 3 + [None]


def test_fault_html_error_page_as_a_proxy_sends_it(emulator):
    emulator.set_faults("projects:502html")
    resp = get(emulator, org_path(emulator, "projects/"))
    assert resp.status_code == 502
    assert resp.headers["Content-Type"] == "text/html"
    assert "<title>502 Bad Gateway</title>" in resp.text
    assert "<center>nginx</center>" in resp.text


def test_fault_500_json_has_error_id(emulator):
    emulator.set_faults("org:500x1")
    resp = get(emulator, org_path(emulator, ""))
    assert resp.status_code == 500
    assert resp.json()["detail"] == "Internal Error"
    assert re.fullmatch(r"[0-9a-f]{32}", resp.json()["errorId"])


def test_fault_reset_closes_the_connection_without_a_response(emulator):
    emulator.set_faults("releases:reset x1")
    with pytest.raises(requests.ConnectionError):
        get(emulator, org_path(emulator, "releases/"))
    assert get(emulator, org_path(emulator, "releases/")).status_code == 200
    assert emulator.requests[0]["fault"] == "releases:resetx1"
    assert emulator.requests[0]["status"] is None


@pytest.mark.parametrize("action", ["truncated", "malformed"])
def test_fault_bad_json_bodies_come_with_status_200(emulator, action):
    whole = get(emulator, events_path(emulator)).content
    emulator.set_faults(f"events:{action}x1")
    resp = get(emulator, events_path(emulator))
    assert resp.status_code == 200
    with pytest.raises(requests.exceptions.JSONDecodeError):
        resp.json()
    expected = whole[: len(whole) // 2] if action == "truncated" else b")]}',\n" + whole
    assert resp.content == expected


def test_fault_incomplete_body_breaks_the_read(emulator):
    emulator.set_faults("events:incomplete x1")
    with pytest.raises(requests.exceptions.RequestException):
        get(emulator, events_path(emulator)).json()


def test_fault_probability_is_deterministic_for_a_seed(make_emulator):
    runs = []
    for _ in range(2):
        emu = make_emulator(faults="issues:503@0.3")
        runs.append([get(emu, org_path(emu, "issues/")).status_code for _ in range(20)])
    assert runs[0] == runs[1]
    assert 503 in runs[0]
    assert 200 in runs[0]


@pytest.mark.parametrize("spec", ["events", "events:418teapot", "nowhere:500", "events:503@2", "events:slow"])
def test_fault_spec_rejects_malformed_rules(spec):
    with pytest.raises(ValueError, match="fault|probability"):
        parse_faults(spec)


# ---------------------------------------------------------------- scale, determinism, control, CLI
def test_page_near_the_end_of_a_million_event_project_needs_little_memory():
    tracemalloc.start()
    try:
        # Memory, not time, proves the events are made lazily (a million materialised events are
        # hundreds of MB); speed belongs to the benchmark, a timed test only flakes under load.
        with Emulator(
            seed=5, projects=1, events=1_000_000, issues=300, releases=5, rate_limits="none"
        ) as emu:
            resp = get(emu, events_path(emu), cursor="0:999900:0", full="1")
            _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert resp.status_code == 200
    assert len(resp.json()) == 100
    assert links(resp)["next"][1] is False
    assert peak < 20 * 1024 * 1024


def test_same_seed_gives_identical_data_and_another_seed_differs(make_emulator):
    a, b, c = make_emulator(seed=7), make_emulator(seed=7), make_emulator(seed=8)
    assert a.ground_truth("events") == b.ground_truth("events")
    strip = [
        {k: v for k, v in i.items() if k != "permalink"} for i in a.ground_truth("issues")
    ]  # has the port
    assert strip == [{k: v for k, v in i.items() if k != "permalink"} for i in b.ground_truth("issues")]
    assert a.ground_truth("events") != c.ground_truth("events")


def test_ground_truth_events_count_matches_issue_counts(emulator):
    events = emulator.ground_truth("events")
    issues = emulator.ground_truth("issues")
    assert sum(int(i["count"]) for i in issues) == len(events)
    assert {e["groupID"] for e in events} == {i["id"] for i in issues}


def test_control_api_mutates_data_and_reports_ground_truth(emulator):
    ctl = emulator.base_url + "/_emulator/"
    before = requests.post(ctl + "ground_truth", json={"kind": "events"}, timeout=5).json()
    added = requests.post(ctl + "add_events", json={"project": emulator.project_slugs[0], "n": 2}, timeout=5)
    after = requests.post(ctl + "ground_truth", json={"kind": "events"}, timeout=5).json()
    assert added.status_code == 200
    assert len(after) == len(before) + 2
    token = requests.post(ctl + "make_token", json={"scopes": ["org:read"]}, timeout=5).json()["token"]
    assert get(emulator, org_path(emulator, ""), token=token).status_code == 200
    assert requests.post(ctl + "faults", json={"spec": "org:503x1"}, timeout=5).status_code == 200
    assert get(emulator, org_path(emulator, "")).status_code == 503
    assert requests.post(ctl + "nope", json={}, timeout=5).status_code == 404
    logged = requests.get(ctl + "requests", timeout=5).json()
    assert [r["status"] for r in logged][-2:] == [200, 503]


def test_cli_prints_one_json_line_serves_https_and_stops_on_sigterm():
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sentry_emulator",
            "--tls",
            "--seed",
            "2",
            "--events",
            "50",
            "--issues",
            "5",
            "--releases",
            "3",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    try:
        info = json.loads(proc.stdout.readline())
        assert set(info) == {"base_url", "token", "organization", "projects", "ca_cert", "dialect"}
        assert info["base_url"].startswith("https://127.0.0.1:")
        resp = requests.get(
            f"{info['base_url']}/api/0/organizations/{info['organization']}/",
            headers={"Authorization": f"Bearer {info['token']}"},
            verify=info["ca_cert"],
            timeout=5,
        )
        assert resp.status_code == 200
        assert resp.json()["slug"] == info["organization"]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0


def test_a_client_gone_before_its_answer_leaves_no_traceback(make_emulator, capsys):
    # A connector stopped mid-read (SIGTERM) resets its connections; the answer then written to
    # one breaks. That is the client's doing (nginx's 499), not a fault of the server to print.
    emu = make_emulator(faults="events:slow=1x1")
    host, port = emu.base_url.removeprefix("http://").split(":")
    client = socket.create_connection((host, int(port)))
    head = f"GET /api/0/{events_path(emu)} HTTP/1.1\r\nHost: {host}\r\n"
    client.sendall(f"{head}Authorization: Bearer {emu.token}\r\n\r\n".encode())
    time.sleep(0.3)  # the server reads the request, then holds its answer for a second
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()  # with SO_LINGER 0: a reset, as a killed process's sockets give
    deadline = time.monotonic() + 10
    while not emu.requests and time.monotonic() < deadline:
        time.sleep(0.02)
    assert emu.requests, "the emulator never answered the held request"
    time.sleep(0.3)  # the answer is written right after it is logged
    assert get(emu, events_path(emu)).status_code == 200  # and the server serves on
    assert_printed_no_traceback(capsys)


def test_a_tls_client_gone_mid_request_leaves_no_traceback(make_emulator, capsys):
    # Over TLS, a client that closes its socket without TLS's closing message (a killed process,
    # or a client giving up) breaks the answer with SSLEOFError rather than a reset: the same
    # client's doing, not a fault of the server to print.
    emu = make_emulator(tls=True)
    host, port = emu.base_url.removeprefix("https://").split(":")
    context = ssl.create_default_context(cafile=emu.ca_cert)
    client = context.wrap_socket(socket.create_connection((host, int(port))), server_hostname=host)
    client.sendall(f"GET /api/0/{events_path(emu)} HTTP/1.1\r\nHost: {host}\r\n".encode())
    time.sleep(0.3)
    client.close()  # no close_notify: the server's next read or write meets an unexpected EOF
    time.sleep(0.5)
    assert get(emu, events_path(emu)).status_code == 200  # and the server serves on
    assert_printed_no_traceback(capsys)


def test_a_tls_client_silent_after_connecting_holds_up_no_other(make_emulator):
    # The TLS handshake runs in each connection's own thread: one client that connects and sends
    # nothing (a stalled or half-open peer) must not stop the server accepting everyone else.
    emu = make_emulator(tls=True)
    host, port = emu.base_url.removeprefix("https://").split(":")
    silent = socket.create_connection((host, int(port)))
    try:
        time.sleep(0.2)  # the server has accepted it and waits for its ClientHello
        assert get(emu, events_path(emu)).status_code == 200  # and the server serves on
    finally:
        silent.close()


def test_a_tls_client_refusing_the_certificate_leaves_no_traceback(make_emulator, capsys):
    # A client without the emulator's CA refuses its certificate, as a test of that case does on
    # purpose; the handshake now fails in the connection's thread, and that is the client's doing.
    emu = make_emulator(tls=True)
    host, port = emu.base_url.removeprefix("https://").split(":")
    with pytest.raises(ssl.SSLCertVerificationError):
        ssl.create_default_context().wrap_socket(
            socket.create_connection((host, int(port))), server_hostname=host
        )
    time.sleep(0.3)
    assert get(emu, events_path(emu)).status_code == 200  # and the server serves on
    assert_printed_no_traceback(capsys)


def assert_printed_no_traceback(capsys) -> None:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "Exception occurred" not in err
