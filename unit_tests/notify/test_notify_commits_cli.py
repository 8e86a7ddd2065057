"""Choosing ``--commits``: flag, environment (PLUGIN_ names too), the default, bad values."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from unit_tests.notify.conftest import BASE, ORG, deploy_json, release_json

RELEASES = f"{BASE}/organizations/{ORG}/releases/"
DEPLOYS = f"{RELEASES}1.2.3/deploys/"
ARGS = ("--release", "1.2.3", "--env", "production", "--project", "web")

pytestmark = pytest.mark.usefixtures("ci_env")


@pytest.fixture
def work_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The current directory becomes a git work tree with one commit."""
    people = {f"GIT_{who}_{what}": value for who in ("AUTHOR", "COMMITTER") for what, value in
              (("NAME", "A"), ("EMAIL", "a@example.com"))}  # fmt: skip
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, **people}
    for args in (["init", "-q"], ["commit", "-q", "--allow-empty", "-m", "one"]):
        subprocess.run(["git", *args], cwd=tmp_path, env=env, check=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_given_unknown_mode_when_notifying_then_exit_2_and_nothing_sent(sentry, run_notify):
    result = run_notify(*ARGS, "--commits", "everything")

    assert result.code == 2
    assert "--commits 'everything': use auto, local or skip." in result.err
    assert sentry.call_count == 0


def test_given_local_chosen_outside_a_work_tree_when_notifying_then_exit_2_and_nothing_sent(
    sentry, run_notify
):
    result = run_notify(*ARGS, "--commits", "local")

    assert result.code == 2
    assert "--commits local needs a git work tree" in result.err
    assert sentry.call_count == 0


@pytest.mark.parametrize("name", ["SENTRY_COMMITS", "PLUGIN_SENTRY_COMMITS", "sentry_commits"])
def test_given_skip_from_the_environment_in_a_work_tree_when_notifying_then_no_commit_request(
    work_tree, healthy_sentry, run_notify, monkeypatch, name
):
    monkeypatch.setenv(name, "skip")
    healthy_sentry.post(RELEASES, status_code=201, json=release_json())
    healthy_sentry.post(DEPLOYS, status_code=201, json=deploy_json())

    result = run_notify(*ARGS)

    assert result.code == 0, result.err
    assert [(r.method, r.url) for r in healthy_sentry.request_history] == [
        ("POST", RELEASES),
        ("POST", DEPLOYS),
    ]


def test_given_default_in_a_work_tree_when_repositories_refused_then_local_history_sent_saying_why(
    work_tree, healthy_sentry, run_notify
):
    healthy_sentry.get(f"{BASE}/organizations/{ORG}/repos/", status_code=403, json={"detail": "no"})
    healthy_sentry.post(RELEASES, status_code=201, json=release_json())
    healthy_sentry.get(f"{RELEASES}1.2.3/previous-with-commits/", json={})
    healthy_sentry.put(f"{RELEASES}1.2.3/", json=release_json())
    healthy_sentry.post(DEPLOYS, status_code=201, json=deploy_json())

    result = run_notify(*ARGS)

    assert result.code == 0, result.err
    (put,) = [r for r in healthy_sentry.request_history if r.method == "PUT"]
    assert [c["message"] for c in put.json()["commits"]] == ["one"]
    assert "repository" not in put.json()["commits"][0]  # no remote: Sentry names it
    assert "the repositories of acme in Sentry (403: the token needs org:read or org:ci)" in result.out
