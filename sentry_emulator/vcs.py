"""Commits of releases, as Sentry links them: ``commits`` and ``refs`` on release create and
update, the repositories they name, and the previous release that has commits.

- ``commits`` (``Release.set_commits``) replace the release's list; Sentry sorts them by
  ``timestamp``, newest first (stable: entries without one keep their order, last), so the
  first is ``lastCommit``. A repository name it does not know is created (with no provider,
  so refs to it fetch nothing); none at all becomes ``organization-<id>``. An author with a
  name and no email gets ``<name letters>@localhost``. ``commitCount`` counts the entries
  sent, duplicates included; the list keeps one of each.
- ``refs`` (``Release.set_refs``) must name repositories of the organization (else 400
  ``Invalid repository names: ...``, after the release was created). Each sets the release's
  head commit for that repository; unless ``commits`` came too, Sentry then asks the
  repository's provider for the commits from ``previousCommit`` (or the head commit of the
  newest other release sharing a project) to ``commit``, and sets those. Sentry does that in
  a background task seconds later; here it happens before the answer.
- A repository's provider is played by a local git repository a test registers
  (``Emulator.add_repository(..., path=...)``): GitHub's compare is ``git rev-list
  start..end`` (at most 250 commits); with no start, the newest 20 commits up to ``end``.
  A start or end the repository lacks fetches nothing, as a failed compare does in Sentry.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from .data import Release, World, commits, repositories
from .request import ApiError
from .timeutil import now_us, parse_iso

COMPARE_LIMIT = 250
LAST_COMMITS = 20
_FIELD = "\x1f"
_RECORD = "\x1e"


def add_repository(
    w: World, name: str, *, url: str | None = None, provider: str | None = "github", path: str | None = None
) -> dict:
    """A repository of the organization, as an integration (``provider``) adds it; ``path``: a
    local git repository holding its commits."""
    with w.lock:
        if find_repository(w, name) is not None:
            raise ValueError(f"repository {name!r} exists")
        repo = {
            "id": str(9000 + len(w.added_repositories)),
            "name": name,
            "provider": provider,
            "url": url,
            "created": now_us(),
            "path": path,
        }
        w.added_repositories.append(repo)
        return repo


def find_repository(w: World, name: str) -> dict | None:
    return next((r for r in repositories(w) if r["name"] == name), None)


def apply(w: World, rel: Release, body: dict) -> None:
    """``commits`` then ``refs`` of a release POST or PUT body, as Sentry applies them."""
    commit_list = body.get("commits")
    if commit_list is not None and not isinstance(commit_list, list):
        raise ApiError(400, {"commits": ['Expected a list of items but got type "dict".']})
    refs = body.get("refs")
    if refs is not None and not isinstance(refs, list):
        raise ApiError(400, {"refs": ['Expected a list of items but got type "dict".']})
    for item in commit_list or []:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
            raise ApiError(400, {"commits": [{"id": ["This field is required."]}]})
    for ref in refs or []:
        if not isinstance(ref, dict) or not ref.get("repository") or not ref.get("commit"):
            raise ApiError(400, {"refs": [{"commit": ["This field is required."]}]})
    with w.lock:
        if commit_list:
            set_commits(w, rel, commit_list)
        if refs:
            _set_refs(w, rel, refs, fetch=not commit_list)


def set_commits(w: World, rel: Release, commit_list: list[dict]) -> None:
    ordered = sorted(commit_list, key=_timestamp, reverse=True)
    stored: list[dict] = []
    seen: set[tuple[str, str]] = set()
    for item in ordered:
        name = item.get("repository") or f"organization-{w.org_id}"
        repo = find_repository(w, name) or add_repository(w, name, provider=None)
        key = (name, item["id"])
        if key in seen:
            continue
        seen.add(key)
        author, email = item.get("author_name"), item.get("author_email")
        if email is None and author:
            email = "".join(c for c in author if c.isalnum() or c in "-_.").lower() + "@localhost"
        stored.append(
            {
                "id": item["id"],
                "message": item.get("message"),
                "created": _timestamp(item) or now_us(),
                "author": author,
                "author_email": email,
                "repository": repo,
            }
        )
        rel.head_commits.setdefault(name, item["id"])
    rel.commit_list = stored
    rel.commit_count = len(commit_list)


def _set_refs(w: World, rel: Release, refs: list[dict], *, fetch: bool) -> None:
    names = {r["repository"] for r in refs}
    unknown = sorted(n for n in names if find_repository(w, n) is None)
    if unknown:
        raise ApiError(400, {"refs": [f"Invalid repository names: {','.join(unknown)}"]})
    previous = _newest_other_release(w, rel)
    fetched: list[dict] = []
    for ref in refs:
        start, end = ref.get("previousCommit"), ref["commit"]
        if ".." in end:
            start, end = end.split("..", 1)
        rel.head_commits[ref["repository"]] = end
        if start is None and previous is not None:
            start = previous.head_commits.get(ref["repository"])
        repo = find_repository(w, ref["repository"])
        if fetch and repo is not None and repo.get("path"):
            fetched += [c | {"repository": repo["name"]} for c in compare(repo["path"], start, end)]
    if fetched:
        set_commits(w, rel, fetched)


def _newest_other_release(w: World, rel: Release) -> Release | None:
    """``set_refs``'s previous release: the newest other one sharing a project, by
    ``COALESCE(date_released, date_added)`` (even one newer than ``rel``, as Sentry's own TODO
    there says)."""
    others = [r for r in w.releases if r is not rel and set(r.projects) & set(rel.projects)]
    return max(others, key=_release_date, default=None)


def previous_with_commits(w: World, rel: Release) -> Release | None:
    """The newest release sharing a project with ``rel`` that has commits and is dated (release
    date, else creation) no later than ``rel``: ``rel`` itself once it has commits."""
    limit = _release_date(rel)
    candidates = [
        r
        for r in w.releases
        if set(r.projects) & set(rel.projects) and commits(w, r) and _release_date(r) <= limit
    ]
    return max(candidates, key=_release_date, default=None)


def _release_date(rel: Release) -> int:
    return (rel.date_released or rel.date_created)[0]


def _timestamp(item: dict) -> int:
    raw = item.get("timestamp")
    if raw is None:
        return 0
    try:
        return parse_iso(str(raw))
    except ValueError:
        return 0


def compare(path: str, start: str | None, end: str) -> list[dict]:
    """The provider's commits from ``start`` (excluded) to ``end``, newest first, with the
    fields ``set_commits`` takes."""
    revs = [f"{start}..{end}"] if start else ["-n", str(LAST_COMMITS), end]
    fmt = _FIELD.join(("%H", "%an", "%ae", "%cI", "%B")) + _RECORD
    done = subprocess.run(
        [
            "git",
            "-C",
            str(Path(path)),
            "log",
            f"--format={fmt}",
            "--max-count",
            str(COMPARE_LIMIT),
            *revs,
            "--",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return []  # an unknown sha: the provider's compare fails and nothing is fetched
    out = []
    for record in done.stdout.split(_RECORD):
        record = record.strip("\n")
        if not record:
            continue
        sha, name, email, date, message = record.split(_FIELD, 4)
        out.append(
            {
                "id": sha,
                "author_name": name,
                "author_email": email,
                "timestamp": date,
                "message": message.strip(),
            }
        )
    return out
