"""Pure building of a release's commits: which repository Sentry knows this work tree as,
and the ``refs`` or ``commits`` bodies. No git, no HTTP.

- ``refs`` name the repository as Sentry lists it and HEAD's sha: Sentry's integration reads
  the range from the repository's host itself (from the head commit of the release before).
- ``commits`` carry what the local history says: sha, author, message and the committer
  date as ``timestamp``. Sentry sorts the list by that timestamp and takes the newest as the
  release's ``lastCommit``, where the next release's range starts; committer dates follow
  the history's order even after a rebase (author dates do not), so that stays HEAD.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple

from source_sentry.notify.payloads import format_time

MODES = ("auto", "local", "skip")
# A release's list sent from local history holds at most this many commits (GitHub's compare,
# which Sentry's integration reads ranges from, stops at 250 too).
MAX_COMMITS = 250
# With no earlier release that has commits: the newest 20, as sentry-cli's --initial-depth.
FIRST_RELEASE_COMMITS = 20
# Providers whose repositories Sentry can read commits from (the ones sentry-cli matches).
GIT_PROVIDERS = frozenset(
    {
        "git",
        "github",
        "bitbucket",
        "visualstudio",
        "google",
        "integrations:github",
        "integrations:github_enterprise",
        "integrations:gitlab",
        "integrations:bitbucket",
        "integrations:bitbucket_server",
        "integrations:vsts",
    }
)
FIELD, RECORD = "\x1f", "\x1e"
LOG_FORMAT = FIELD.join(("%H", "%an", "%ae", "%cI", "%B")) + RECORD

_URL = re.compile(r"^(?:git\+)?(?:git|ssh|https?)://(?:[^@/]+@)?([^/]+)/(.+)$")
_SCP = re.compile(r"^(?:[^@/]+@)?([^/:]+):(.+)$")


class LocalCommit(NamedTuple):
    sha: str
    author_name: str
    author_email: str
    timestamp: str
    message: str


class History(NamedTuple):
    """Commits read from the work tree for one release, newest first.

    ``basis``: ``range`` (from the previous release's commit to HEAD), ``first`` (no earlier
    release with commits: the newest few), ``shallow`` (the previous commit is beyond a
    shallow clone's history: all the clone has), ``since`` (the previous commit is in no
    branch here, squashed or rebased away: the commits made after that release).
    ``total``: how many the range holds, when more than were read."""

    commits: list[LocalCommit]
    basis: str
    total: int


def parse_log(text: str) -> list[LocalCommit]:
    """``git log --format=LOG_FORMAT`` output."""
    out = []
    for record in text.split(RECORD):
        record = record.strip("\n")
        if record:
            sha, name, email, date, message = record.split(FIELD, 4)
            # As every time the notifier sends: UTC with a Z.
            when = format_time(datetime.fromisoformat(date))
            out.append(LocalCommit(sha, name, email, when, message.strip()))
    return out


# What a CI job says about its checkout, for refs where no git work tree is (the image has no
# git): (sha variable, repository URL variables). GitHub's URL is built from two.
CI_CHECKOUTS = (
    ("GITHUB_SHA", ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY")),
    ("CI_COMMIT_SHA", ("CI_PROJECT_URL",)),  # GitLab
    ("DRONE_COMMIT_SHA", ("DRONE_REMOTE_URL",)),
    ("CI_COMMIT_SHA", ("CI_REPO_CLONE_URL",)),  # Woodpecker
)

CI_NAMES = frozenset(name for sha, urls in CI_CHECKOUTS for name in (sha, *urls))


def ci_checkout(environ: Mapping[str, str]) -> tuple[str, str] | None:
    """(HEAD's sha, the repository's URL) from a CI system's variables, if it set them."""
    for sha_name, url_names in CI_CHECKOUTS:
        sha, parts = environ.get(sha_name, ""), [environ.get(n, "").strip("/") for n in url_names]
        if re.fullmatch(r"[0-9a-f]{40}", sha) and all(parts):
            return sha, "/".join(parts)
    return None


def remote_key(url: str) -> tuple[str, str] | None:
    """(host, path) of a git remote URL, as sentry-cli compares them: no user, port or
    ``.git``, lower case. ``None`` for a local path or ``file://`` remote."""
    match = _URL.match(url.strip()) or _SCP.match(url.strip())
    if match is None or url.startswith("file:"):
        return None
    host, path = match.groups()
    host = host.rsplit(":", 1)[0] if re.search(r":\d+$", host) else host
    path = path.strip("/")
    path = path[: -len(".git")] if path.endswith(".git") else path
    return host.lower(), path.lower()


def repository_name(url: str | None) -> str | None:
    """The ``owner/name`` a remote URL points at, case kept: the name commits are filed under
    when Sentry has no repository for this remote."""
    if url is None or remote_key(url) is None:
        return None
    match = _URL.match(url.strip()) or _SCP.match(url.strip())
    assert match is not None
    path = match.group(2).strip("/")
    return path[: -len(".git")] if path.endswith(".git") else path


def match_repository(remote_url: str | None, repositories: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The repository of the organization whose URL is this remote's, among those whose
    provider Sentry can read commits from."""
    key = remote_key(remote_url) if remote_url else None
    if key is None:
        return None
    for repo in repositories:
        provider = (repo.get("provider") or {}).get("id")
        url = repo.get("url")
        if provider in GIT_PROVIDERS and isinstance(url, str) and remote_key(url) == key:
            return repo
    return None


def refs_body(repository: str, head: str) -> dict[str, Any]:
    return {"refs": [{"repository": repository, "commit": head}]}


def commits_body(history: History, repository: str | None) -> dict[str, Any]:
    """Sentry files commits without a repository under ``organization-<id>``."""
    commits = []
    for c in history.commits:
        item: dict[str, Any] = {"id": c.sha}
        if repository:
            item["repository"] = repository
        item.update(
            author_name=c.author_name, author_email=c.author_email, message=c.message, timestamp=c.timestamp
        )
        commits.append(item)
    return {"commits": commits}


def release_commits(release: dict[str, Any]) -> tuple[int, str | None]:
    """(commitCount, lastCommit's sha) of a release Sentry answered with."""
    last = release.get("lastCommit")
    sha = last.get("id") if isinstance(last, dict) else None
    count = release.get("commitCount")
    return (count if isinstance(count, int) else 0), (sha if isinstance(sha, str) else None)


def short(sha: str | None) -> str:
    return (sha or "")[:12]
