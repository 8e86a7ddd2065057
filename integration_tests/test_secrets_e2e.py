"""No secret in any output: each kind of secret a user may put in a config goes through every
command, on its way to success and to failure, and nothing the command prints, logs or writes to
stderr holds it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from source_sentry.notify.settings import ENV_NAMES
from tools.airbyte_run import COMMAND, write_inputs

pytestmark = pytest.mark.e2e

SECRET = "Zq8secretvalue31Zq8"
REJECTED_TOKEN = "sntryu_" + "5ec7e7" * 10 + "abcd"
# `source-sentry webhooks` (a receiver with a feed token and client secrets) is not part of the
# connector yet; when it is, its commands and secrets join SECRET_KINDS and run_all below.


def hostnames(base_url: str) -> dict[str, str]:
    """A password or a token written into the hostname URL, as a user might paste it."""
    bare = base_url.removeprefix("http://")
    return {
        "password in URL user info": f"http://sentry-user:{SECRET}@{bare}",
        "token in URL query": f"{base_url}/?auth_token={SECRET}",
    }


def run_all(
    workdir: Path, config: dict, token: str, hostname: str, release: str, *, with_spec: bool = False
) -> dict[str, str]:
    """Every command's output (stdout and stderr) with this config; notify gets the same settings
    through sentry-cli's environment names. spec reads no config: one run of it is enough."""
    outputs = {}
    for verb in ("spec", "check", "discover", "read") if with_spec else ("check", "discover", "read"):
        args = [verb]
        if verb != "spec":
            args += write_inputs(workdir, config, ["projects", "events"], mode="full_refresh")
            if verb != "read":
                args = args[:3]
        done = subprocess.run([COMMAND, *args], capture_output=True, text=True, timeout=240, cwd=workdir)
        outputs[verb] = done.stdout + done.stderr
    names = {name for group in ENV_NAMES.values() for name in group}
    environ = {k: v for k, v in os.environ.items() if k.upper() not in names}
    environ.update(SENTRY_AUTH_TOKEN=token, SENTRY_ORG=config["organization"], SENTRY_URL=hostname)
    done = subprocess.run(
        [COMMAND, "notify", "--release", release, "--env", "production", "--project", config["projects"][0]],
        capture_output=True,
        text=True,
        timeout=120,
        env=environ,
        cwd=workdir,
    )
    outputs["notify"] = done.stdout + done.stderr
    return outputs


def test_given_valid_token_when_every_command_succeeds_then_token_never_shown(
    emulator, workdir: Path
) -> None:
    config = emulator.config(projects=emulator.project_slugs[:1])

    outputs = run_all(workdir, config, emulator.token, emulator.base_url, "1.0.0-ok", with_spec=True)

    assert '"status":"SUCCEEDED"' in outputs["check"].replace(" ", "")
    assert '"type":"RECORD"' in outputs["read"].replace(" ", "")
    assert "recorded" in outputs["notify"]
    for verb, output in outputs.items():
        assert emulator.token not in output, verb


def test_given_rejected_token_when_every_command_fails_then_token_never_shown(
    emulator, workdir: Path
) -> None:
    config = emulator.config(projects=emulator.project_slugs[:1], auth_token=REJECTED_TOKEN)

    outputs = run_all(workdir, config, REJECTED_TOKEN, emulator.base_url, "1.0.0-rejected")

    assert "401" in outputs["check"]
    assert "401" in outputs["read"]
    assert "401" in outputs["notify"]
    assert {r["status"] for r in emulator.requests} == {401}
    for verb, output in outputs.items():
        assert REJECTED_TOKEN not in output, verb


@pytest.mark.parametrize("kind", ["password in URL user info", "token in URL query"])
def test_given_secret_in_hostname_url_when_every_command_refuses_it_then_secret_never_shown(
    emulator, workdir: Path, kind: str
) -> None:
    hostname = hostnames(emulator.base_url)[kind]
    config = emulator.config(projects=emulator.project_slugs[:1], hostname=hostname)

    outputs = run_all(workdir, config, emulator.token, hostname, "1.0.0-url")

    for verb in ("check", "discover", "read", "notify"):
        assert "hostname" in outputs[verb], (verb, outputs[verb][-1000:])
    assert emulator.requests == []
    for verb, output in outputs.items():
        assert SECRET not in output, (verb, output[-1000:])
        assert emulator.token not in output, verb
        assert json.dumps(SECRET)[1:-1] not in output, verb
