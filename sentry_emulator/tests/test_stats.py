"""The aggregate endpoints: release health sessions and usage outcomes, answered with Sentry's
rules for ranges, intervals, limits, paging and errors."""

from __future__ import annotations

import pytest

from sentry_emulator.tests.test_emulator import FORBIDDEN, get, links

SESSIONS = "organizations/acme/sessions/"
STATS = "organizations/acme/stats_v2/"
SESSION_FIELDS = ["sum(session)", "count_unique(user)", "crash_free_rate(session)", "crash_free_rate(user)"]
GROUPS = ["project", "release", "environment"]


def one_day(day: str) -> dict:
    return {"interval": "1d", "start": f"{day}T00:00:00", "end": f"{day}T23:59:59"}


def sessions_of(emulator, day: str, **params) -> dict:
    resp = get(
        emulator, SESSIONS, field=SESSION_FIELDS, groupBy=GROUPS, project="-1", **one_day(day), **params
    )
    assert resp.status_code == 200, resp.text
    return resp.json()


def as_rows(body: dict, day: str) -> list[dict]:
    """The answer's groups in the form of the emulator's ground truth."""
    return [
        {
            "id": f"{day}/{g['by']['project']}/{g['by']['release']}/{g['by']['environment']}",
            "day": f"{day}T00:00:00Z",
            "projectId": str(g["by"]["project"]),
            "release": g["by"]["release"],
            "environment": g["by"]["environment"],
            "sessions": g["totals"]["sum(session)"],
            "users": g["totals"]["count_unique(user)"],
            "crashFreeSessionRate": g["totals"]["crash_free_rate(session)"],
            "crashFreeUserRate": g["totals"]["crash_free_rate(user)"],
        }
        for g in body["groups"]
    ]


def a_full_day(emulator) -> str:
    return emulator.ground_truth("sessions")[0]["day"][:10]


def test_given_a_day_from_midnight_to_its_last_second_then_exactly_that_day_and_its_ground_truth(emulator):
    day = a_full_day(emulator)

    body = sessions_of(emulator, day)

    assert (body["start"], body["end"], body["intervals"]) == (
        f"{day}T00:00:00Z",
        body["end"],
        [f"{day}T00:00:00Z"],
    )
    assert body["end"] > body["start"]
    assert body["end"].endswith("T00:00:00Z")
    truth = [r for r in emulator.ground_truth("sessions") if r["day"].startswith(day)]
    assert sorted(as_rows(body, day), key=lambda r: r["id"]) == sorted(truth, key=lambda r: r["id"])
    sizes = [g["totals"]["sum(session)"] for g in body["groups"]]
    assert sizes == sorted(sizes, reverse=True)
    assert all(g["series"]["sum(session)"] == [g["totals"]["sum(session)"]] for g in body["groups"])


def test_given_end_at_next_midnight_then_the_inclusive_end_reaches_into_the_next_day(emulator):
    day = a_full_day(emulator)
    nxt = emulator.ground_truth("sessions")[-1]["day"][:10]  # any later day will do for the end
    resp = get(
        emulator,
        SESSIONS,
        field="sum(session)",
        interval="1d",
        start=f"{day}T00:00:00",
        end=f"{day}T23:59:59",
    )
    resp_midnight = get(
        emulator,
        SESSIONS,
        field="sum(session)",
        interval="1d",
        start=f"{day}T00:00:00",
        end=f"{nxt}T00:00:00",
    )

    assert len(resp.json()["intervals"]) == 1
    later = resp_midnight.json()["intervals"]
    assert (later[0], later[-1]) == (f"{day}T00:00:00Z", f"{nxt}T00:00:00Z")


@pytest.mark.parametrize(
    ("interval", "period", "detail"),
    [
        ("30m", "1d", "The interval has to be a multiple of the minimum interval of one hour."),
        ("2d", "10d", "The interval has to be less than one day."),
        ("5h", "1d", "The interval should divide one day without a remainder."),
        ("1h", "90d", "Your interval and date range would create too many results."),
    ],
)
def test_given_interval_sentry_refuses_then_400_with_its_words(emulator, interval, period, detail):
    for path, group in ((SESSIONS, "project"), (STATS, "category")):
        field = "sum(session)" if path == SESSIONS else "sum(quantity)"
        resp = get(emulator, path, field=field, groupBy=group, interval=interval, statsPeriod=period)

        assert resp.status_code == 400
        assert resp.json()["detail"].startswith(detail)


@pytest.mark.parametrize(
    ("path", "params", "detail"),
    [
        (SESSIONS, {}, 'Request is missing a "field"'),
        (SESSIONS, {"field": "sum(sessions)"}, 'Invalid field: "sum(sessions)"'),
        (SESSIONS, {"field": "sum(session)", "groupBy": "os"}, 'Invalid groupBy: "os"'),
        (STATS, {"groupBy": "category"}, 'At least one "field" is required.'),
        (
            STATS,
            {"field": "sum(quantity)", "groupBy": "outcome"},
            "Query must have category as groupby or filter",
        ),
        (STATS, {"field": "sum(quantity)", "category": "errors"}, 'Invalid category: "errors"'),
        (SESSIONS, {"field": "sum(session)", "projectSlug": "no-such-project"}, "No projects available"),
    ],
)
def test_given_a_query_sentry_refuses_then_400_with_its_detail(emulator, path, params, detail):
    resp = get(emulator, path, statsPeriod="1d", interval="1d", **params)

    assert (resp.status_code, resp.json()) == (400, {"detail": detail})


