"""No secret in any output: each kind of secret a user may put in a config goes through every
command, on its way to success and to failure, and nothing the command prints, logs or writes to
stderr holds it."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from source_sentry.notify.settings import ENV_NAMES
from tools.airbyte_run import COMMAND, write_inputs
from tools.forward_target import Behaviour, ForwardTarget
from tools.postgres import free_port
from tools.receiver import ReceiverProcess, headers, issue_body, read_feed

pytestmark = pytest.mark.e2e

SECRET = "Zq8secretvalue31Zq8"
REJECTED_TOKEN = "sntryu_" + "5ec7e7" * 10 + "abcd"
# The receiver's secrets, each its own value so that a leak names its kind. A forward secret is
# whsec_ + base64: its key part is looked for on its own too, as a log might print it decoded.
FORWARD_KEY = base64.b64encode(b"forward-key-" + SECRET.encode()).decode()
RECEIVER_SECRETS = {
    "client secret": f"client-{SECRET}",
    "feed token": f"feed-{SECRET}",
    "admin token": f"admin-{SECRET}",
    "forward secret": f"whsec_{FORWARD_KEY}",
    "forward secret key": FORWARD_KEY,
    "token in forward URL query": f"query-{SECRET}",
    # A Slack incoming webhook's URL is its credential: the path's last part is the secret.
    "Slack webhook URL path": f"slack-{SECRET}",
    "PostgreSQL password": f"pg-{SECRET}",
    # A reader's URL may carry a token of its own in the query (the access log shows paths).
    "token in feed URL query": f"cursor-{SECRET}",
    "webhooks_token": f"wrong-feed-{SECRET}",
    "password in webhooks_url user info": SECRET,
}
WEBHOOKS = [sys.executable, "-m", "source_sentry.run", "webhooks"]


def hostnames(base_url: str) -> dict[str, str]:
    """A password or a token written into the hostname URL, as a user might paste it."""
    bare = base_url.removeprefix("http://")
    return {
        "password in URL user info": f"http://sentry-user:{SECRET}@{bare}",
        "token in URL query": f"{base_url}/?auth_token={SECRET}",
    }


def run_all(
    workdir: Path,
    config: dict,
    token: str,
    hostname: str,
    release: str,
    *,
    with_spec: bool = False,
    with_notify: bool = True,
) -> dict[str, str]:
    """Every command's output (stdout and stderr) with this config; notify gets the same settings
    through sentry-cli's environment names. spec reads no config: one run of it is enough, and
    notify reads no webhooks setting."""
    outputs = {}
    for verb in ("spec", "check", "discover", "read") if with_spec else ("check", "discover", "read"):
        args = [verb]
        if verb != "spec":
            args += write_inputs(workdir, config, ["projects", "events"], mode="full_refresh")
            if verb != "read":
                args = args[:3]
        done = subprocess.run([COMMAND, *args], capture_output=True, text=True, timeout=240, cwd=workdir)
        outputs[verb] = done.stdout + done.stderr
    if not with_notify:
        return outputs
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


def assert_no_secret(outputs: dict[str, str]) -> None:
    for where, output in outputs.items():
        for kind, secret in RECEIVER_SECRETS.items():
            assert secret not in output, (kind, where, output[-1500:])
            assert json.dumps(secret)[1:-1] not in output, (kind, where)


SLACK_PATH = f"/services/T0001/B0002/{RECEIVER_SECRETS['Slack webhook URL path']}"


def receiver_settings(target: ForwardTarget, log_level: str) -> dict:
    """Every secret the receiver takes; one forward target answers 500, one is not listening,
    and both carry a token in their URL's query, as some targets want it; a Slack target, whose
    whole URL is a credential, answers 500."""
    query = f"?token={RECEIVER_SECRETS['token in forward URL query']}"
    return {
        "client_secrets": [RECEIVER_SECRETS["client secret"]],
        "feed_token": RECEIVER_SECRETS["feed token"],
        "admin_token": RECEIVER_SECRETS["admin token"],
        "log_level": log_level,
        "access_log": True,
        "forward": [
            {
                "name": name,
                "kind": "webhook",
                "url": url + query,
                "secret": RECEIVER_SECRETS["forward secret"],
            }
            for name, url in (("failing", target.url("/fails")), ("down", f"http://127.0.0.1:{free_port()}/"))
        ]
        + [{"name": "ops-channel", "kind": "slack", "url": target.url(SLACK_PATH)}],
        "forward_retry_seconds": [0.1],
        "forward_timeout_seconds": 0.5,
        "forward_poll_seconds": 0.05,
    }


def run_webhooks(config: Path, *args: str) -> str:
    """`source-sentry webhooks [forward VERB] --config FILE ...`: its exit code and all it printed."""
    command = [*WEBHOOKS, *args[:1], "--config", str(config), *args[1:]]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    return f"exit {done.returncode}\n{done.stdout}{done.stderr}"


@pytest.mark.parametrize("log_level", ["info", "debug"])
def test_given_receiver_secrets_when_it_serves_refuses_forwards_and_fails_then_no_secret_shown(
    tmp_path: Path, log_level: str
) -> None:
    outputs = {}
    with ForwardTarget() as target:
        settings = receiver_settings(target, log_level)
        failing_path = settings["forward"][0]["url"].removeprefix(target.url(""))
        target.plan(*[Behaviour(500)] * 2, path=failing_path)
        target.plan(*[Behaviour(500)] * 2, path=SLACK_PATH)
        receiver = ReceiverProcess(tmp_path, str(tmp_path / "deliveries.sqlite3"), **settings).start()
        try:
            base = receiver.base_url
            body = issue_body("created", "31", "unresolved")
            signed = headers(body, "issue", secret=RECEIVER_SECRETS["client secret"])
            assert httpx.post(f"{base}/sentry/webhook", content=body, headers=signed).status_code == 200
            forged = headers(body, "issue", secret=RECEIVER_SECRETS["admin token"])
            assert httpx.post(f"{base}/sentry/webhook", content=body, headers=forged).status_code == 401
            feed = read_feed(base, token=RECEIVER_SECRETS["feed token"])
            assert [entry["issue_id"] for entry in feed] == ["31"]
            reader = {"Authorization": f"Bearer {RECEIVER_SECRETS['feed token']}"}
            query = f"after=0&token={RECEIVER_SECRETS['token in feed URL query']}"
            assert httpx.get(f"{base}/v1/deliveries?{query}", headers=reader).status_code == 200
            wrong = {"Authorization": f"Bearer {RECEIVER_SECRETS['webhooks_token']}"}
            assert httpx.get(f"{base}/v1/deliveries", headers=wrong).status_code == 401
            assert httpx.get(f"{base}/forward/status.json", headers=wrong).status_code == 401
            admin = {"Authorization": f"Bearer {RECEIVER_SECRETS['admin token']}"}
            assert httpx.get(f"{base}/forward/status.json", headers=admin).status_code == 200

            deadline = time.monotonic() + 20
            while any(
                f'"{name}"' not in (dead := run_webhooks(receiver.config, "forward", "dead", "--json"))
                for name in ("down", "failing", "ops-channel")
            ):
                assert time.monotonic() < deadline, dead
                time.sleep(0.1)
            assert len(target.requests(failing_path)) == 2
            assert len(target.requests(SLACK_PATH)) == 2
            for verb in (
                "status",
                "status --json",
                "dead",
                "dead --json",
                "replay",
                "enable failing",
                "enable ops-channel",
            ):
                outputs[f"forward {verb}"] = run_webhooks(receiver.config, "forward", *verb.split())
            assert "exit 0" in outputs["forward replay"], outputs["forward replay"]
        finally:
            receiver.stop()
        outputs["receiver log"] = receiver.log_text()
    assert "Rejected a delivery: bad signature" in outputs["receiver log"]
    assert "Stopped: every delivery answered is committed" in outputs["receiver log"]

    for name, broken in {
        "not JSON": json.dumps(settings)[:-40],
        "admin token equal to feed token": json.dumps(
            {**settings, "admin_token": RECEIVER_SECRETS["feed token"], "database": "x.sqlite3"}
        ),
        "forward secret not base64": json.dumps(
            {
                **settings,
                "database": "x.sqlite3",
                "forward": [{**settings["forward"][0], "secret": f"whsec_{SECRET}!"}],
            }
        ),
        "unreachable PostgreSQL": json.dumps(
            {
                **settings,
                "database": f"postgresql://hooks:{RECEIVER_SECRETS['PostgreSQL password']}"
                f"@127.0.0.1:{free_port()}/hooks",
            }
        ),
    }.items():
        config = tmp_path / "broken.json"
        config.write_text(broken)
        outputs[f"start, {name}"] = run_webhooks(config)
        outputs[f"forward status, {name}"] = run_webhooks(config, "forward", "status")
        for verb in ("start", "forward status"):
            assert not outputs[f"{verb}, {name}"].startswith("exit 0"), outputs[f"{verb}, {name}"]

    assert_no_secret(outputs)


def test_given_webhooks_settings_right_and_wrong_when_connector_runs_then_no_secret_shown(
    emulator, workdir: Path
) -> None:
    outputs = {}
    settings = {
        "client_secrets": [RECEIVER_SECRETS["client secret"]],
        "feed_token": RECEIVER_SECRETS["feed token"],
        "log_level": "debug",
        "access_log": True,
    }
    with ReceiverProcess(workdir, str(workdir / "deliveries.sqlite3"), **settings) as receiver:
        base = emulator.config(projects=emulator.project_slugs[:1])
        for case, webhooks in {
            "right": {"webhooks_url": receiver.base_url, "webhooks_token": RECEIVER_SECRETS["feed token"]},
            "wrong token": {
                "webhooks_url": receiver.base_url,
                "webhooks_token": RECEIVER_SECRETS["webhooks_token"],
            },
            **{
                kind: {"webhooks_url": url, "webhooks_token": RECEIVER_SECRETS["feed token"]}
                for kind, url in hostnames(receiver.base_url).items()
            },
        }.items():
            ran = run_all(
                workdir,
                {**base, **webhooks},
                emulator.token,
                emulator.base_url,
                f"1.0.0-{case}",
                with_notify=False,
            )
            outputs.update({f"{verb}, {case}": output for verb, output in ran.items()})
    outputs["receiver log"] = receiver.log_text()

    assert '"status":"SUCCEEDED"' in outputs["check, right"].replace(" ", "")
    assert '"type":"RECORD"' in outputs["read, right"].replace(" ", "")
    assert "refused webhooks_token (401)" in outputs["check, wrong token"]
    for kind in hostnames(receiver.base_url):  # accepted or refused, the check answers
        assert '"type":"CONNECTION_STATUS"' in outputs[f"check, {kind}"].replace(" ", ""), kind
    assert_no_secret(outputs)
