"""`source-sentry notify --commits` in real git repositories against the emulator: which
commits each release ends up with, read back from Sentry's release commits list."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

from integration_tests.test_notify_e2e import notify, writes

pytestmark = pytest.mark.e2e

REMOTE = "https://github.com/acme/shop.git"
OTHER_REMOTE = "git@github.com:acme/elsewhere.git"
# Nothing from the machine's git configuration; fixed names and dates.
GIT_ENV = {
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Ada Lovelace",
    "GIT_AUTHOR_EMAIL": "ada@example.com",
    "GIT_COMMITTER_NAME": "Ada Lovelace",
    "GIT_COMMITTER_EMAIL": "ada@example.com",
}


def git(cwd: Path, *args: str, when: str | None = None) -> str:
    env = {**os.environ, **GIT_ENV}
    if when:
        env.update(GIT_AUTHOR_DATE=when, GIT_COMMITTER_DATE=when)
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def commit(repo: Path, message: str, day: int) -> str:
    (repo / "log.txt").open("a").write(f"{message}\n")
    git(repo, "add", "log.txt")
    git(repo, "commit", "-q", "-m", message, when=f"2024-01-{day:02d}T10:00:00Z")
    return git(repo, "rev-parse", "HEAD")


def clone(origin: Path, dest: Path, *flags: str, remote: str = REMOTE) -> Path:
    """A CI checkout: cloned over file:// (so --depth holds), its remote then named as the host's."""
    git(origin.parent, "clone", "-q", *flags, f"file://{origin}", str(dest))
    git(dest, "remote", "set-url", "origin", remote)
    return dest


@pytest.fixture
def origin(tmp_path: Path) -> tuple[Path, list[str]]:
    """The repository on its host: two commits on main."""
    repo = tmp_path / "origin"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    return repo, [commit(repo, "Start the shop", 1), commit(repo, "Add the cart", 2)]


@pytest.fixture
def sentry(make_emulator):
    return make_emulator(releases=0, projects=1, events=5, issues=1)


def connect(sentry, origin: Path) -> None:
    """The repository as Sentry's GitHub integration lists it."""
    sentry.add_repository("acme/shop", url="https://github.com/acme/shop", path=str(origin))


def release_commits(emu, version: str) -> list[str]:
    url = f"{emu.base_url}/api/0/organizations/{emu.organization}/releases/{quote(version, safe='')}/commits/"
    answer = requests.get(url, headers={"Authorization": f"Bearer {emu.token}"}, timeout=10)
    answer.raise_for_status()
    return [c["id"] for c in answer.json()]


def run(emu, checkout: Path, version: str, *args: str, env: str = "production"):
    project = emu.project_slugs[0]
    result = notify(emu, "--release", version, "--env", env, "--project", project, *args, cwd=checkout)
    assert result.code == 0, result.err
    return result


def requests_made(emu) -> list[str]:
    return [f"{r['method']} {r['path'].split('/api/0/organizations/acme/')[-1]}" for r in emu.requests]


def test_given_full_clone_of_connected_repository_when_notifying_then_refs_give_each_release_its_range(
    sentry, origin, tmp_path
):
    repo, (c1, c2) = origin
    connect(sentry, repo)
    run(sentry, clone(repo, tmp_path / "ci1"), "1.0")
    c3, c4 = commit(repo, "Pay by card", 3), commit(repo, "Ship abroad", 4)
    sentry.reset_log()

    result = run(sentry, clone(repo, tmp_path / "ci2"), "1.1")
    sent = requests_made(sentry)

    assert release_commits(sentry, "1.0") == [c2, c1]
    assert release_commits(sentry, "1.1") == [c4, c3]
    assert sent == ["GET repos/", "POST releases/", "PUT releases/1.1/", "POST releases/1.1/deploys/"]
    assert writes(sentry)[1]["body"] == {"refs": [{"repository": "acme/shop", "commit": c4}]}
    assert f"Commits of 1.1 linked through acme/shop at {c4[:12]}" in result.out


