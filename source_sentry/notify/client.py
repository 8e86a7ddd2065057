"""The notifier's writes to Sentry: the one module of ``notify`` that does HTTP.

Steps, in order: ensure the release exists (POST, where 201 "created" and 208 "already
exists" are both success; a 409 creation race is retried once, then the release is
fetched), optionally finalize it, link its commits, then record the deploy. Without commits
that is two requests when all goes well, as sentry-cli sends: nothing is read before writing
unless an answer was ambiguous. Commits read the organization's repositories before anything
is written (an explicit ``auto`` with none to match fails there), then PUT ``refs`` or
``commits`` once the release's answer shows it has none (local history first asks where the
previous release ended). The release POST is itself the connection check (Sentry answers it 401 for a bad
token, 403 for a missing scope, 404 for an unknown organization, 400 for an unknown
project); only when it is refused so is the shared check routine run, to say exactly what
to fix. ``--finalize`` sends ``dateReleased`` with the POST; a PUT follows only when the
answer shows the release without it (a release that existed keeps its own date).

Creating a release is idempotent on Sentry's side, so it may be retried freely. GlitchTip
answers a repeated create with 500 instead of 208: a release that a read then finds counts
as existing. GlitchTip has no deploys at all; a deploy is not sent to a server known to be
GlitchTip (``server`` in the config), and a refused deploy POST is checked against
GlitchTip's own ``/api/settings/`` before it is called a scope problem. Creating a
deploy is not: every POST makes a new deploy. So when the deploy POST fails in a way that
may have reached the server (a read timeout, a dropped connection, 502/503/504), it is not
simply sent again: after a short pause the release's deploys are listed and a deploy with
the same environment, name, dateStarted and dateFinished is taken as ours. Only when none
is found is the POST repeated, a bounded number of times. 429 answers are safe to repeat
(Sentry refused them before doing anything) and are retried by ``SentryApi`` after waiting
for the rate-limit window to reset.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

from source_sentry.config import ConfigError
from source_sentry.notify.commits import (
    History,
    commits_body,
    match_repository,
    refs_body,
    release_commits,
    remote_key,
    repository_name,
)
from source_sentry.notify.payloads import Notification, PlannedRequest, path_segment
from source_sentry.sentry_api import (
    OutcomeUnknown,
    SentryApi,
    SentryUnavailable,
    describe_error,
    raise_for_status,
)
from source_sentry.transport import Response

DEPLOY_ATTEMPTS = 3


class Step(NamedTuple):
    """One completed write. ``outcome``: created, exists, finalized, recorded or found.
    ``data``: Sentry's answer, read only (the default is shared)."""

    kind: str
    outcome: str
    status: int | None
    data: dict[str, Any] = {}


# Statuses of the release POST that say the settings are wrong: the check routine then says how.
# GlitchTip answers 422 when none of the projects is one of the organization's.
CHECKED_REFUSALS = (400, 401, 403, 404, 422)


def notify(
    api: SentryApi,
    notification: Notification,
    on_step: Callable[[Step], None],
    *,
    server: str = "sentry",
    diagnose: Callable[[], object] | None = None,
    commits: CommitRequest | None = None,
) -> list[Step]:
    """Run every write of ``notification``; call ``on_step`` after each one. ``server``:
    ``sentry`` or ``glitchtip`` (which records no deploys). ``diagnose``: the connection
    check, run when the release POST is refused with one of ``CHECKED_REFUSALS``; it raises
    ``ConfigError`` naming what to fix, else the refusal is reported as Sentry worded it.
    ``commits``: link the work tree's commits to the release (decided before anything is
    written, so an explicit ``auto`` with no repository to match fails having written
    nothing)."""
    steps = []
    plan = plan_commits(api, notification, commits, server) if commits is not None else None
    release = ensure_release(api, notification, diagnose)
    on_step(release)
    steps.append(release)
    dropped = notification.dropped_projects(release.data)
    if dropped:
        raise ConfigError(dropped_projects_message(notification, dropped, server), status=release.status)
    if notification.finalize:
        finalize = finalize_release(api, notification, release)
        on_step(finalize)
        steps.append(finalize)
    if plan is not None:
        linked = link_commits(api, notification, plan, release)
        on_step(linked)
        steps.append(linked)
    deploy = (no_deploys if server == "glitchtip" else record_deploy)(api, notification)
    on_step(deploy)
    steps.append(deploy)
    return steps