def test_given_per_page_then_groups_page_by_offset_with_link_and_nothing_twice(emulator):
    day = a_full_day(emulator)
    everything = sessions_of(emulator, day)["groups"]
    first = get(emulator, SESSIONS, field=SESSION_FIELDS, groupBy=GROUPS, per_page=2, **one_day(day))
    url, more, cursor = links(first)["next"]
    second = get(
        emulator, SESSIONS, field=SESSION_FIELDS, groupBy=GROUPS, per_page=2, cursor=cursor, **one_day(day)
    )

    assert (more, cursor) == (True, "0:2:0")
    assert first.json()["groups"] + second.json()["groups"] == everything[:4]
    too_big = get(emulator, SESSIONS, field="sum(session)", per_page=10001, **one_day(day))
    assert too_big.json() == {"detail": "Invalid per_page value. Cannot exceed 10000."}


def test_given_project_slugs_or_ids_then_only_those_projects_and_a_locked_one_is_403(emulator):
    day = a_full_day(emulator)
    slug, pid = emulator.project_slugs[1], emulator.ground_truth("projects")[1]["id"]

    by_slug = sessions_of(emulator, day, projectSlug=slug)
    by_id = get(emulator, SESSIONS, field=SESSION_FIELDS, groupBy=GROUPS, project=pid, **one_day(day)).json()

    assert {g["by"]["project"] for g in by_slug["groups"]} == {int(pid)}
    assert by_id["groups"] == by_slug["groups"]
    locked = emulator.make_token(forbidden_projects=[slug])
    resp = get(emulator, SESSIONS, token=locked, field="sum(session)", projectSlug=slug, **one_day(day))
    assert (resp.status_code, resp.json()) == (403, FORBIDDEN)
    everything = get(
        emulator,
        SESSIONS,
        token=locked,
        field="sum(session)",
        groupBy="project",
        project="-1",
        **one_day(day),
    )
    assert int(pid) not in {g["by"]["project"] for g in everything.json()["groups"]}


def test_given_token_without_org_read_then_403_on_both(emulator):
    token = emulator.make_token(scopes=["project:read", "event:read"])
    for path, field in ((SESSIONS, "sum(session)"), (STATS, "sum(quantity)")):
        resp = get(
            emulator, path, token=token, field=field, category="error", statsPeriod="1d", interval="1d"
        )
        assert (resp.status_code, resp.json()) == (403, FORBIDDEN)


def test_given_late_sessions_then_the_day_they_started_grows_and_older_than_five_days_are_refused(emulator):
    slug = emulator.project_slugs[0]
    before = {r["id"]: r for r in emulator.ground_truth("sessions", [slug])}

    emulator.add_sessions(slug, 7, days_ago=2, crashed=2, users=3)

    after = {r["id"]: r for r in emulator.ground_truth("sessions", [slug])}
    changed = [k for k in after if after[k] != before.get(k)]
    assert len(changed) == 1
    row = after[changed[0]]
    assert row["sessions"] - before.get(changed[0], {"sessions": 0})["sessions"] == 7
    day = row["day"][:10]
    assert {r["id"]: r for r in as_rows(sessions_of(emulator, day), day)}[changed[0]] == row
    with pytest.raises(ValueError, match="older than 5 days"):
        emulator.add_sessions(slug, 1, days_ago=6)


def test_given_usage_grouped_by_project_then_totals_only_and_without_project_a_series(emulator):
    day = emulator.ground_truth("usage_stats")[0]["day"][:10]
    fields = ["sum(quantity)", "sum(times_seen)"]

    by_project = get(
        emulator,
        STATS,
        field=fields,
        groupBy=["project", "category", "outcome"],
        project="-1",
        **one_day(day),
    )
    by_category = get(emulator, STATS, field=fields, groupBy=["category", "outcome"], **one_day(day))

    body = by_project.json()
    assert "intervals" not in body
    assert all(set(g) == {"by", "totals"} for g in body["groups"])
    rows = {
        f"{day}/{g['by']['project']}/{g['by']['category']}/{g['by']['outcome']}": g["totals"]
        for g in body["groups"]
    }
    truth = {
        r["id"]: {"sum(quantity)": r["quantity"], "sum(times_seen)": r["timesSeen"]}
        for r in emulator.ground_truth("usage_stats")
        if r["day"].startswith(day)
    }
    assert rows == truth
    series = by_category.json()
    assert series["intervals"] == [f"{day}T00:00:00Z"]
    accepted_errors = next(
        g for g in series["groups"] if g["by"] == {"category": "error", "outcome": "accepted"}
    )
    assert accepted_errors["series"]["sum(quantity)"] == [
        sum(t["sum(quantity)"] for k, t in rows.items() if k.endswith("/error/accepted"))
    ]


def test_given_late_outcomes_then_todays_usage_grows_and_only_today_or_yesterday_take_them(emulator):
    slug = emulator.project_slugs[2]
    before = {r["id"]: r for r in emulator.ground_truth("usage_stats", [slug])}

    emulator.add_outcomes(slug, 4, category="error", outcome="rate_limited")

    after = {r["id"]: r for r in emulator.ground_truth("usage_stats", [slug])}
    (key,) = [k for k in after if after[k] != before.get(k)]
    assert key.endswith("/error/rate_limited")
    assert after[key]["quantity"] - before.get(key, {"quantity": 0})["quantity"] == 4
    with pytest.raises(ValueError, match="days_ago is 0 or 1"):
        emulator.add_outcomes(slug, 1, days_ago=2)