def test_given_depth_1_clone_of_connected_repository_when_notifying_then_sentry_still_finds_the_range(
    sentry, origin, tmp_path
):
    repo, (c1, c2) = origin
    connect(sentry, repo)
    run(sentry, clone(repo, tmp_path / "ci1", "--depth", "1"), "1.0")
    c3 = commit(repo, "Pay by card", 3)

    run(sentry, clone(repo, tmp_path / "ci2", "--depth", "1"), "1.1")

    assert release_commits(sentry, "1.0") == [c2, c1]
    assert release_commits(sentry, "1.1") == [c3]


def test_given_depth_1_clone_and_no_matching_repository_when_notifying_then_local_names_the_gap(
    sentry, origin, tmp_path
):
    repo, (c1, c2) = origin
    run(sentry, clone(repo, tmp_path / "full", remote=OTHER_REMOTE), "1.0")
    commit(repo, "Pay by card", 3)
    c4 = commit(repo, "Ship abroad", 4)
    sentry.reset_log()

    result = run(sentry, clone(repo, tmp_path / "shallow", "--depth", "1", remote=OTHER_REMOTE), "1.1")
    sent = requests_made(sentry)

    assert release_commits(sentry, "1.0") == [c2, c1]
    assert release_commits(sentry, "1.1") == [c4]  # c3 is beyond the clone's depth
    assert sent == [
        "GET repos/",
        "POST releases/",
        "GET releases/1.1/previous-with-commits/",
        "PUT releases/1.1/",
        "POST releases/1.1/deploys/",
    ]
    (put,) = [w for w in writes(sentry) if w["method"] == "PUT"]
    assert put["body"] == {
        "commits": [
            {
                "id": c4,
                "repository": "acme/elsewhere",
                "author_name": "Ada Lovelace",
                "author_email": "ada@example.com",
                "message": "Ship abroad",
                "timestamp": "2024-01-04T10:00:00Z",
            }
        ]
    }
    lines = result.out.splitlines()
    # The first release's commits made Sentry file them under the remote's name, with no integration.
    assert "Commits from local history: Sentry knows acme/elsewhere only by name" in result.out
    assert f"missing: the commits after {c2[:12]} (release 1.0) and before {c4[:12]}" in result.out
    assert "fetch-depth: 0" in result.out
    assert "git fetch --deepen=100" in result.out
    assert lines[-1].startswith("Deploy ")


def test_given_squash_merged_branch_when_notifying_main_then_release_gets_the_squash_commit(
    sentry, origin, tmp_path
):
    repo, (c1, c2) = origin
    run(sentry, clone(repo, tmp_path / "main1"), "1.0", "--commits", "local", "--finalize",
        "--finished", "2024-01-02T12:00:00Z")  # fmt: skip
    git(repo, "checkout", "-q", "-b", "feature")
    f1, f2 = commit(repo, "Draft the coupons", 3), commit(repo, "Finish the coupons", 4)
    run(sentry, clone(repo, tmp_path / "branch", "--branch", "feature"), "1.1-rc", "--commits", "local",
        "--finalize", "--finished", "2024-01-05T12:00:00Z", env="staging")  # fmt: skip
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--squash", "feature")
    git(repo, "commit", "-q", "-m", "Coupons (#7)", when="2024-01-06T10:00:00Z")
    squash = git(repo, "rev-parse", "HEAD")
    git(repo, "branch", "-q", "-D", "feature")

    result = run(sentry, clone(repo, tmp_path / "main2"), "1.1", "--commits", "local")

    assert release_commits(sentry, "1.0") == [c2, c1]
    assert release_commits(sentry, "1.1-rc") == [f2, f1]
    assert release_commits(sentry, "1.1") == [squash]
    assert f"{f2[:12]} (release 1.1-rc) is in no branch of this clone (squashed or rebased" in result.out


