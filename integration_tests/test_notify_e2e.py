"""`source-sentry notify` as a separate process against the Sentry emulator over loopback HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

from sentry_emulator.timeutil import parse_iso
from source_sentry.notify.commits import CI_NAMES
from source_sentry.notify.settings import ENV_NAMES
from tools.airbyte_run import COMMAND

pytestmark = pytest.mark.e2e

# The installed console script when there is one, else the module: both run the same main().
NOTIFY = [COMMAND, "notify"] if Path(COMMAND).exists() else [sys.executable, "-m", "source_sentry.notify"]
# Outside any git work tree, so --commits defaults to skip (the commits tests pass their own).
NO_WORK_TREE = Path(tempfile.gettempdir())


@dataclass
class Notified:
    code: int
    out: str
    err: str
    seconds: float


def notify(emu, *args: str, token: str | None = None, cwd: Path = NO_WORK_TREE, **env: str) -> Notified:
    """Run the notifier in ``cwd`` with sentry-cli's environment names pointing at ``emu``."""
    names = {name for group in ENV_NAMES.values() for name in group} | CI_NAMES
    environ = {k: v for k, v in os.environ.items() if k.upper() not in names}
    environ.update(SENTRY_AUTH_TOKEN=token or emu.token, SENTRY_ORG=emu.organization, SENTRY_URL=emu.base_url)
    environ.update(env)
    started = time.monotonic()
    done = subprocess.run(
        [*NOTIFY, *args], capture_output=True, text=True, env=environ, cwd=cwd, timeout=120, check=False
    )
    result = Notified(done.returncode, done.stdout, done.stderr, time.monotonic() - started)
    assert (token or emu.token) not in result.out + result.err
    return result


def writes(emu) -> list[dict]:
    return [r for r in emu.requests if r["method"] in ("POST", "PUT")]


def deploys_of(emu, version: str) -> list[dict]:
    url = f"{emu.base_url}/api/0/organizations/{emu.organization}/releases/{quote(version, safe='')}/deploys/"
    answer = requests.get(url, headers={"Authorization": f"Bearer {emu.token}"}, timeout=10)
    answer.raise_for_status()
    return answer.json()


def release_of(emu, version: str) -> dict:
    url = f"{emu.base_url}/api/0/organizations/{emu.organization}/releases/{quote(version, safe='')}/"
    answer = requests.get(url, headers={"Authorization": f"Bearer {emu.token}"}, timeout=10)
    answer.raise_for_status()
    return answer.json()


def test_given_new_release_when_notifying_then_release_created_and_one_deploy_recorded(emulator):
    web = emulator.project_slugs[0]
    result = notify(emulator, "--release", "9.0.0", "--env", "production", "--project", web, "--finalize")
    assert result.code == 0, result.err
    sent = [(r["method"], r["status"]) for r in emulator.requests]
    (deploy,) = deploys_of(emulator, "9.0.0")
    sent_released = writes(emulator)[0]["body"]["dateReleased"]
    assert result.out.splitlines()[1:4] == [
        "Release 9.0.0 created (201)",
        f"Release 9.0.0 finalized at {sent_released}",
        f"Deploy {deploy['id']} of 9.0.0 to production recorded",
    ]
    assert deploy["environment"] == "production"
    assert parse_iso(release_of(emulator, "9.0.0")["dateReleased"]) == parse_iso(sent_released)
    # The release POST carried the date, so no PUT; and nothing was read before writing.
    assert sent == [("POST", 201), ("POST", 201)]
    assert writes(emulator)[1]["body"]["projects"] == [web]


def test_given_existing_release_and_finalize_when_notifying_then_put_sets_the_date(emulator):
    web = emulator.project_slugs[0]
    emulator.add_release("9.0.5", projects=[web])
    result = notify(emulator, "--release", "9.0.5", "--env", "production", "--project", web, "--finalize")
    assert result.code == 0, result.err
    assert [(w["method"], w["status"]) for w in writes(emulator)] == [
        ("POST", 208),
        ("PUT", 200),
        ("POST", 201),
    ]
    sent_released = writes(emulator)[1]["body"]["dateReleased"]
    assert parse_iso(release_of(emulator, "9.0.5")["dateReleased"]) == parse_iso(sent_released)


