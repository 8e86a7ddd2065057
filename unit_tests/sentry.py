"""Request builders and response builders for Sentry's endpoints, one per endpoint.

Responses are built from the JSON templates in resource/http/response/<stream>.json (real
response shapes from Sentry's OpenAPI examples) with the `Link` header Sentry really sends.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from airbyte_cdk.test.mock_http import HttpRequest, HttpResponse

BASE = "https://sentry.example.com/api/0"
ORG = "acme"
TOKEN = "sntryu_unit_test_token_3f9a1c0d"
FORBIDDEN = {"detail": "You do not have permission to perform this action."}
TEMPLATES = Path(__file__).parent / "resource" / "http" / "response"


def config(**overrides: Any) -> dict[str, Any]:
    base = {"auth_token": TOKEN, "organization": ORG, "hostname": "sentry.example.com"}
    base.update(overrides)
    return base


@cache
def _template(name: str) -> list[dict[str, Any]]:
    return json.loads((TEMPLATES / f"{name}.json").read_text())


def record(name: str, **fields: Any) -> dict[str, Any]:
    item = copy.deepcopy(_template(name)[0])
    item.update(fields)
    return item


def link_header(url: str, next_cursor: str | None, has_next: bool) -> str:
    """Sentry's Link header: always previous then next, with results and cursor attributes."""
    nxt = next_cursor or "0:0:0"
    return (
        f'<{url}?&cursor=0:0:1>; rel="previous"; results="false"; cursor="0:0:1", '
        f'<{url}?&cursor={nxt}>; rel="next"; results="{str(has_next).lower()}"; cursor="{nxt}"'
    )


