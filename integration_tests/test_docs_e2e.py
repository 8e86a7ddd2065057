"""What the docs say a sync does, checked against what a sync sends: the request windows' reach
past the settled end is stated in the README and in docs/sentry.md, and measured here from the
events requests of a read."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tools.airbyte_run import warm_source

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[1]
SPANS = {"an hour": timedelta(hours=1), "a day": timedelta(days=1), "a minute": timedelta(minutes=1)}
STATEMENTS = {
    "README.md": r"Request windows reach\s+(an hour|a day|a minute)\s+past",
    "docs/sentry.md": r"every request window ends\s+(an hour|a day|a minute)\s+(?:past|after)",
}


def stated_reach(document: str) -> timedelta:
    found = re.search(STATEMENTS[document], (ROOT / document).read_text())
    assert found, f"{document} no longer states the windows' reach: update STATEMENTS"
    return SPANS[found.group(1)]


def test_given_a_read_then_event_windows_reach_past_the_settled_end_as_far_as_the_docs_say(
    emulator, workdir: Path
) -> None:
    settle = 300
    config = emulator.config(projects=emulator.project_slugs[:1], settle_seconds=settle, num_workers=1)
    started = datetime.now(UTC)

    run = warm_source("read", workdir, config, streams=["events"], mode="full_refresh")

    assert not run.errors, run.errors
    ends = [
        datetime.fromisoformat(r["query"]["end"][0]).replace(tzinfo=UTC)
        for r in emulator.requests
        if r["path"].endswith("/events/")
    ]
    assert ends
    reach = max(ends) - (started - timedelta(seconds=settle))
    for document in STATEMENTS:
        assert abs(reach - stated_reach(document)) < timedelta(minutes=2), (document, reach)
