"""Detectors and workflows, Sentry's alerting in its workflow engine."""

from __future__ import annotations

import requests

from sentry_emulator import Emulator


def get(emu: Emulator, path: str, token: str | None = None, **params) -> requests.Response:
    return requests.get(
        f"{emu.base_url}/api/0/organizations/acme/{path}",
        params=params,
        headers={"Authorization": f"Bearer {token or emu.token}"},
        timeout=10,
    )


def test_given_a_project_id_when_listing_detectors_then_only_that_projects_in_id_order(emulator):
    project = emulator.world.projects[1]

    r = get(emulator, "detectors/", project=project.id)

    assert r.status_code == 200
    assert {d["projectId"] for d in r.json()} == {project.id}
    assert [d["id"] for d in r.json()] == sorted((d["id"] for d in r.json()), key=int)
    assert r.json() == emulator.ground_truth("detectors", [project.slug])
    assert 'rel="next"; results="false"' in r.headers["Link"]


def test_given_a_project_the_token_may_not_read_when_listing_detectors_then_403(emulator):
    secret = emulator.world.projects[0]
    token = emulator.make_token(forbidden_projects=[secret.slug])

    assert get(emulator, "detectors/", token, project=secret.id).status_code == 403
    assert {d["projectId"] for d in get(emulator, "detectors/", token, project="-1").json()} == {
        p.id for p in emulator.world.projects[1:]
    }


def test_given_workflows_then_each_names_its_detectors_and_each_detector_its_workflows(emulator):
    workflows = get(emulator, "workflows/", project="-1").json()
    detectors = emulator.ground_truth("detectors")

    assert workflows == emulator.ground_truth("workflows")
    links = {(w["id"], d) for w in workflows for d in w["detectorIds"]}
    assert links == {(w, d["id"]) for d in detectors for w in d["workflowIds"]}
    assert any(not w["detectorIds"] for w in workflows)


def test_given_org_read_or_alerts_read_when_listing_then_200_and_without_either_403(emulator):
    cases = ((["org:read"], 200), (["alerts:read"], 200), (["project:read", "event:read"], 403))
    for scopes, status in cases:
        token = emulator.make_token(scopes=scopes)
        assert get(emulator, "workflows/", token).status_code == status, scopes
        assert get(emulator, "detectors/", token).status_code == status, scopes
