"""Releases: list, create (201, or 208 when it exists), detail and update (PUT finalizes)."""

from __future__ import annotations

from .. import auth, data, serialize, vcs
from ..auth import RELEASE_READ, RELEASE_WRITE
from ..data import Release, World
from ..paging import offset_list, offset_page, parse_cursor, parse_per_page
from ..request import NOT_FOUND, ApiError, body_date
from ..routing import route

RELEASES = "/api/0/organizations/{org}/releases/"
RELEASE = "/api/0/organizations/{org}/releases/{version}/"
_SORTS = (
    "date",
    "build",
    "semver",
    "adoption",
    "crash_free_users",
    "crash_free_sessions",
    "sessions",
    "users",
    "sessions_24h",
    "users_24h",
)
_BAD_VERSION_CHARS = ("/", "\\", "\n", "\r", "\t", "\f")


def version_problem(version: str) -> str | None:
    """Sentry's release version rules; returns the 400 message or None."""
    if version.strip() == "":
        return "This field may not be blank."
    if len(version) > 200:
        return "Ensure this field has no more than 200 characters."
    if version in (".", "..") or version.lower() == "latest" or any(c in version for c in _BAD_VERSION_CHARS):
        return f"Release with name {version} is not allowed"
    return None


def sorted_releases(world: World) -> list[Release]:
    """Newest first, as the list is served by default."""
    return sorted(world.releases, key=lambda r: (r.date_created[0], r.id), reverse=True)


def _visible(req, rel: Release) -> bool:
    return any(k not in req.caller.forbidden for k in rel.projects)


def find_release(emu, req, org: str, version: str, scopes: frozenset[str]) -> Release:
    """The release of a ``.../releases/{version}/...`` route, or 404 (also when the token sees
    none of its projects)."""
    auth.check_org(emu.world, org)
    auth.require(req, scopes)
    rel = emu.world.releases_by_version.get(version)
    if rel is None or not _visible(req, rel):
        raise ApiError(404, NOT_FOUND)
    return rel


def _semver_key(version: str) -> tuple:
    raw = version.rpartition("@")[2].split("+", 1)[0].split("-", 1)[0]
    return tuple(int(x) if x.isdigit() else -1 for x in raw.split("."))


@route("GET", RELEASES, faults={"releases"}, category="releases")
def list_releases(emu, req, org: str):
    auth.check_org(emu.world, org)
    auth.require(req, RELEASE_READ)
    projects = auth.project_ids_param(emu.world, req)
    status = req.param("status") or "open"
    if status not in ("open", "archived"):
        raise ApiError(400, {"detail": "invalid status"})
    sort = req.param("sort") or "date"
    if sort not in _SORTS:
        raise ApiError(400, {"detail": "invalid sort"})
    query = (req.param("query") or "").lower()
    envs = set(req.params.get("environment", []))
    rels = [r for r in sorted_releases(emu.world) if r.status == status and _visible(req, r)]
    if projects is not None:
        want = {p.idx for p in projects}
        rels = [r for r in rels if want & set(r.projects)]
    if query:
        rels = [r for r in rels if query in r.version.lower()]
    if envs:
        rels = [r for r in rels if envs & {d.environment for d in r.deploys}]
    if sort in ("semver", "build"):
        rels.sort(key=lambda r: (_semver_key(r.version), r.date_created[0]), reverse=True)
    per_page = parse_per_page(req.params)
    start, stop, prev, nxt = offset_page(len(rels), parse_cursor(req.param("cursor")), per_page)
    req.link(prev, nxt)
    return 200, [serialize.release(emu.world, r) for r in rels[start:stop]]


@route("POST", RELEASES, faults={"releases", "release_create"}, category="releases")
def create_release(emu, req, org: str):
    auth.check_org(emu.world, org)
    auth.require(req, RELEASE_WRITE)
    data = req.json_body()
    errors: dict[str, list[str]] = {}
    version = data.get("version")
    if "version" not in data or version is None:
        errors["version"] = ["This field is required."]
    elif not isinstance(version, str):
        errors["version"] = ["Not a valid string."]
    else:
        problem = version_problem(version)
        if problem:
            errors["version"] = [problem]
    refs = data.get("projects")
    if "projects" not in data or refs is None:
        errors["projects"] = ["This field is required."]
    elif not isinstance(refs, list):
        errors["projects"] = [f'Expected a list of items but got type "{type(refs).__name__}".']
    if errors:
        raise ApiError(400, errors)
    projects = []
    for ref in refs:
        p = emu.world.project(str(ref))
        if p is None or p.idx in req.caller.forbidden:
            raise ApiError(400, {"projects": ["Invalid project ids or slugs"]})
        if p.idx not in projects:
            projects.append(p.idx)
    if not projects:
        raise ApiError(400, {"projects": ["Invalid project ids or slugs"]})
    released = body_date(data, "dateReleased")
    rel, changed = emu.world.create_release(
        version, projects, ref=data.get("ref"), url=data.get("url"), date_released=released
    )
    if emu.dialect == "sentry":  # GlitchTip has no commits: it ignores both fields
        vcs.apply(emu.world, rel, data)  # also on a release that existed, as Sentry does
    return (201 if changed else 208), serialize.release(emu.world, rel)


@route("GET", RELEASE, faults={"releases"}, category="releases")
def release_detail(emu, req, org: str, version: str):
    return 200, serialize.release(emu.world, find_release(emu, req, org, version, RELEASE_READ))


@route("PUT", RELEASE, faults={"releases", "release_update"}, category="releases")
def update_release(emu, req, org: str, version: str):
    rel = find_release(emu, req, org, version, RELEASE_WRITE)
    data = req.json_body()
    if "ref" in data:
        if data["ref"] is not None and (not isinstance(data["ref"], str) or len(data["ref"]) > 200):
            raise ApiError(400, {"ref": ["Ensure this field has no more than 200 characters."]})
        rel.ref = data["ref"]
    if "url" in data:
        rel.url = data["url"]
    if "dateReleased" in data:
        rel.date_released = body_date(data, "dateReleased")
    if "status" in data:
        if data["status"] not in ("open", "archived"):
            raise ApiError(400, {"status": [f"Invalid status {data['status']}"]})
        rel.status = data["status"]
    vcs.apply(emu.world, rel, data)
    return 200, serialize.release(emu.world, rel)


@route("GET", RELEASE + "commits/", faults={"releases", "commits"}, category="releases")
def list_release_commits(emu, req, org: str, version: str):
    rel = find_release(emu, req, org, version, RELEASE_READ)
    return 200, [serialize.commit(c) for c in offset_list(req, data.commits(emu.world, rel))]
