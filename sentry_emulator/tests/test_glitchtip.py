"""The GlitchTip dialect: each difference issue 11 observed against a GlitchTip server."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
import requests

from sentry_emulator import Emulator
from sentry_emulator.cli import args_for, settings_from_args
from sentry_emulator.process import EmulatorProcess

SORT_422 = (
    "Input should be 'last_seen', '-last_seen', 'first_seen', '-first_seen', 'count', '-count', "
    "'priority', '-priority'"
)


@pytest.fixture
def glitchtip(make_emulator) -> Emulator:
    return make_emulator(dialect="glitchtip")


def get(emu: Emulator, path: str, **params) -> requests.Response:
    return requests.get(
        f"{emu.base_url}/api/0/{path}",
        params=params,
        headers={"Authorization": f"Bearer {emu.token}"},
        timeout=10,
    )


def post(emu: Emulator, path: str, body: dict) -> requests.Response:
    return requests.post(
        f"{emu.base_url}/api/0/{path}",
        json=body,
        headers={"Authorization": f"Bearer {emu.token}"},
        timeout=10,
    )


def pages(emu: Emulator, path: str, **params) -> tuple[list[dict], int]:
    """Every item of a list, following `next` as requests parses GlitchTip's Link header."""
    items: list[dict] = []
    requests_sent = 0
    while True:
        r = get(emu, path, **params)
        requests_sent += 1
        assert r.status_code == 200, r.text
        items += r.json()
        nxt = r.links["next"]
        if nxt["results"] != "true":
            return items, requests_sent
        params["cursor"] = nxt["cursor"]


def test_given_sentrys_issue_sort_when_listing_issues_then_422(glitchtip):
    r = get(glitchtip, "organizations/acme/issues/", sort="date")

    assert r.status_code == 422
    assert r.json()["detail"][0]["msg"] == SORT_422


def test_given_a_last_seen_query_when_listing_issues_then_it_is_a_tag_search_that_matches_nothing(glitchtip):
    r = get(glitchtip, "organizations/acme/issues/", query="lastSeen:>=2000-01-01T00:00:00")

    assert r.status_code == 200
    assert r.json() == []


def test_given_no_query_when_listing_issues_by_last_seen_then_every_status_comes_newest_first(glitchtip):
    resolved = glitchtip.ground_truth("issues")[-1]["id"]
    glitchtip.resolve_issue(resolved)

    items, _ = pages(glitchtip, "organizations/acme/issues/", sort="-last_seen", limit=5)

    assert [i["id"] for i in items] == [i["id"] for i in glitchtip.ground_truth("issues")]
    assert resolved in {i["id"] for i in items}


def test_given_a_window_when_listing_issues_then_it_filters_first_seen(glitchtip):
    issue = glitchtip.ground_truth("issues")[0]
    window = {"start": issue["firstSeen"][:19], "end": "2100-01-01T00:00:00"}

    items, _ = pages(glitchtip, "organizations/acme/issues/", sort="-last_seen", **window)

    assert items
    assert all(i["firstSeen"][:19] >= window["start"] for i in items)
    older = [i for i in glitchtip.ground_truth("issues") if i["firstSeen"][:19] < window["start"]]
    assert older
    assert not {i["id"] for i in older} & {i["id"] for i in items}


