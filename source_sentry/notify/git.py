"""The work tree's git history, read with the ``git`` command (read-only: no fetch, no
config change). The one module of ``notify`` that runs git."""

from __future__ import annotations

import shutil
import subprocess
from typing import NamedTuple

from source_sentry.notify.commits import (
    FIRST_RELEASE_COMMITS,
    LOG_FORMAT,
    MAX_COMMITS,
    History,
    LocalCommit,
    parse_log,
)
from source_sentry.notify.payloads import InputError


class Tree(NamedTuple):
    head: str
    remote_url: str | None
    shallow: bool
    depth: int  # commits reachable from HEAD in this clone (counted only when shallow)
    has_history: bool = True  # False: HEAD and remote from the CI's variables, no git here


class LocalGit:
    """The git work tree at ``cwd`` (the current directory by default)."""

    def __init__(self, cwd: str | None = None) -> None:
        self.cwd = cwd

    def _git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            ["git", *args], capture_output=True, text=True, cwd=self.cwd, check=False, timeout=60
        )
        if check and done.returncode != 0:
            problem = done.stderr.strip().splitlines()[-1:] or [f"exit code {done.returncode}"]
            if "dubious ownership" in done.stderr:
                raise InputError(
                    "git refuses to read this work tree: it belongs to another user. Run "
                    "'git config --global --add safe.directory \"$PWD\"' first, or pass --commits skip."
                )
            raise InputError(f"git {args[0]} failed: {problem[0]}")
        return done

    def tree(self) -> Tree | None:
        """HEAD, the remote and whether the clone is shallow; ``None`` outside a git work tree
        (or without git installed)."""
        if shutil.which("git") is None:
            return None
        probe = self._git(
            "rev-parse", "--is-inside-work-tree", "--is-shallow-repository", "HEAD", check=False
        )
        lines = probe.stdout.split()
        if probe.returncode != 0:
            if "dubious ownership" in probe.stderr:
                self._git("rev-parse", "HEAD")  # raises the explanation
            return None
        if len(lines) != 3 or lines[0] != "true":
            return None
        shallow = lines[1] == "true"
        depth = int(self._git("rev-list", "--count", "HEAD").stdout) if shallow else 0
        return Tree(lines[2], self._remote_url(), shallow, depth)

    def _remote_url(self) -> str | None:
        """``origin``'s URL, else the first remote's."""
        done = self._git("config", "--get-regexp", r"^remote\..*\.url$", check=False)
        urls = {}
        for line in done.stdout.splitlines():
            key, _, url = line.partition(" ")
            urls[key[len("remote.") : -len(".url")]] = url
        return urls.get("origin") or next(iter(urls.values()), None)

    def has_commit(self, sha: str) -> bool:
        return self._git("cat-file", "-e", f"{sha}^{{commit}}", check=False).returncode == 0

    def log(self, *revs: str, limit: int, since: str | None = None) -> list[LocalCommit]:
        extra = [f"--since={since}"] if since else []
        out = self._git("log", f"--format={LOG_FORMAT}", f"--max-count={limit}", *extra, *revs, "--")
        return parse_log(out.stdout)

    def count(self, *revs: str, since: str | None = None) -> int:
        extra = [f"--since={since}"] if since else []
        return int(self._git("rev-list", "--count", *extra, *revs, "--").stdout)

    def history(self, tree: Tree, previous: str | None, previous_date: str | None) -> History:
        """The commits of a release at HEAD whose previous release ended at ``previous``
        (created or released at ``previous_date``), at most ``MAX_COMMITS``."""
        if not previous:
            return History(self.log("HEAD", limit=FIRST_RELEASE_COMMITS), "first", self.count("HEAD"))
        if self.has_commit(previous):
            # git's range, not a walk back to the commit: merged branches count, and a previous
            # commit on another branch (a squashed one still fetched) ends at the merge base.
            span = f"{previous}..HEAD"
            return History(self.log(span, limit=MAX_COMMITS), "range", self.count(span))
        if tree.shallow:
            return History(self.log("HEAD", limit=MAX_COMMITS), "shallow", tree.depth)
        return History(
            self.log("HEAD", limit=MAX_COMMITS, since=previous_date),
            "since",
            self.count("HEAD", since=previous_date),
        )
