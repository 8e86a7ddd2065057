"""Transcripts of whole runs, compared verbatim with ``golden/*.txt``.

After an intended change of output, regenerate them and review the diff:
``UPDATE_GOLDEN=1 .venv/bin/pytest unit_tests/notify/test_notify_golden.py``.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import pytest

from unit_tests.notify.conftest import BASE, ORG, deploy_json, release_json

GOLDEN = Path(__file__).parent / "golden"
RELEASES = f"{BASE}/organizations/{ORG}/releases/"
DEPLOYS = f"{RELEASES}1.2.3/deploys/"
ARGS = ["--release", "1.2.3", "--env", "production", "--project", "web"]

pytestmark = pytest.mark.usefixtures("ci_env")


@pytest.fixture
def transcript(run_notify):
    def check(name: str, *args: str) -> None:
        result = run_notify(*args)
        text = (
            f"$ {shlex.join(['source-sentry', 'notify', *args])}\n"
            f"exit status: {result.code}\n--- stdout\n{result.out}--- stderr\n{result.err}"
        )
        path = GOLDEN / f"{name}.txt"
        if os.environ.get("UPDATE_GOLDEN"):
            path.write_text(text, encoding="utf-8")
        assert text == path.read_text(encoding="utf-8")

    return check


def test_given_help_flag_when_run_then_transcript_matches_golden(sentry, transcript):
    transcript("help", "--help")
    assert sentry.call_count == 0


def test_given_new_release_when_notifying_then_transcript_matches_golden(healthy_sentry, transcript):
    healthy_sentry.post(RELEASES, status_code=201, json=release_json())
    healthy_sentry.post(DEPLOYS, status_code=201, json=deploy_json())
    transcript("new_release", *ARGS, "--name", "build 9", "--url", "https://ci.example.com/9", "--time", "95")


def test_given_existing_release_and_finalize_when_notifying_then_transcript_matches_golden(
    healthy_sentry, transcript
):
    healthy_sentry.post(RELEASES, status_code=208, json=release_json(projects=("web", "api")))
    healthy_sentry.put(f"{RELEASES}1.2.3/", json=release_json(projects=("web", "api")))
    healthy_sentry.post(DEPLOYS, status_code=201, json=deploy_json())
    transcript("existing_release_finalized", *ARGS, "--project", "api", "--finalize")


def test_given_json_flag_when_notifying_then_transcript_matches_golden(healthy_sentry, transcript):
    healthy_sentry.post(RELEASES, status_code=208, json=release_json())
    healthy_sentry.post(DEPLOYS, status_code=201, json=deploy_json(dateStarted="2024-05-01T09:58:00Z"))
    transcript("json", *ARGS, "--started", "2024-05-01T11:58:00+02:00", "--json")


def test_given_dry_run_when_notifying_then_transcript_matches_golden(healthy_sentry, transcript):
    transcript("dry_run", *ARGS, "--dry-run", "--finalize", "--started", "1714557480")


def test_given_uncertain_deploy_answer_when_notifying_then_transcript_matches_golden(
    healthy_sentry, transcript
):
    healthy_sentry.post(RELEASES, status_code=208)
    healthy_sentry.post(DEPLOYS, status_code=502, text="<title>502 Bad Gateway</title>")
    healthy_sentry.get(DEPLOYS, json=[deploy_json("42")])
    transcript("deploy_found_after_uncertain_answer", *ARGS)


def test_given_bad_version_when_notifying_then_transcript_matches_golden(sentry, transcript):
    transcript("bad_version", "--release", "feature/login", "--env", "production", "--project", "web")


def test_given_missing_scope_when_notifying_then_transcript_matches_golden(healthy_sentry, transcript):
    refused = {"detail": "You do not have permission to perform this action."}
    healthy_sentry.post(RELEASES, status_code=403, json=refused)
    healthy_sentry.get(RELEASES, status_code=403, json=refused)
    transcript("missing_scope", *ARGS)