def test_given_existing_release_when_notifying_then_208_reported_as_success(emulator):
    web = emulator.project_slugs[0]
    emulator.add_release("9.1.0", projects=[web])
    result = notify(emulator, "--release", "9.1.0", "--env", "production", "--project", web)
    assert result.code == 0, result.err
    assert "Release 9.1.0 exists (208)" in result.out.splitlines()


def test_given_release_deployed_to_two_environments_when_notifying_twice_then_two_deploys(emulator):
    web = emulator.project_slugs[0]
    first = notify(emulator, "--release", "9.2.0", "--env", "staging", "--project", web)
    second = notify(
        emulator, "--release", "9.2.0", "--env", "production", "--project", web, "--name", "go live"
    )
    assert (first.code, second.code) == (0, 0)
    assert "Release 9.2.0 exists (208)" in second.out
    assert sorted(d["environment"] for d in deploys_of(emulator, "9.2.0")) == ["production", "staging"]


def test_given_version_with_plus_and_hash_when_notifying_then_it_reaches_the_right_release(emulator):
    version = "app@9.3.0+build#7 beta"
    result = notify(
        emulator, "--release", version, "--env", "production", "--project", emulator.project_slugs[0]
    )
    assert result.code == 0, result.err
    paths = [w["path"] for w in writes(emulator)]
    assert paths[1] == f"/api/0/organizations/{emulator.organization}/releases/{version}/deploys/"
    assert len(deploys_of(emulator, version)) == 1


def test_given_unknown_project_when_notifying_then_release_refused_and_exit_1_naming_it(emulator):
    result = notify(emulator, "--release", "9.4.0", "--env", "production", "--project", "no-such-project")
    assert result.code == 1
    assert "Project 'no-such-project' was not found" in result.err
    assert [(w["method"], w["status"]) for w in writes(emulator)] == [("POST", 400)]
    assert not [r for r in emulator.requests if "9.4.0" in r["path"]]


def test_given_token_that_cannot_list_releases_when_notifying_then_check_fails_naming_scope(emulator):
    token = emulator.make_token(scopes=["org:read"])
    web = emulator.project_slugs[0]
    result = notify(emulator, "--release", "9.5.0", "--env", "production", "--project", web, token=token)
    assert result.code == 1
    assert "The auth token may not read the releases of" in result.err
    assert "(403)" in result.err
    assert "project:releases" in result.err
    assert [(w["method"], w["status"]) for w in writes(emulator)] == [("POST", 403)]


def test_given_read_only_token_when_notifying_then_release_post_refused_and_no_deploy(emulator):
    token = emulator.make_token(scopes=["org:read", "project:read", "event:read"])
    web = emulator.project_slugs[0]
    result = notify(emulator, "--release", "9.5.1", "--env", "production", "--project", web, token=token)
    assert result.code == 1
    assert "Sentry refused to create release 9.5.1 (403)" in result.err
    assert "project:releases" in result.err
    assert [(w["path"].rsplit("/", 2)[-2], w["status"]) for w in writes(emulator)] == [("releases", 403)]


def test_given_org_token_only_when_notifying_then_its_embedded_host_and_org_are_used(emulator):
    token = emulator.make_token(kind="org")
    result = notify(
        emulator,
        "--release",
        "9.6.0",
        "--env",
        "production",
        "--project",
        emulator.project_slugs[0],
        token=token,
        SENTRY_ORG="",
        SENTRY_URL="",
    )
    assert result.code == 0, result.err
    assert len(deploys_of(emulator, "9.6.0")) == 1


def test_given_429_on_release_create_when_notifying_then_waits_for_reset_and_succeeds(emulator):
    emulator.set_faults("release_create:429=1x1")
    result = notify(
        emulator, "--release", "9.7.0", "--env", "production", "--project", emulator.project_slugs[0]
    )
    assert result.code == 0, result.err
    statuses = [w["status"] for w in writes(emulator)]
    assert statuses == [429, 201, 201]
    assert 0.5 <= result.seconds < 10


def test_given_503_on_deploy_create_when_notifying_then_looked_up_then_recorded_once(emulator):
    emulator.set_faults("deploy_create:503x1")
    result = notify(
        emulator, "--release", "9.8.0", "--env", "production", "--project", emulator.project_slugs[0]
    )
    assert result.code == 0, result.err
    deploy_calls = [(r["method"], r["status"]) for r in emulator.requests if r["path"].endswith("/deploys/")]
    assert deploy_calls == [("POST", 503), ("GET", 200), ("POST", 201)]
    assert len(deploys_of(emulator, "9.8.0")) == 1