def test_given_explicit_auto_and_no_matching_repository_when_notifying_then_fails_having_written_nothing(
    sentry, origin, tmp_path
):
    repo, _ = origin
    connect(sentry, repo)
    checkout = clone(repo, tmp_path / "ci", remote=OTHER_REMOTE)

    result = notify(sentry, "--release", "1.0", "--env", "production", "--project", sentry.project_slugs[0],
                    "--commits", "auto", cwd=checkout)  # fmt: skip

    assert result.code == 2
    assert f"--commits auto: no repository of acme in Sentry matches the remote {OTHER_REMOTE}" in result.err
    assert "acme/shop" in result.err
    assert "--commits local" in result.err
    assert requests_made(sentry) == ["GET repos/"]


def test_given_release_created_without_commits_when_notifying_then_its_commits_are_set(
    sentry, origin, tmp_path
):
    repo, (c1, c2) = origin
    connect(sentry, repo)
    sentry.add_release("2.0", [sentry.project_slugs[0]])

    result = run(sentry, clone(repo, tmp_path / "ci"), "2.0")

    assert "Release 2.0 exists (208)" in result.out
    assert release_commits(sentry, "2.0") == [c2, c1]


def test_given_release_with_commits_when_rerun_and_deployed_elsewhere_then_commits_are_set_once(
    sentry, origin, tmp_path
):
    repo, (c1, c2) = origin
    checkout = clone(repo, tmp_path / "ci", remote=OTHER_REMOTE)
    run(sentry, checkout, "3.0", env="staging")
    sentry.reset_log()

    rerun = run(sentry, checkout, "3.0", env="staging")
    elsewhere = run(sentry, checkout, "3.0", env="production")
    written = writes(sentry)

    assert release_commits(sentry, "3.0") == [c2, c1]
    assert [w["method"] for w in written] == ["POST", "POST", "POST", "POST"]  # release, deploy, twice
    for result in (rerun, elsewhere):
        assert f"Commits of 3.0 already set (2, last {c2[:12]}): not sent again" in result.out


def test_given_dry_run_in_a_work_tree_when_notifying_then_commit_payload_is_shown_and_nothing_written(
    sentry, origin, tmp_path
):
    repo, (c1, c2) = origin

    result = run(sentry, clone(repo, tmp_path / "ci", remote=OTHER_REMOTE), "4.0", "--dry-run", "--json")

    (put,) = [r for r in json.loads(result.out)["requests"] if r["method"] == "PUT"]
    assert [c["id"] for c in put["body"]["commits"]] == [c2, c1]
    assert put["path"].endswith("/releases/4.0/")
    assert writes(sentry) == []


def test_given_glitchtip_when_notifying_in_a_work_tree_then_says_no_commits_and_records_the_release(
    make_emulator, origin, tmp_path
):
    glitchtip = make_emulator(dialect="glitchtip", releases=0, projects=1)
    repo, _ = origin

    result = run(glitchtip, clone(repo, tmp_path / "ci"), "5.0")

    assert "Commits of 5.0 not linked: this server is GlitchTip, which has no commits" in result.out
    assert "Release 5.0 created (201)" in result.out
    assert [w["method"] for w in writes(glitchtip)] == ["POST", "POST"]


def test_given_image_without_git_in_a_gitlab_job_when_notifying_then_refs_come_from_the_ci_variables(
    sentry, origin, tmp_path
):
    repo, (c1, c2) = origin
    url = "https://gitlab.example.com/acme/shop"
    sentry.add_repository("acme/shop", url=url, provider="gitlab", path=str(repo))
    job = {"CI_COMMIT_SHA": c2, "CI_PROJECT_URL": url}
    project = sentry.project_slugs[0]

    matched = notify(sentry, "--release", "6.0", "--env", "production", "--project", project,
                     cwd=tmp_path, **job)  # fmt: skip
    unmatched = notify(sentry, "--release", "6.1", "--env", "production", "--project", project, cwd=tmp_path,
                       **job | {"CI_PROJECT_URL": "https://gitlab.example.com/acme/elsewhere"})  # fmt: skip

    assert (matched.code, unmatched.code) == (0, 0)
    assert release_commits(sentry, "6.0") == [c2, c1]
    assert release_commits(sentry, "6.1") == []
    assert "Commits of 6.1 not linked: no repository of acme in Sentry matches the remote" in unmatched.out
    assert "there is no git work tree here to read them from instead" in unmatched.out
