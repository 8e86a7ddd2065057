"""Commits of releases as Sentry links them: ``commits`` replace the list (sorted by timestamp),
``refs`` name known repositories, and ``previous-with-commits`` finds where the next range starts."""

from __future__ import annotations

import pytest
import requests


@pytest.fixture
def api(make_emulator):
    emu = make_emulator(releases=0, projects=1)
    base = f"{emu.base_url}/api/0/organizations/{emu.organization}/releases/"
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {emu.token}"
    session.post(
        base, json={"version": "1.0", "projects": [emu.project_slugs[0]]}, timeout=10
    ).raise_for_status()
    return emu, session, base


def commit(sha: str, day: int, **extra) -> dict:
    return {"id": sha, "timestamp": f"2024-01-{day:02d}T10:00:00Z", "message": f"commit {sha}", **extra}


def test_given_commits_put_twice_when_listing_then_second_list_replaces_first_newest_first(api):
    emu, session, base = api
    session.put(f"{base}1.0/", json={"commits": [commit("a1", 1), commit("b2", 2)]}, timeout=10)
    answer = session.put(
        f"{base}1.0/",
        json={"commits": [commit("c3", 3), commit("d4", 4, author_name="Ada Lovelace")]},
        timeout=10,
    )

    listed = session.get(f"{base}1.0/commits/", timeout=10).json()
    assert [c["id"] for c in listed] == ["d4", "c3"]
    assert listed[0]["author"] == {"name": "Ada Lovelace", "email": "adalovelace@localhost"}
    # No repository named: Sentry files them under one it creates, with no integration.
    assert listed[0]["repository"]["name"] == f"organization-{emu.world.org_id}"
    assert listed[0]["repository"]["provider"] == {"id": "unknown", "name": "Unknown Provider"}
    assert (answer.json()["commitCount"], answer.json()["lastCommit"]["id"]) == (2, "d4")


def test_given_refs_to_an_unknown_repository_when_creating_then_400_after_the_release_exists(api):
    emu, session, base = api
    body = {
        "version": "2.0",
        "projects": [emu.project_slugs[0]],
        "refs": [{"repository": "x/y", "commit": "f" * 40}],
    }

    answer = session.post(base, json=body, timeout=10)

    assert (answer.status_code, answer.json()) == (400, {"refs": ["Invalid repository names: x/y"]})
    assert session.get(f"{base}2.0/", timeout=10).status_code == 200


def test_given_releases_with_and_without_commits_when_asking_previous_then_newest_with_commits_or_empty(api):
    emu, session, base = api
    project = emu.project_slugs[0]
    assert session.get(f"{base}1.0/previous-with-commits/", timeout=10).json() == {}
    session.put(f"{base}1.0/", json={"commits": [commit("a1", 1)]}, timeout=10)
    session.post(base, json={"version": "1.1", "projects": [project]}, timeout=10)

    previous = session.get(f"{base}1.1/previous-with-commits/", timeout=10).json()

    assert (previous["version"], previous["lastCommit"]["id"]) == ("1.0", "a1")
    assert session.get(f"{base}1.0/previous-with-commits/", timeout=10).json()["version"] == "1.0"  # itself
    assert session.get(f"{base}9.9/previous-with-commits/", timeout=10).status_code == 404