def test_given_dry_run_when_notifying_then_checks_but_sends_no_write(emulator):
    result = notify(
        emulator,
        "--release",
        "9.9.0",
        "--env",
        "production",
        "--project",
        emulator.project_slugs[0],
        "--dry-run",
        "--json",
    )
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert [r["method"] for r in report["requests"]] == ["POST", "POST"]
    assert writes(emulator) == []
    reads = [(r["method"], r["path"], r["status"]) for r in emulator.requests]
    project = f"/api/0/projects/{emulator.organization}/{emulator.project_slugs[0]}/"
    assert ("GET", project, 200) in reads  # the check did run
    assert {method for method, _, _ in reads} == {"GET"}


def test_given_bad_version_when_notifying_then_exit_2_and_no_request_at_all(emulator):
    result = notify(
        emulator, "--release", "latest", "--env", "production", "--project", emulator.project_slugs[0]
    )
    assert result.code == 2
    assert emulator.requests == []


# ---- GlitchTip (issue 11) --------------------------------------------------------------------


@pytest.fixture
def glitchtip(make_emulator):
    return make_emulator(dialect="glitchtip")


def test_given_glitchtip_when_notifying_twice_then_the_release_exists_and_no_deploy_is_blamed_on_scopes(
    glitchtip,
) -> None:
    web = glitchtip.project_slugs[0]
    args = ("--release", "9.0.0", "--env", "production", "--project", web)

    first = notify(glitchtip, *args)
    again = notify(glitchtip, *args)

    unsupported = "Deploy of 9.0.0 to production not recorded: this server is GlitchTip, which has no deploys"
    assert (first.code, first.err) == (0, "")
    assert first.out.splitlines()[1:] == [
        "Release 9.0.0 created (201)",
        unsupported + " (the release is recorded)",
    ]
    assert (again.code, again.err) == (0, "")
    assert again.out.splitlines()[1:] == [
        "Release 9.0.0 exists (500, fetched)",
        unsupported + " (the release is recorded)",
    ]
    assert release_of(glitchtip, "9.0.0")["version"] == "9.0.0"
    assert "scope" not in first.out + again.out


def test_given_a_glitchtip_config_when_notifying_then_no_deploy_is_sent(glitchtip, tmp_path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"server": "glitchtip"}))
    web = glitchtip.project_slugs[0]

    result = notify(
        glitchtip, "--release", "9.0.1", "--env", "production", "--project", web, "--config", str(config)
    )

    assert result.code == 0, result.err
    assert [(r["method"], r["path"].rsplit("/", 2)[-2]) for r in writes(glitchtip)] == [("POST", "releases")]
    assert not [r for r in glitchtip.requests if "settings" in r["path"]]


def test_given_glitchtip_and_one_unknown_project_when_notifying_then_exit_1_naming_the_dropped_slug(
    glitchtip,
) -> None:
    web = glitchtip.project_slugs[0]

    result = notify(
        glitchtip, "--release", "9.1.0", "--env", "production", "--project", f"{web},no-such-project"
    )

    assert result.code == 1
    assert result.out.splitlines() == [
        f"Checked {glitchtip.base_url}: organization acme, projects {web} (dropped: no-such-project)",
        "Release 9.1.0 created (201)",
    ]
    assert result.err == (
        f"error: The server recorded release 9.1.0 for {web} only and dropped no-such-project: not a "
        "project of organization 'acme' (mistyped, renamed or deleted?) or not one the token may see. "
        "Correct --project "
        "(or SENTRY_PROJECT) and run it again; no finalize or deploy was sent.\n"
    )
    assert [p["slug"] for p in release_of(glitchtip, "9.1.0")["projects"]] == [web]


def test_given_glitchtip_and_only_an_unknown_project_when_notifying_then_the_422_names_the_slug(
    glitchtip,
) -> None:
    result = notify(glitchtip, "--release", "9.2.0", "--env", "production", "--project", "no-such-project")

    assert result.code == 1
    assert "no-such-project" in result.err
    assert "was not found in organization 'acme'" in result.err
    assert [r["status"] for r in writes(glitchtip)] == [422]