def ensure_release(
    api: SentryApi, notification: Notification, diagnose: Callable[[], object] | None = None
) -> Step:
    body = notification.release_body()
    for _ in range(2):
        response = api.request("POST", notification.releases_path, json_body=body)
        if response.status_code in (201, 208):
            outcome = "created" if response.status_code == 201 else "exists"
            return Step("release", outcome, response.status_code, _json(response))
        if response.status_code == 500:
            # GlitchTip's answer to creating a version it has (Sentry's is 208).
            found = api.request("GET", notification.release_path)
            if found.status_code == 200:
                return Step("release", "exists", 500, _json(found))
        if response.status_code in CHECKED_REFUSALS and diagnose is not None:
            diagnose()
        if response.status_code != 409:
            _refused(response, notification, f"create release {notification.version}")
    # Two creations raced twice: the release exists now, or something is wrong.
    response = api.request("GET", notification.release_path)
    if response.status_code != 200:
        _refused(response, notification, f"fetch release {notification.version} after a 409")
    return Step("release", "exists", 409, _json(response))


def dropped_projects_message(notification: Notification, dropped: list[str], server: str) -> str:
    """GlitchTip keeps the projects it knows and drops the others without a word (Sentry refuses
    the whole request instead): a release recorded for fewer projects than asked is a failure."""
    kept = [p for p in notification.projects if p not in dropped]
    return (
        f"{'GlitchTip' if server == 'glitchtip' else 'The server'} recorded release {notification.version} "
        f"for {', '.join(kept) or 'no project'} only and dropped {', '.join(dropped)}: not a project of "
        f"organization {notification.organization!r} (mistyped, renamed or deleted?) or not one the token "
        "may see. Correct --project (or SENTRY_PROJECT) and run it again; no finalize or deploy was sent."
    )


def finalize_release(api: SentryApi, notification: Notification, release: Step | None = None) -> Step:
    """Set ``dateReleased``, unless the release step's answer shows it set already (the POST
    carried it, and Sentry keeps it on a release that POST created)."""
    if release is not None and notification.is_finalized_by(release.data):
        return Step("finalize", "finalized", release.status, release.data)
    response = api.request("PUT", notification.release_path, json_body=notification.finalize_body())
    if response.status_code != 200:
        _refused(response, notification, f"finalize release {notification.version}")
    return Step("finalize", "finalized", response.status_code, _json(response))


def record_deploy(api: SentryApi, notification: Notification) -> Step:
    attempt = 0
    while True:
        attempt += 1
        try:
            response = api.request(
                "POST", notification.deploys_path, json_body=notification.deploy_body(), idempotent=False
            )
        except OutcomeUnknown:
            api.pause(api.backoff(attempt))
            found = find_deploy(api, notification)
            if found is not None:
                return Step("deploy", "found", None, found)
            if attempt == DEPLOY_ATTEMPTS:
                raise
            continue
        if response.status_code in (403, 404, 405) and is_glitchtip(api):
            return no_deploys(api, notification, response.status_code)
        if response.status_code != 201:
            _refused(response, notification, f"record the deploy of {notification.version}")
        return Step("deploy", "recorded", 201, _json(response))


def no_deploys(api: SentryApi, notification: Notification, status: int | None = None) -> Step:
    """GlitchTip's answer to a deploy: none is recorded, and the token is not to blame."""
    return Step("deploy", "unsupported", status)


def is_glitchtip(api: SentryApi) -> bool:
    """Whether the server is GlitchTip: it serves ``/api/settings/`` beside ``/api/0/`` (Sentry
    has no such route), describing itself with fields only GlitchTip has."""
    try:
        response = api.request("GET", "../settings/")  # SentryApi.url resolves the `..`
        body = response.json() if response.status_code == 200 else None
    except (ValueError, SentryUnavailable):
        return False
    return isinstance(body, dict) and "iPaidForGlitchTip" in body


def find_deploy(api: SentryApi, notification: Notification) -> dict[str, Any] | None:
    """A deploy already in Sentry matching ours, if an earlier uncertain POST made it."""
    for deploy in api.paginate(notification.deploys_path, max_pages=10):
        if isinstance(deploy, dict) and notification.is_this_deploy(deploy):
            return deploy
    return None


