"""`source-sentry webhooks` as an operator starts and stops it: from the environment alone, with a
bad setting, with a database it cannot reach, with forwarding that cannot start, with deliveries
older than the retention waiting in its database, stopped by a signal; and what its access log
shows."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import httpx
import psycopg
import pytest

from source_sentry.webhooks.envelope import read_envelope
from source_sentry.webhooks.forward.outbox import Outbox
from source_sentry.webhooks.store import Incoming, open_store
from tools.postgres import free_port
from tools.receiver import FEED_TOKEN, SECRET, ReceiverProcess, headers, issue_body, read_feed

COMMAND = [sys.executable, "-m", "source_sentry.run", "webhooks"]


def test_given_bad_setting_when_started_then_exit_2_naming_it_without_traceback_or_secret(tmp_path):
    config = tmp_path / "receiver.json"
    config.write_text(
        json.dumps({"client_secrets": [SECRET], "database": "x.sqlite3", "feed_token": "short"})
    )
    done = subprocess.run([*COMMAND, "--config", str(config)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith("source-sentry webhooks: feed_token:")
    assert "Traceback" not in done.stderr
    assert SECRET not in done.stderr + done.stdout


@pytest.mark.parametrize(
    ("variable", "value", "start"),
    [
        ("SENTRY_WEBHOOKS_SQLITE_SYNCHRONOUS", "off", "SENTRY_WEBHOOKS_SQLITE_SYNCHRONOUS: full ("),
        ("SENTRY_WEBHOOKS_RETENTION_DAYS", "a week", "SENTRY_WEBHOOKS_RETENTION_DAYS: 'a week' is not"),
        ("SENTRY_WEBHOOKS_FORWARD_CONCURRENCY", "inf", "SENTRY_WEBHOOKS_FORWARD_CONCURRENCY: 'inf' is not"),
        (
            "SENTRY_WEBHOOKS_FORWARD",
            '[{"name": "ops", "kind": "slack", "url": "https://[::1/T0/slack-Secretpart-7"}]',
            "SENTRY_WEBHOOKS_FORWARD[0] (ops).url: give an http:// or https:// URL (not shown here).",
        ),
    ],
)
def test_given_bad_setting_in_the_environment_when_started_then_one_line_naming_the_variable(
    tmp_path, variable, value, start
):
    env = {
        **os.environ,
        "SENTRY_WEBHOOKS_CLIENT_SECRETS": SECRET,
        "SENTRY_WEBHOOKS_DATABASE": str(tmp_path / "env.sqlite3"),
        "SENTRY_WEBHOOKS_FEED_TOKEN": FEED_TOKEN,
        variable: value,
    }
    done = subprocess.run(COMMAND, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert done.stderr.splitlines() == [done.stderr.rstrip("\n")]
    assert done.stderr.startswith(f"source-sentry webhooks: {start}")
    assert "Traceback" not in done.stderr
    assert SECRET not in done.stderr
    assert "slack-Secretpart-7" not in done.stderr


def test_given_settings_only_in_the_environment_when_started_then_it_receives(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "SENTRY_WEBHOOKS_CLIENT_SECRETS": f"{SECRET},another-secret",
        "SENTRY_WEBHOOKS_DATABASE": str(tmp_path / "env.sqlite3"),
        "SENTRY_WEBHOOKS_FEED_TOKEN": FEED_TOKEN,
        "SENTRY_WEBHOOKS_LISTEN": f"127.0.0.1:{port}",
    }
    process = subprocess.Popen(COMMAND, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, "exited at start"
                assert time.monotonic() < deadline, "did not start"
                time.sleep(0.05)
        body = issue_body("created", "5", "unresolved")
        answer = httpx.post(f"{base}/sentry/webhook", content=body, headers=headers(body, "issue"))
        assert answer.status_code == 200
        assert [e["issue_id"] for e in read_feed(base)] == ["5"]
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    assert SECRET not in stderr.decode()
    assert FEED_TOKEN not in stderr.decode()


def test_given_deliveries_older_than_retention_when_started_then_pruned(database, tmp_path):
    old = issue_body("created", "1", "unresolved")
    new = issue_body("created", "2", "unresolved")
    now_ms = int(time.time() * 1000)
    store = open_store(database)
    for body, at_ms in ((old, now_ms - 3 * 86_400_000), (new, now_ms - 3_600_000)):
        store.record_batch(
            [
                Incoming(
                    None, None, at_ms, body, hashlib.sha256(body).hexdigest(), read_envelope("issue", body)
                )
            ],
            3_600_000,
        )
    store.close()
    with ReceiverProcess(tmp_path, database, retention_days=2) as receiver:
        deadline = time.monotonic() + 30
        while len(feed := read_feed(receiver.base_url)) > 1 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert [e["issue_id"] for e in feed] == ["2"]
    assert "Retention: pruned 1 deliveries older than 2 days" in receiver.log_text()


def test_given_webhooks_command_when_dispatched_then_the_cdk_is_never_imported():
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "source_sentry.run", "webhooks", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0
    assert "usage: source-sentry webhooks" in done.stdout
    assert "SENTRY_WEBHOOKS_CLIENT_SECRETS" in done.stdout
    imported = done.stderr
    assert "source_sentry.webhooks.cli" in imported
    assert "airbyte_cdk" not in imported


def test_given_unreachable_postgresql_when_started_then_one_message_saying_what_to_fix(tmp_path):
    # A password libpq cannot decode: libpq then quotes it in its own message.
    password = "pw%zz-Hidden-9"
    port = free_port()
    config = tmp_path / "receiver.json"
    config.write_text(
        json.dumps(
            {
                "client_secrets": [SECRET],
                "database": f"postgresql://hooks:{password}@127.0.0.1:{port}/hooks",
                "feed_token": FEED_TOKEN,
                "listen": f"127.0.0.1:{free_port()}",
            }
        )
    )
    done = subprocess.run([*COMMAND, "--config", str(config)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(
        f"source-sentry webhooks: database: cannot connect to postgresql://hooks:***@127.0.0.1:{port}/hooks: "
    )
    assert "Check the host, port, database name, user and password in the URL" in lines[0]
    assert "uvicorn" not in done.stderr
    assert password not in done.stderr
    assert "pw%zz" not in done.stderr


def test_given_refused_connection_when_started_then_the_cause_is_named(tmp_path):
    port = free_port()
    config = tmp_path / "receiver.json"
    config.write_text(
        json.dumps(
            {
                "client_secrets": [SECRET],
                "database": f"postgresql://hooks:plain-Password-7@127.0.0.1:{port}/hooks",
                "feed_token": FEED_TOKEN,
                "listen": f"127.0.0.1:{free_port()}",
            }
        )
    )
    done = subprocess.run([*COMMAND, "--config", str(config)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert "Connection refused" in done.stderr
    assert "Traceback" not in done.stderr
    assert "plain-Password-7" not in done.stderr


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_given_running_receiver_when_asked_to_stop_then_it_drains_and_exits_0(database, tmp_path, signum):
    receiver = ReceiverProcess(tmp_path, database).start()
    try:
        body = issue_body("created", "s1", "unresolved")
        answer = httpx.post(
            f"{receiver.base_url}/sentry/webhook", content=body, headers=headers(body, "issue")
        )
        assert answer.status_code == 200
        receiver.process.send_signal(signum)
        code = receiver.process.wait(30)
    finally:
        receiver.kill()
    assert code == 0, receiver.log_text()[-2000:]
    assert "Stopped: every delivery answered is committed" in receiver.log_text()
    assert "Traceback" not in receiver.log_text()


def test_given_feed_requests_with_query_strings_when_logged_then_only_after_and_limit_show(tmp_path):
    token = "cursor-Token-4d2f9a"
    with ReceiverProcess(
        tmp_path, str(tmp_path / "d.sqlite3"), log_level="info", access_log=True
    ) as receiver:
        auth = {"Authorization": f"Bearer {FEED_TOKEN}"}
        for query in (f"after=0&limit=5&token={token}", f"{token}", "after=0&limit=7"):
            answer = httpx.get(f"{receiver.base_url}/v1/deliveries?{query}", headers=auth)
            assert answer.status_code == 200, query
        answer = httpx.get(f"{receiver.base_url}/healthz?access_token={token}")
        assert answer.status_code == 200
    log = receiver.log_text()
    assert '"GET /v1/deliveries?after=0&limit=5&(more withheld) HTTP/1.1" 200' in log
    assert '"GET /v1/deliveries?(more withheld) HTTP/1.1" 200' in log
    assert '"GET /v1/deliveries?after=0&limit=7 HTTP/1.1" 200' in log
    assert '"GET /healthz?(more withheld) HTTP/1.1" 200' in log
    assert token not in log
    assert "token=" not in log


def test_given_deliveries_when_running_then_summed_up_each_period_and_one_by_one_only_when_asked(tmp_path):
    body = issue_body("created", "77", "unresolved")
    with ReceiverProcess(tmp_path, str(tmp_path / "info.sqlite3"), log_summary_seconds=1) as quiet:
        for _ in range(3):
            answer = httpx.post(
                f"{quiet.base_url}/sentry/webhook", content=body, headers=headers(body, "issue")
            )
            assert answer.status_code == 200
        deadline = time.monotonic() + 10
        while "In the last 1 s:" not in quiet.log_text() and time.monotonic() < deadline:
            time.sleep(0.1)
    log = quiet.log_text()
    assert (
        "In the last 1 s: kept 1 new deliveries and 2 duplicates (retries of kept ones); newest seq 1" in log
    )
    assert "Kept delivery" not in log
    assert "POST /sentry/webhook" not in log
    with ReceiverProcess(
        tmp_path, str(tmp_path / "debug.sqlite3"), log_level="debug", access_log=True
    ) as chatty:
        answer = httpx.post(f"{chatty.base_url}/sentry/webhook", content=body, headers=headers(body, "issue"))
        assert answer.status_code == 200
    log = chatty.log_text()
    assert "Kept delivery seq=1 resource=issue action=created duplicate=False" in log
    assert '"POST /sentry/webhook HTTP/1.1" 200' in log


SLACK_URL = "https://hooks.slack.com/services/T0/B0/slack-Secretpart-7"
WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
FORWARD = [
    {"name": "ops", "kind": "slack", "url": SLACK_URL},
    {"name": "catalog", "kind": "webhook", "url": "https://x.example/h", "secret": WHSEC},
]


def _forwarding_config(tmp_path, database: str) -> str:
    config = tmp_path / "receiver.json"
    config.write_text(
        json.dumps(
            {
                "client_secrets": [SECRET],
                "database": database,
                "feed_token": FEED_TOKEN,
                "listen": f"127.0.0.1:{free_port()}",
                "forward": FORWARD,
            }
        )
    )
    return str(config)


def _one_line_without_secrets(done: subprocess.CompletedProcess[str], password: str = "") -> str:
    assert done.returncode == 1, done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    for secret in (
        SECRET,
        FEED_TOKEN,
        "slack-Secretpart-7",
        WHSEC,
        "MfKQ9r8",
        *([password] if password else []),
    ):
        assert secret not in done.stderr
    assert "uvicorn" not in done.stderr
    return lines[0]


def test_given_outbox_tables_owned_by_another_user_when_started_then_one_line_saying_what_to_fix(
    pg_cluster, tmp_path
):
    admin_url = pg_cluster.new_database()
    schema = admin_url.rpartition("%3D")[2]
    role = f"hooks_{schema[-12:]}"
    password = "outbox-Password-5"
    with psycopg.connect(pg_cluster.admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
        conn.execute(f'GRANT USAGE, CREATE ON SCHEMA "{schema}" TO {role}')
    database = admin_url.replace("postgres@", f"{role}:{password}@")
    Outbox(admin_url).close()  # created by the database's owner, not the receiver's user
    done = subprocess.run(
        [*COMMAND, "--config", _forwarding_config(tmp_path, database)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    line = _one_line_without_secrets(done, password)
    assert line.startswith(
        "source-sentry webhooks: forwarding: cannot create the outbox tables (forward_outbox, "
        f"forward_targets) in postgresql://{role}:***@127.0.0.1:"
    )
    assert "must be owner of table forward_outbox" in line
    assert "needs the right to create tables there and to own those two tables" in line


def test_given_missing_ca_file_when_started_with_targets_then_one_line_naming_the_target_and_variable(
    tmp_path,
):
    missing = tmp_path / "no-such-ca.pem"
    done = subprocess.run(
        [*COMMAND, "--config", _forwarding_config(tmp_path, str(tmp_path / "d.sqlite3"))],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SSL_CERT_FILE": str(missing)},
    )
    line = _one_line_without_secrets(done)
    assert line.startswith(
        "source-sentry webhooks: forwarding: forward[0] (ops): cannot set up its HTTP client "
        "(No such file or directory). Check what it reads from the environment: SSL_CERT_FILE"
    )


def test_given_target_url_the_client_cannot_parse_when_started_then_one_line_without_the_url(tmp_path):
    config = tmp_path / "bad-url.json"
    config.write_text(
        json.dumps(
            {
                "client_secrets": [SECRET],
                "database": str(tmp_path / "d.sqlite3"),
                "feed_token": FEED_TOKEN,
                "forward": [{**FORWARD[0], "url": "https://hooks.slack.com:slack-Secretpart-7/x"}],
            }
        )
    )
    done = subprocess.run([*COMMAND, "--config", str(config)], capture_output=True, text=True, timeout=60)
    line = _one_line_without_secrets(done)
    assert line == (
        "source-sentry webhooks: forwarding: forward[0] (ops).url: the HTTP client cannot use it "
        "(not shown here); check its port and characters."
    )
