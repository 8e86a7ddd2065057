"""A client error that no retry can fix ends the sync on Sentry's first answer, naming the
request and quoting Sentry, instead of retrying it for minutes."""

from __future__ import annotations

import pytest

from tools.airbyte_run import warm_source

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        ("org_issues:422", "422 Unprocessable Entity"),
        ("org_issues:410", "410 Gone"),
        ("events:409", "Sentry refused"),
    ],
)
def test_given_unexpected_client_error_when_read_then_fails_on_first_answer(
    make_emulator, workdir, fault: str, words: str
) -> None:
    emu = make_emulator(faults=fault, projects=1)
    stream, path_part = ("issues", "/issues/") if "issues" in fault else ("events", "/events/")

    run = warm_source("read", workdir, emu.config(), streams=[stream])

    assert run.returncode != 0
    failed = [r for r in emu.requests if path_part in r["path"]]
    # One answer per request, never a retry: events read each time window of the project as its
    # own request (event_window_days), so each window is refused once.
    assert failed
    assert {r["status"] for r in failed} == {int(fault.split(":")[1])}
    asked = [repr(sorted(r["query"].items())) for r in failed]
    assert len(asked) == len(set(asked)), asked
    messages = [e["message"] for e in run.errors]
    assert any(words in m and path_part in m for m in messages), messages
    assert emu.token not in run.stdout + run.stderr