class CommitSource(Protocol):
    """The work tree's history (``git.LocalGit``): what ``local`` reads."""

    def history(self, tree: Any, previous: str | None, previous_date: str | None) -> History: ...


class CommitRequest(NamedTuple):
    """``--commits``: ``mode`` auto or local, ``explicit`` when the person chose it, ``tree``
    the work tree (``git.Tree``: head, remote_url, shallow), ``source`` its history."""

    mode: str
    explicit: bool
    tree: Any
    source: CommitSource


class CommitPlan(NamedTuple):
    """How the commits will be linked: ``kind`` refs, local, unsupported (GlitchTip) or
    unavailable (no repository to match and no history to read);
    ``repository``: the name they go under; ``reason``: why not refs."""

    kind: str
    request: CommitRequest | None
    repository: str | None = None
    reason: str | None = None


def plan_commits(
    api: SentryApi, notification: Notification, commits: CommitRequest, server: str = "sentry"
) -> CommitPlan:
    """Match the work tree's remote against the organization's repositories (one read)."""
    if server == "glitchtip":
        return CommitPlan("unsupported", commits)
    repos, problem = _repositories(api, notification)
    if repos is None and problem == "404" and is_glitchtip(api):
        return CommitPlan("unsupported", commits)
    remote = commits.tree.remote_url
    match = match_repository(remote, repos or [])
    if match is not None and commits.mode == "auto":
        return CommitPlan("refs", commits, str(match["name"]))
    if commits.mode == "auto":
        reason = _no_match(remote, repos, problem, notification.organization)
        if commits.explicit:
            raise ConfigError(
                f"--commits auto: {reason}. Connect the repository to Sentry (Settings > Integrations), or "
                "pass --commits local to send the commits from this clone's history. Nothing was written."
            )
        if not commits.tree.has_history:
            return CommitPlan("unavailable", commits, None, reason)
        return CommitPlan("local", commits, repository_name(remote), reason)
    return CommitPlan("local", commits, str(match["name"]) if match else repository_name(remote))


def _repositories(
    api: SentryApi, notification: Notification
) -> tuple[list[dict[str, Any]] | None, str | None]:
    path = f"organizations/{path_segment(notification.organization)}/repos/"
    repos: list[dict[str, Any]] = []
    params: dict[str, str] = {}
    for _ in range(10):  # 1,000 repositories at most
        response = api.request("GET", path, params=params)
        if response.status_code != 200:
            return None, str(response.status_code)
        try:
            page = response.json()
        except ValueError:
            page = None
        repos += [r for r in page if isinstance(r, dict)] if isinstance(page, list) else []
        following = response.links.get("next", {})
        if following.get("results") != "true" or not following.get("cursor"):
            break
        params = {"cursor": following["cursor"]}
    return repos, None


def _no_match(remote: str | None, repos: list[dict[str, Any]] | None, problem: str | None, org: str) -> str:
    if repos is None:
        scope = ": the token needs org:read or org:ci" if problem == "403" else ""
        return f"could not list the repositories of {org} in Sentry ({problem}{scope})"
    if remote is None:
        return "this work tree has no git remote to match against Sentry's repositories"
    if remote_key(remote) is None:
        return f"the remote {remote} is a local path, which no repository in Sentry can match"
    name = (repository_name(remote) or "").lower()
    if any(str(r.get("name", "")).lower() == name for r in repos):
        return (
            f"Sentry knows {name} only by name, from commits sent before, with no integration to "
            f"read its history from (the remote is {remote})"
        )
    known = ", ".join(str(r.get("name")) for r in repos[:5]) or "none"
    more = f" and {len(repos) - 5} more" if len(repos) > 5 else ""
    return f"no repository of {org} in Sentry matches the remote {remote} (Sentry has: {known}{more})"


def link_commits(api: SentryApi, notification: Notification, plan: CommitPlan, release: Step) -> Step:
    """Set the release's commits once: a release that has some keeps them."""
    info: dict[str, Any] = {"kind": plan.kind, "repository": plan.repository, "reason": plan.reason}
    if plan.kind in ("unsupported", "unavailable") or plan.request is None:
        return Step("commits", plan.kind, None, info)
    tree = plan.request.tree
    info["head"] = tree.head
    count, last = release_commits(release.data)
    if count:
        return Step("commits", "kept", release.status, info | {"count": count, "last": last})
    body = _commits_body(api, notification, plan, info)
    if body is None:
        return Step("commits", "none", None, info)
    response = api.request("PUT", notification.release_path, json_body=body)
    if response.status_code != 200:
        _refused(response, notification, f"set the commits of release {notification.version}")
    return Step("commits", "linked", 200, info | {"body": body})