def test_given_a_window_and_per_page_when_listing_events_then_both_are_ignored(glitchtip):
    slug = glitchtip.project_slugs[0]
    truth = glitchtip.ground_truth("events", [slug])

    r = get(
        glitchtip,
        f"projects/acme/{slug}/events/",
        per_page=100,
        start="2099-01-01T00:00:00",
        end="2099-01-02T00:00:00",
    )
    items, sent = pages(
        glitchtip,
        f"projects/acme/{slug}/events/",
        per_page=100,
        start="2099-01-01T00:00:00",
        end="2099-01-02T00:00:00",
    )

    assert len(r.json()) == 50
    assert [e["id"] for e in items] == [e["id"] for e in truth]
    assert sent == -(-len(truth) // 50)


def test_given_limit_when_listing_events_then_pages_hold_that_many(glitchtip):
    r = get(glitchtip, f"projects/acme/{glitchtip.project_slugs[0]}/events/", limit=100)

    assert len(r.json()) == 100


def test_events_carry_an_integer_project_id(glitchtip):
    slug = glitchtip.project_slugs[0]
    event = get(glitchtip, f"projects/acme/{slug}/events/", full="true").json()[0]

    assert event["projectID"] == int(glitchtip.ground_truth("projects", [slug])[0]["id"])


def test_releases_have_no_id_and_a_repeated_create_answers_500(glitchtip):
    slug = glitchtip.project_slugs[0]
    first = post(glitchtip, "organizations/acme/releases/", {"version": "2.0.0", "projects": [slug]})
    again = post(glitchtip, "organizations/acme/releases/", {"version": "2.0.0", "projects": [slug]})
    listed = get(glitchtip, "organizations/acme/releases/").json()

    assert first.status_code == 201
    assert "id" not in first.json()
    assert (again.status_code, again.headers["Content-Type"]) == (500, "text/html; charset=utf-8")
    assert listed
    assert all("id" not in r for r in listed)
    assert get(glitchtip, "organizations/acme/releases/2.0.0/").json()["version"] == "2.0.0"


def test_there_are_no_deploys_a_post_meets_the_csrf_check_and_the_list_the_catch_all(glitchtip):
    slug = glitchtip.project_slugs[0]
    post(glitchtip, "organizations/acme/releases/", {"version": "2.0.0", "projects": [slug]})

    created = post(glitchtip, "organizations/acme/releases/2.0.0/deploys/", {"environment": "production"})
    listed = get(glitchtip, "organizations/acme/releases/2.0.0/deploys/")

    assert created.status_code == 403
    assert created.headers["Content-Type"].startswith("text/html")
    assert "CSRF verification failed" in created.text
    assert listed.status_code == 500
    assert listed.headers["Content-Type"].startswith("text/html")


def test_the_link_header_is_a_python_set_and_its_cursor_still_pages(glitchtip):
    r = get(glitchtip, "organizations/acme/issues/", sort="-last_seen", limit=5)
    link = r.headers["Link"]

    assert link.startswith("{'<")
    assert link.endswith("'}")
    assert 'rel="previous"; results="false", <' in link
    assert r.links["next"]["cursor"].endswith("\"'}")  # what a lenient parser keeps
    second = get(
        glitchtip, "organizations/acme/issues/", sort="-last_seen", limit=5, cursor=r.links["next"]["cursor"]
    )
    assert [i["id"] for i in second.json()] == [i["id"] for i in glitchtip.ground_truth("issues")[5:10]]


def test_settings_name_the_server_outside_the_sentry_api(glitchtip, emulator):
    r = requests.get(f"{glitchtip.base_url}/api/settings/", timeout=10)

    assert r.status_code == 200
    assert set(r.json()) >= {"version", "iPaidForGlitchTip"}
    assert requests.get(f"{emulator.base_url}/api/settings/", timeout=10).status_code == 404


def test_the_sentry_dialect_keeps_sentrys_answers(emulator):
    assert get(emulator, "organizations/acme/issues/", sort="date").status_code == 200
    assert "id" in get(emulator, "organizations/acme/releases/").json()[0]


def test_the_command_line_starts_a_glitchtip_emulator_configured_as_one():
    assert settings_from_args(["--dialect", "glitchtip"])["dialect"] == "glitchtip"
    with EmulatorProcess(args_for(seed=1, events=50, issues=4, releases=2, dialect="glitchtip")) as proc:
        config = proc.config()
        assert config["server"] == "glitchtip"
        r = requests.get(
            f"{proc.base_url}/api/0/organizations/acme/issues/",
            params={"sort": "date"},
            headers={"Authorization": f"Bearer {proc.token}"},
            timeout=10,
        )
        assert r.status_code == 422


def test_an_unknown_dialect_is_refused():
    with pytest.raises(ValueError, match="dialect"):
        Emulator(dialect="bugsnag")


@pytest.mark.parametrize(
    "path",
    [
        "organizations/acme/repos/",
        "organizations/acme/project-keys/",
        "organizations/acme/workflows/",
        "organizations/acme/detectors/",
        "organizations/acme/sessions/",
        "organizations/acme/replays/",
    ],
)
def test_given_an_endpoint_glitchtip_lacks_outside_its_catch_all_when_asked_then_404(glitchtip, path):
    r = get(glitchtip, path)

    assert r.status_code == 404
    assert r.json() == {"detail": "Not Found"}


def test_given_every_sentry_route_then_glitchtip_serves_only_its_allow_list():
    from sentry_emulator.resources.glitchtip import GLITCHTIP, HAS, _lacking

    served = {(e.method, e.template) for e in GLITCHTIP.endpoints() if e.handler is not _lacking}

    assert served == HAS | {("GET", "/api/settings/")}


CAUGHT = ["organizations/acme/releases/{version}/commits/", "projects/acme/{project}/user-feedback/"]


@pytest.mark.parametrize("path", CAUGHT)
def test_given_a_path_in_the_catch_all_and_no_frontend_when_asked_then_a_500_html_page(glitchtip, path):
    r = get(glitchtip, _fill(glitchtip, path))

    assert r.status_code == 500
    assert r.headers["Content-Type"].startswith("text/html")
    assert "Server Error (500)" in r.text


@pytest.mark.parametrize("path", CAUGHT)
def test_given_a_path_in_the_catch_all_and_the_frontend_built_when_asked_then_200_html(make_emulator, path):
    built = make_emulator(dialect="glitchtip", glitchtip_frontend="built")

    r = get(built, _fill(built, path))

    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/html")
    assert "<app-root>" in r.text


def _fill(emu: Emulator, path: str) -> str:
    version = quote(emu.ground_truth("releases")[0]["version"], safe="")
    return path.format(version=version, project=emu.project_slugs[0])


STATS = "organizations/acme/stats_v2/"
YESTERDAY = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d")
DAY = {"start": f"{YESTERDAY}T00:00:00", "end": f"{YESTERDAY}T23:59:59", "interval": "1d"}


@pytest.mark.parametrize(
    ("params", "loc", "kind"),
    [
        ({"field": "sum(quantity)"}, "category", "missing"),
        ({"category": "error"}, "field", "missing"),
        ({"category": "error", "field": ["sum(quantity)", "sum(times_seen)"]}, "field", "literal_error"),
        ({"category": "error", "field": "sum(quantity)", "groupBy": "project"}, "groupBy", "extra_forbidden"),
        ({"category": "attachment", "field": "sum(quantity)"}, "category", "literal_error"),
    ],
)
def test_given_sentrys_stats_v2_parameters_when_asked_then_glitchtip_answers_422(
    glitchtip, params, loc, kind
):
    r = get(glitchtip, STATS, **DAY, **params)

    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["query", loc]
    assert r.json()["detail"][0]["type"] == kind


def test_given_a_category_and_one_field_when_asking_stats_v2_then_one_series_of_what_was_stored(
    glitchtip, emulator
):
    mine = get(glitchtip, STATS, **DAY, category="error", field="sum(quantity)")
    sentrys = get(
        emulator,
        STATS,
        **DAY,
        category="error",
        outcome="accepted",
        field="sum(quantity)",
        groupBy="category",
    )

    assert mine.status_code == 200, mine.text
    assert set(mine.json()) == {"intervals", "groups"}
    assert mine.json()["intervals"] == [f"{YESTERDAY}T00:00:00Z"]
    accepted = sentrys.json()["groups"][0]["series"]["sum(quantity)"]
    assert accepted[0] > 0
    assert mine.json()["groups"] == [{"series": {"sum(quantity)": accepted}}]


def test_given_an_unknown_slug_among_known_ones_when_creating_a_release_then_glitchtip_keeps_the_known(
    glitchtip,
):
    slug = glitchtip.project_slugs[0]

    r = post(
        glitchtip, "organizations/acme/releases/", {"version": "3.0.0", "projects": [slug, "no-such-project"]}
    )

    assert r.status_code == 201
    assert [p["slug"] for p in r.json()["projects"]] == [slug]


def test_given_only_unknown_slugs_when_creating_a_release_then_422_without_the_slug(glitchtip):
    r = post(glitchtip, "organizations/acme/releases/", {"version": "3.0.0", "projects": ["no-such-project"]})

    assert r.status_code == 422
    assert r.json() == {"detail": "Require at least one valid project"}
    assert "3.0.0" not in {rel["version"] for rel in glitchtip.ground_truth("releases")}


def test_monitors_have_integer_ids_in_lists_and_ground_truth(glitchtip):
    listed = get(glitchtip, "organizations/acme/monitors/").json()

    assert [m["id"] for m in listed] == list(range(1, len(listed) + 1))
    assert listed == glitchtip.ground_truth("monitors")


def test_given_a_store_rate_when_a_burst_arrives_then_events_become_visible_over_time(make_emulator):
    slow = make_emulator(dialect="glitchtip", glitchtip_store_rate=20.0, events=10)
    slug = slow.project_slugs[0]
    path = f"projects/acme/{slug}/events/"
    before = len(get(slow, path, limit=100).json())

    added = slow.add_events(slug, 10)
    soon = len(get(slow, path, limit=100).json()) - before
    time.sleep(0.7)
    later = len(get(slow, path, limit=100).json()) - before

    assert len(added) == 10
    assert soon < 10
    assert later == 10