def page(
    url: str,
    records: Sequence[Mapping[str, Any]],
    next_cursor: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> HttpResponse:
    all_headers = {"Link": link_header(url, next_cursor, next_cursor is not None), **(headers or {})}
    return HttpResponse(json.dumps(list(records)), 200, all_headers)


def detail(body: Mapping[str, Any]) -> HttpResponse:
    return HttpResponse(json.dumps(body), 200)


def detail_array(items: Sequence[Mapping[str, Any]]) -> HttpResponse:
    """A list Sentry answers in one piece, with no Link header (a project's environments)."""
    return HttpResponse(json.dumps(list(items)), 200)


def error(status: int, body: Any, headers: Mapping[str, str] | None = None) -> HttpResponse:
    text = body if isinstance(body, str) and body.startswith("<") else json.dumps(body)
    return HttpResponse(text, status, dict(headers or {}))


def request(url: str, **params: Any) -> HttpRequest:
    query = {k: v for k, v in params.items() if v is not None}
    return HttpRequest(url, query_params=urlencode(query, doseq=True) if query else None)


# ---- endpoints -------------------------------------------------------------------------------


def projects_url() -> str:
    return f"{BASE}/organizations/{ORG}/projects/"


def projects_request(cursor: str | None = None) -> HttpRequest:
    return request(projects_url(), per_page=100, cursor=cursor)


def projects_page(**slugs_by_id: str) -> HttpResponse:
    """One page of the organization's projects, `id="slug"` each (the per-project streams' parent)."""
    return page(projects_url(), [record("projects", id=pid, slug=slug) for pid, slug in slugs_by_id.items()])


def project_detail_url(slug: str) -> str:
    return f"{BASE}/projects/{ORG}/{slug}/"


def project_detail_request(slug: str) -> HttpRequest:
    return request(project_detail_url(slug))


def events_url(slug: str) -> str:
    return f"{BASE}/projects/{ORG}/{slug}/events/"


def events_request(slug: str, start: str, end: str, cursor: str | None = None) -> HttpRequest:
    return request(events_url(slug), full="true", start=start, end=end, per_page=100, cursor=cursor)


def issues_url() -> str:
    return f"{BASE}/organizations/{ORG}/issues/"


def issues_request(project_id: str, start: str, end: str, cursor: str | None = None) -> HttpRequest:
    return request(
        issues_url(),
        project=project_id,
        query=f"lastSeen:>={start}",
        sort="date",
        start=start,
        end=end,
        limit=100,
        cursor=cursor,
    )


def releases_url() -> str:
    return f"{BASE}/organizations/{ORG}/releases/"


def releases_request(cursor: str | None = None) -> HttpRequest:
    return request(releases_url(), per_page=100, cursor=cursor)


def releases_page(records: Sequence[Mapping[str, Any]], next_cursor: str | None = None) -> HttpResponse:
    return page(releases_url(), records, next_cursor=next_cursor)


def organization_url() -> str:
    return f"{BASE}/organizations/{ORG}/"


def organization_request() -> HttpRequest:
    return request(organization_url())


def org_list_url(endpoint: str) -> str:
    """An organization-wide list: `teams`, `members`, `repos`, `project-keys`, `monitors`,
    `workflows`, `detectors`."""
    return f"{BASE}/organizations/{ORG}/{endpoint}/"


def teams_request(cursor: str | None = None) -> HttpRequest:
    return request(org_list_url("teams"), per_page=100, cursor=cursor)


def members_request(cursor: str | None = None) -> HttpRequest:
    return request(org_list_url("members"), per_page=100, cursor=cursor)


def repositories_request(cursor: str | None = None) -> HttpRequest:
    return request(org_list_url("repos"), per_page=100, cursor=cursor)


def project_keys_request(cursor: str | None = None) -> HttpRequest:
    return request(org_list_url("project-keys"), per_page=100, cursor=cursor)


def monitors_request(cursor: str | None = None) -> HttpRequest:
    return request(org_list_url("monitors"), per_page=100, cursor=cursor)


def environments_url(slug: str) -> str:
    return f"{BASE}/projects/{ORG}/{slug}/environments/"


def environments_request(slug: str) -> HttpRequest:
    return request(environments_url(slug), per_page=100)


def release_url(version: str, endpoint: str) -> str:
    """A list under one release; the version is one encoded path segment."""
    return f"{BASE}/organizations/{ORG}/releases/{quote(version, safe='')}/{endpoint}/"


def deploys_request(version: str) -> HttpRequest:
    return request(release_url(version, "deploys"), per_page=100)


def release_commits_request(version: str, cursor: str | None = None) -> HttpRequest:
    return request(release_url(version, "commits"), per_page=100, cursor=cursor)


def workflows_request(cursor: str | None = None) -> HttpRequest:
    return request(org_list_url("workflows"), project="-1", per_page=100, cursor=cursor)


def detectors_request(project_id: str, cursor: str | None = None) -> HttpRequest:
    return request(org_list_url("detectors"), project=project_id, per_page=100, cursor=cursor)


def checkins_url(monitor_id: str) -> str:
    return f"{BASE}/organizations/{ORG}/monitors/{monitor_id}/checkins/"


def checkins_request(monitor_id: str, start: str, end: str, cursor: str | None = None) -> HttpRequest:
    return request(checkins_url(monitor_id), start=start, end=end, per_page=100, cursor=cursor)


def user_feedback_url(slug: str) -> str:
    return f"{BASE}/projects/{ORG}/{slug}/user-feedback/"


def user_feedback_request(slug: str, cursor: str | None = None) -> HttpRequest:
    # `status=` (every report) is in the path; the mock's matching ignores blank values.
    return request(user_feedback_url(slug), status="", per_page=100, cursor=cursor)


def replays_url() -> str:
    return f"{BASE}/organizations/{ORG}/replays/"


def replays_request(project_id: str, start: str, end: str, cursor: str | None = None) -> HttpRequest:
    return request(
        replays_url(),
        project=project_id,
        sort="started_at",
        start=start,
        end=end,
        per_page=100,
        cursor=cursor,
    )


def replays_page(records: Sequence[Mapping[str, Any]], next_cursor: str | None = None) -> HttpResponse:
    """The replay index wraps its list in `data`; paging is in the Link header as elsewhere."""
    headers = {"Link": link_header(replays_url(), next_cursor, next_cursor is not None)}
    return HttpResponse(json.dumps({"data": list(records)}), 200, headers)


SESSION_FIELDS = ["sum(session)", "count_unique(user)", "crash_free_rate(session)", "crash_free_rate(user)"]
USAGE_FIELDS = ["sum(quantity)", "sum(times_seen)"]


def sessions_request(day: str, *, slugs: Sequence[str] = (), cursor: str | None = None) -> HttpRequest:
    """One UTC day of release health, grouped by project, release and environment."""
    return request(
        org_list_url("sessions"),
        field=SESSION_FIELDS,
        groupBy=["project", "release", "environment"],
        interval="1d",
        start=f"{day}T00:00:00",
        end=f"{day}T23:59:59",
        project=None if slugs else "-1",
        projectSlug=list(slugs) or None,
        cursor=cursor,
    )


def usage_stats_request(day: str, *, slugs: Sequence[str] = ()) -> HttpRequest:
    """One UTC day of usage, grouped by project, category and outcome."""
    return request(
        org_list_url("stats_v2"),
        field=USAGE_FIELDS,
        groupBy=["project", "category", "outcome"],
        interval="1d",
        start=f"{day}T00:00:00",
        end=f"{day}T23:59:59",
        project=None if slugs else "-1",
        projectSlug=list(slugs) or None,
    )


def aggregate(
    day: str,
    groups: Sequence[Mapping[str, Any]],
    *,
    series: bool = True,
    next_cursor: str | None = None,
    url: str | None = None,
) -> HttpResponse:
    """Sentry's answer for one 1d interval: each group's `series` holds its one value (none when
    grouped by project, as stats_v2 answers); sessions/ adds its Link header."""
    following = (date.fromisoformat(day) + timedelta(days=1)).isoformat()
    body: dict[str, Any] = {"start": f"{day}T00:00:00Z", "end": f"{following}T00:00:00Z"}
    if series:
        body["intervals"] = [f"{day}T00:00:00Z"]
    body["groups"] = [
        {**g, "series": {k: [v] for k, v in g["totals"].items()}} if series else dict(g) for g in groups
    ]
    headers = {"Link": link_header(url, next_cursor, next_cursor is not None)} if url else {}
    return HttpResponse(json.dumps(body), 200, headers)


def group(name: str, by: Mapping[str, Any], totals: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A group of the `name` template with its `by` and some of its totals replaced."""
    item = record(name)
    item.pop("series", None)
    return {**item, "by": dict(by), "totals": {**item["totals"], **(totals or {})}}