def _commits_body(
    api: SentryApi, notification: Notification, plan: CommitPlan, info: dict[str, Any], *, exists: bool = True
) -> dict[str, Any] | None:
    """The PUT body; for local, reads where the previous release ended (``info`` records it)."""
    assert plan.request is not None
    tree = plan.request.tree
    if plan.kind == "refs":
        assert plan.repository is not None
        return refs_body(plan.repository, tree.head)
    previous = previous_release(api, notification, exists=exists)
    last = previous.get("lastCommit") if previous else None
    previous_sha = last.get("id") if isinstance(last, dict) else None
    previous_date = (previous.get("dateReleased") or previous.get("dateCreated")) if previous else None
    history = plan.request.source.history(tree, previous_sha, previous_date)
    info.update(
        previous=previous_sha,
        previous_version=previous.get("version") if previous else None,
        previous_date=previous_date,
        basis=history.basis,
        total=history.total,
        sent=len(history.commits),
        oldest=history.commits[-1].sha if history.commits else None,
    )
    return commits_body(history, plan.repository) if history.commits else None


def previous_release(
    api: SentryApi, notification: Notification, *, exists: bool = True
) -> dict[str, Any] | None:
    """The newest earlier release of these projects with commits, as sentry-cli asks for it
    (``previous-with-commits``). For a release not created yet (a dry run) that route answers
    404, so the newest such release in the list (newest first) stands in."""
    if exists:
        response = api.request("GET", f"{notification.release_path}previous-with-commits/")
        if response.status_code != 200:
            _refused(response, notification, f"find the release before {notification.version}")
        found = _json(response)
        return found if found.get("version") not in (None, notification.version) else None
    response = api.request("GET", notification.releases_path, params={"per_page": 100})
    listed = response.json() if response.status_code == 200 else []
    for release in listed if isinstance(listed, list) else []:
        slugs = {p.get("slug") for p in release.get("projects", []) if isinstance(p, dict)}
        if release.get("lastCommit") and slugs & set(notification.projects):
            return release if isinstance(release, dict) else None
    return None


def preview_commits(
    api: SentryApi, notification: Notification, plan: CommitPlan
) -> tuple[PlannedRequest | None, dict[str, Any]]:
    """What ``link_commits`` would send, for a dry run (reads only)."""
    info: dict[str, Any] = {"kind": plan.kind, "repository": plan.repository, "reason": plan.reason}
    if plan.kind in ("unsupported", "unavailable") or plan.request is None:
        return None, info | {"outcome": plan.kind}
    info["head"] = plan.request.tree.head
    found = api.request("GET", notification.release_path)
    count, last = release_commits(_json(found)) if found.status_code == 200 else (0, None)
    if count:
        return None, info | {"count": count, "last": last, "outcome": "kept"}
    body = _commits_body(api, notification, plan, info, exists=found.status_code == 200)
    if body is None:
        return None, info
    return PlannedRequest(
        "PUT", notification.release_path, body, "unless the release has commits already"
    ), info


def _json(response: Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _refused(response: Response, notification: Notification, what: str) -> None:
    """Raise an actionable ``ConfigError`` for a 4xx, ``SentryError`` for anything else."""
    status = response.status_code
    reason = describe_error(response)
    hints = {
        400: "check the version, the --project slugs (each must belong to the organization and, for "
        "deploys, to the release) and the --env value",
        401: "the auth token was rejected: check it is current and for this Sentry server",
        403: "give the token the project:releases scope (or project:write; organization tokens have org:ci)",
        404: f"check the organization {notification.organization!r} and that the token can see the "
        f"projects {', '.join(notification.projects)}",
        422: f"none of the projects {', '.join(notification.projects)} is one of organization "
        f"{notification.organization!r} that the token may see: check --project",
    }
    if status in hints:
        raise ConfigError(
            f"Sentry refused to {what} ({status}): {reason}. To fix: {hints[status]}.", status=status
        )
    raise_for_status(response, f"Could not {what}")
