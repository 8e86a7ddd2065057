"""The pipeline ecosystems' wrappers of `source-sentry notify`, run as their runners would run
them, against the project's Sentry emulator on loopback:

- action.yml (GitHub Actions, composite): every step's `run` script with `bash --noprofile
  --norc -eo pipefail` as GitHub runs it, its `env` evaluated from the inputs (their defaults
  filled in) and a GitHub context, the install step included (a fresh virtual environment
  installed from the action's own directory, as `github.action_path` is on a runner).
- ci/sentry-notify.gitlab-ci.yml (GitLab CI): the hidden job's `variables` expanded against
  GitLab's predefined variables, then each `script` line run by `sh` inside the built image,
  which is what a GitLab runner does with `entrypoint: [""]`.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from .conftest import METADATA, ROOT, TAG, Container

pytestmark = pytest.mark.image_build

EXPRESSION = re.compile(r"\$\{\{\s*([\w.-]+)\s*\}\}")


def evaluate(text: str, context: dict[str, dict[str, str]]) -> str:
    """GitHub's `${{ a.b }}` expressions, only the context look-ups the action uses."""

    def lookup(match: re.Match[str]) -> str:
        scope, _, name = match.group(1).partition(".")
        return context[scope][name]

    return EXPRESSION.sub(lookup, str(text))


def run_action(inputs: dict[str, str], runner_temp: Path) -> list[subprocess.CompletedProcess[str]]:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    github = {
        "action_path": str(ROOT),
        "sha": "0123456789abcdef0123456789abcdef01234567",
        "run_number": "42",
        "run_id": "1001",
        "server_url": "https://github.example",
        "repository": "acme/web",
    }
    context = {"github": github, "runner": {"temp": str(runner_temp)}, "inputs": {}}
    for name, spec in action["inputs"].items():
        if name in inputs:
            context["inputs"][name] = inputs[name]
        else:
            assert not spec.get("required"), f"required input {name} not given"
            context["inputs"][name] = evaluate(spec.get("default", ""), context)
    base = {k: v for k, v in os.environ.items() if not k.upper().startswith(("SENTRY_", "PLUGIN_"))}
    base["PATH"] = os.pathsep.join(p for p in base["PATH"].split(os.pathsep) if ".venv" not in p)
    results = []
    for step in action["runs"]["steps"]:
        assert step["shell"] == "bash"
        env = {**base, **{k: evaluate(v, context) for k, v in step.get("env", {}).items()}}
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            capture_output=True,
            text=True,
            env=env,
            cwd=runner_temp,
            timeout=600,
        )
        results.append(done)
        assert done.returncode == 0, f"step {step['name']!r}: {done.stderr[-2000:]}"
    return results


def test_given_github_action_inputs_then_it_installs_and_records_the_finalized_deploy(
    emulator, tmp_path: Path
) -> None:
    web = emulator.project_slugs[0]
    install, notify = run_action(
        {
            "auth-token": emulator.token,
            "organization": emulator.organization,
            "projects": web,
            "sentry-url": emulator.base_url,
            "environment": "production",
            "finalize": "true",
        },
        tmp_path,
    )

    sha = "0123456789abcdef0123456789abcdef01234567"
    assert f"Release {sha} created (201)" in notify.stdout
    assert f"of {sha} to production recorded" in notify.stdout
    writes = [r for r in emulator.requests if r["method"] in ("POST", "PUT")]
    assert [w["method"] for w in writes] == ["POST", "POST"]  # --finalize rides on the new release's POST
    assert "dateReleased" in writes[0]["body"]
    deploy = writes[-1]["body"]
    assert deploy["name"] == "run 42"
    assert deploy["url"] == "https://github.example/acme/web/actions/runs/1001"
    assert deploy["projects"] == [web]
    for done in (install, notify):
        assert emulator.token not in done.stdout + done.stderr


# ---- GitLab CI --------------------------------------------------------------------------------------


def expand(value: str, env: dict[str, str]) -> str:
    """GitLab's expansion of `$NAME` and `${NAME}` in variables (unknown names become empty)."""
    return re.sub(r"\$\{?(\w+)\}?", lambda m: env.get(m.group(1), ""), value)


def gitlab_job(variables: dict[str, str]) -> tuple[dict, dict[str, str], list[str]]:
    template = yaml.safe_load((ROOT / "ci" / "sentry-notify.gitlab-ci.yml").read_text())
    job = template[".sentry-notify"]
    predefined = {
        "CI_COMMIT_SHA": "feedfacefeedfacefeedfacefeedfacefeedface",
        "CI_ENVIRONMENT_NAME": "production",
        "CI_PIPELINE_IID": "77",
        "CI_PIPELINE_URL": "https://gitlab.example/acme/web/-/pipelines/9001",
    }
    env = dict(predefined)
    for name, value in {**job["variables"], **variables}.items():
        env[name] = expand(str(value), env)
    return job, env, job["script"]


def test_given_gitlab_template_then_its_script_in_the_image_records_the_deploy(
    container: Container, emulator
) -> None:
    web = emulator.project_slugs[0]
    job, env, script = gitlab_job(
        {
            "SENTRY_AUTH_TOKEN": emulator.token,
            "SENTRY_ORG": emulator.organization,
            "SENTRY_PROJECT": web,
            "SENTRY_URL": emulator.base_url,
            "SENTRY_NOTIFY_FLAGS": "--finalize",
        }
    )
    assert job["image"]["entrypoint"] == [""]
    assert (
        expand(job["image"]["name"], env)
        == TAG
        == f"{METADATA['dockerRepository']}:{METADATA['dockerImageTag']}"
    )

    for line in script:
        done = container.run(entrypoint=["sh", "-c", line], env=env)
        assert done.returncode == 0, done.stderr
    sha = env["CI_COMMIT_SHA"]
    assert f"Release {sha} created (201)" in done.stdout
    assert f"of {sha} to production recorded" in done.stdout
    writes = [r for r in emulator.requests if r["method"] in ("POST", "PUT")]
    assert [w["method"] for w in writes] == ["POST", "POST"]  # --finalize rides on the new release's POST
    assert "dateReleased" in writes[0]["body"]
    assert writes[-1]["body"]["name"] == "pipeline 77"
    assert writes[-1]["body"]["url"] == "https://gitlab.example/acme/web/-/pipelines/9001"
    assert emulator.token not in done.stdout + done.stderr
