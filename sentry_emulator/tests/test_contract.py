"""The emulator's real HTTP responses checked against Sentry's published response schemas.

Schemas come from ``sentry_emulator/tests/contract/openapi-subset.json`` (Apache-2.0, see the NOTICE
beside it). OpenAPI 3.0 ``nullable`` is translated to JSON Schema; every ``date-time`` must be
Sentry's form: UTC ``Z`` with 0, 3 or 6 fractional digits.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import quote

import jsonschema
import pytest
import requests

SPEC = json.loads((Path(__file__).parent / "contract" / "openapi-subset.json").read_text())
SENTRY_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3}|\.\d{6})?Z$")
FORMATS = jsonschema.FormatChecker(formats=())
FORMATS.checks("date-time")(lambda value: not isinstance(value, str) or bool(SENTRY_DATE.match(value)))
ORG = "/api/0/organizations/{organization_id_or_slug}/"
PROJECT = "/api/0/projects/{organization_id_or_slug}/{project_id_or_slug}/"
# fields the event *detail* endpoint adds on top of what the events list returns with full=
DETAIL_ONLY_EVENT_FIELDS = {"userReport", "previousEventID", "nextEventID", "release"}
# Where the published schema says "string" but Sentry's serializers send null (the emulator sends
# null, so clients built from the schema alone find out here, not in production):
# - org issues ``shareId`` is null unless the issue is shared, ``assignedTo`` null while unassigned
#   (the project issues schema agrees on both), ``owners`` null when no ownership rule matched;
# - ``lastDeploy.name`` is null for a deploy created without a name (the deploys schema agrees).
# The pointers mix keys and list indexes.
SCHEMA_VS_SERVER: dict[tuple[str, str], list[tuple[str | int, ...]]] = {
    (ORG + "issues/", "get"): [
        ("items", "properties", "shareId"),
        ("items", "properties", "assignedTo"),
        ("items", "properties", "owners"),
    ],
    (ORG + "releases/{version}/", "get"): [("properties", "lastDeploy", "anyOf", 0, "properties", "name")],
    (ORG + "releases/{version}/", "put"): [("properties", "lastDeploy", "anyOf", 0, "properties", "name")],
}


def _jsonschema(node):
    if isinstance(node, list):
        return [_jsonschema(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: _jsonschema(v) for k, v in node.items() if k not in ("nullable", "example", "examples")}
    if node.get("nullable"):
        return {"anyOf": [out, {"type": "null"}]}
    return out


def schema(path: str, method: str, status: str) -> dict:
    content = SPEC["paths"][path][method]["responses"][status]["content"]["application/json"]
    sch = _jsonschema(content["schema"])
    for (p, m), pointers in SCHEMA_VS_SERVER.items():
        if (p, m) == (path, method):
            for pointer in pointers:
                node = sch
                for key in pointer[:-1]:
                    node = node[key]
                node[pointer[-1]] = {"anyOf": [node[pointer[-1]], {"type": "null"}]}
    return sch


def check(body, sch: dict) -> None:
    jsonschema.Draft7Validator(sch, format_checker=FORMATS).validate(body)


@pytest.fixture
def api(emulator):
    def call(method: str, path: str, body=None, **params):
        resp = requests.request(
            method,
            f"{emulator.base_url}/api/0/{path}",
            params=params,
            json=body,
            headers={"Authorization": f"Bearer {emulator.token}"},
            timeout=10,
        )
        return resp

    return call


def test_vendored_subset_keeps_only_whole_paths_with_its_notice():
    assert (Path(__file__).parent / "contract" / "NOTICE.md").exists()
    assert ORG + "issues/" in SPEC["paths"]
    assert PROJECT + "events/" in SPEC["paths"]


def test_organization_list_and_detail_match_schema(emulator, api):
    check(api("GET", "organizations/").json(), schema("/api/0/organizations/", "get", "200"))
    check(api("GET", f"organizations/{emulator.organization}/").json(), schema(ORG, "get", "200"))


def test_org_projects_list_matches_schema(emulator, api):
    body = api("GET", f"organizations/{emulator.organization}/projects/").json()
    assert len(body) == 3
    check(body, schema(ORG + "projects/", "get", "200"))


def test_project_detail_matches_schema(emulator, api):
    body = api("GET", f"projects/{emulator.organization}/{emulator.project_slugs[0]}/").json()
    check(body, schema(PROJECT, "get", "200"))


def test_events_list_matches_schema(emulator, api):
    body = api("GET", f"projects/{emulator.organization}/{emulator.project_slugs[0]}/events/").json()
    assert len(body) == 100
    check(body, schema(PROJECT + "events/", "get", "200"))


def test_full_events_match_the_event_detail_schema_minus_detail_only_fields(emulator, api):
    sch = schema(PROJECT + "events/{event_id}/", "get", "200")
    sch["required"] = [k for k in sch["required"] if k not in DETAIL_ONLY_EVENT_FIELDS]
    emulator.add_events(emulator.project_slugs[0], 1, late_by=3600)
    body = api(
        "GET", f"projects/{emulator.organization}/{emulator.project_slugs[0]}/events/", full="1"
    ).json()
    for event in body:
        check(event, sch)


def test_project_issues_match_schema(emulator, api):
    body = api(
        "GET", f"projects/{emulator.organization}/{emulator.project_slugs[0]}/issues/", query=""
    ).json()
    assert body
    check(body, schema(PROJECT + "issues/", "get", "200"))


def test_org_issues_match_schema(emulator, api):
    emulator.add_issues(emulator.project_slugs[1], 2)
    body = api("GET", f"organizations/{emulator.organization}/issues/", query="", statsPeriod="90d").json()
    assert body
    check(body, schema(ORG + "issues/", "get", "200"))


def test_release_list_detail_create_and_update_match_schema(emulator, api):
    org = emulator.organization
    check(api("GET", f"organizations/{org}/releases/").json(), schema(ORG + "releases/", "get", "200"))
    created = api(
        "POST", f"organizations/{org}/releases/", {"version": "c@1+b", "projects": emulator.project_slugs}
    )
    assert created.status_code == 201
    check(created.json(), schema(ORG + "releases/", "post", "201"))
    detail = api("GET", f"organizations/{org}/releases/{quote('c@1+b', safe='')}/").json()
    check(detail, schema(ORG + "releases/{version}/", "get", "200"))
    put = api(
        "PUT",
        f"organizations/{org}/releases/{quote('c@1+b', safe='')}/",
        {"dateReleased": "2024-05-21T11:26:16Z"},
    )
    check(put.json(), schema(ORG + "releases/{version}/", "put", "200"))
    for release in api("GET", f"organizations/{org}/releases/").json():
        check(release, schema(ORG + "releases/{version}/", "get", "200"))


def test_deploy_create_and_list_match_schema(emulator, api):
    org = emulator.organization
    version = emulator.ground_truth("releases")[-1]["version"]
    path = f"organizations/{org}/releases/{quote(version, safe='')}/deploys/"
    created = api(
        "POST", path, {"environment": "production", "name": "deploy 1", "url": "https://ci.example.com/1"}
    )
    assert created.status_code == 201
    check(created.json(), schema(ORG + "releases/{version}/deploys/", "post", "201"))
    listed = api("GET", path).json()
    assert listed
    check(listed, schema(ORG + "releases/{version}/deploys/", "get", "200"))


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/api/0/organizations/", "get"),
        (ORG + "projects/", "get"),
        (PROJECT + "events/", "get"),
        (ORG + "issues/", "get"),
        (ORG + "releases/", "get"),
    ],
)
def test_emulated_items_carry_every_key_of_the_documented_example(emulator, api, path, method):
    content = SPEC["paths"][path][method]["responses"]["200"]["content"]["application/json"]
    examples = content.get("examples") or {}
    example = next(iter(examples.values()))["value"] if examples else content["example"]
    concrete = (
        path.replace("{organization_id_or_slug}", emulator.organization)
        .replace("{project_id_or_slug}", emulator.project_slugs[0])
        .removeprefix("/api/0/")
    )
    got = api("GET", concrete, query="", statsPeriod="90d").json()
    assert got
    assert set(example[0]) <= set(got[0]), set(example[0]) - set(got[0])
