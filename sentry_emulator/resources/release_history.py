"""The newest earlier release with commits: where sentry-cli's ``set-commits --local`` starts
reading history (``previous-with-commits``, an undocumented route Sentry keeps for it)."""

from __future__ import annotations

from .. import serialize, vcs
from ..auth import RELEASE_READ
from ..routing import route
from .releases import RELEASE, find_release


@route("GET", RELEASE + "previous-with-commits/", faults={"releases"}, category="releases")
def previous_with_commits(emu, req, org: str, version: str):
    rel = find_release(emu, req, org, version, RELEASE_READ)
    with emu.world.lock:
        previous = vcs.previous_with_commits(emu.world, rel)
        # No such release: an empty object, not a 404 (Sentry's own choice).
        return 200, serialize.release(emu.world, previous) if previous else {}
