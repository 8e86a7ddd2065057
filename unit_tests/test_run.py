"""The `source-sentry` command as Airbyte runs it: a process, messages on stdout."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

COMMAND = str(Path(sys.executable).parent / "source-sentry")
HOSTNAME_PROBLEM = (
    "`hostname` is not usable: hostname {hostname!r} is not usable: give a host name (sentry.io, "
    "de.sentry.io), a host and port (sentry.internal:9000), or a base URL with http or https and an "
    "optional path (http://127.0.0.1:9000, https://sentry.example.com/sentry)."
)


def run(*args: str, cwd: Path) -> tuple[list[dict], subprocess.CompletedProcess]:
    result = subprocess.run([COMMAND, *args], capture_output=True, text=True, timeout=120, cwd=cwd)
    messages = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return messages, result


def test_given_spec_when_run_from_another_directory_then_prints_the_packaged_spec(tmp_path: Path) -> None:
    messages, _ = run("spec", cwd=tmp_path)

    specs = [m["spec"] for m in messages if m["type"] == "SPEC"]
    assert specs
    assert specs[0]["connectionSpecification"]["required"] == ["auth_token", "organization"]


def test_given_spec_when_run_then_the_message_is_the_one_the_cdk_builds_from_the_manifest() -> None:
    from airbyte_cdk.models import AirbyteMessage, AirbyteMessageSerializer, Type

    from source_sentry.run import spec_message
    from source_sentry.source import SourceSentry

    cdk = AirbyteMessage(type=Type.SPEC, spec=SourceSentry().spec(logging.getLogger("test")))
    assert spec_message() == AirbyteMessageSerializer.dump(cdk)


def test_given_config_without_token_when_check_then_config_error_names_the_field(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"organization": "acme"}))

    messages, _ = run("check", "--config", str(config), cwd=tmp_path)

    statuses = [m["connectionStatus"] for m in messages if m["type"] == "CONNECTION_STATUS"]
    assert statuses == [
        {
            "status": "FAILED",
            "message": (
                "The config does not fit the connector's spec: `auth_token` is missing (it is required)."
            ),
        }
    ]


def test_given_hostname_that_is_not_a_host_when_check_then_config_error_before_any_request(
    tmp_path: Path,
) -> None:
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps({"auth_token": "tok-1234567890", "organization": "acme", "hostname": "ftp://sentry io"})
    )

    messages, result = run("check", "--config", str(config), cwd=tmp_path)

    statuses = [m["connectionStatus"] for m in messages if m["type"] == "CONNECTION_STATUS"]
    assert statuses == [{"status": "FAILED", "message": HOSTNAME_PROBLEM.format(hostname="ftp://sentry io")}]
    assert [m["type"] for m in messages] == ["CONNECTION_STATUS"]


def test_given_hostname_that_is_not_a_host_when_read_then_config_error_trace(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps({"auth_token": "tok-1234567890", "organization": "acme", "hostname": "sentry io"})
    )

    messages, result = run("discover", "--config", str(config), cwd=tmp_path)

    errors = [m["trace"]["error"] for m in messages if m["type"] == "TRACE"]
    assert [(e["failure_type"], e["message"]) for e in errors] == [
        ("config_error", HOSTNAME_PROBLEM.format(hostname="sentry io"))
    ]
    assert result.returncode == 1


def test_given_config_file_that_is_not_json_when_discover_then_config_error_not_a_stack_trace(
    tmp_path: Path,
) -> None:
    config = tmp_path / "config.json"
    config.write_text("{auth_token: oops")

    messages, result = run("discover", "--config", str(config), cwd=tmp_path)

    errors = [m["trace"]["error"] for m in messages if m["type"] == "TRACE"]
    assert [(e["failure_type"], e["message"]) for e in errors] == [
        (
            "config_error",
            f"Could not read the command's input files: the config file {config} is not valid JSON "
            "(line 1 column 2: Expecting property name enclosed in double quotes)",
        )
    ]
    assert result.stderr == ""
    assert result.returncode == 1


def test_given_unknown_verb_when_run_then_usage_and_exit_2(tmp_path: Path) -> None:
    _, result = run("frobnicate", cwd=tmp_path)

    assert result.returncode == 2
    assert result.stdout == ""
    first_line = "usage: source-sentry {spec | check --config FILE | discover --config FILE |\n"
    assert result.stderr.startswith(first_line)
    assert result.stderr.endswith("       source-sentry notify --help   for the release/deploy notifier\n")


def test_given_num_workers_of_wrong_type_when_read_then_config_error_names_it_not_a_stack_trace(
    tmp_path: Path,
) -> None:
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps({"auth_token": "tok-1234567890", "organization": "acme", "num_workers": "abc"})
    )
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps({"streams": []}))

    messages, result = run("read", "--config", str(config), "--catalog", str(catalog), cwd=tmp_path)

    errors = [m["trace"]["error"] for m in messages if m["type"] == "TRACE"]
    assert errors[0]["failure_type"] == "config_error"
    assert errors[0]["message"] == (
        "The config does not fit the connector's spec: `num_workers` must be of type integer."
    )
    assert "Traceback" not in result.stderr
    assert result.returncode == 1


def test_given_token_of_wrong_type_when_check_then_message_does_not_echo_it(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"auth_token": 98765432123, "organization": "acme"}))

    messages, result = run("check", "--config", str(config), cwd=tmp_path)

    statuses = [m["connectionStatus"] for m in messages if m["type"] == "CONNECTION_STATUS"]
    assert statuses[0] == {
        "status": "FAILED",
        "message": "The config does not fit the connector's spec: `auth_token` must be of type string.",
    }
    assert "98765432123" not in result.stdout + result.stderr


def test_given_protocol_verb_when_launched_then_collector_is_on_with_the_tuned_threshold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The collector is off while the CDK is imported and the source built; the sync itself must
    run with it on (reference cycles would otherwise pile up for the whole sync)."""
    import gc
    import signal

    from source_sentry import cdk_logs, run
    from source_sentry.packaged import output

    config = tmp_path / "config.json"
    config.write_text(json.dumps({"auth_token": "not-a-real-token", "organization": "acme"}))
    seen: list[tuple[bool, int]] = []

    def launch(source: object, args: list[str]) -> None:
        seen.append((gc.isenabled(), gc.get_threshold()[0]))

    monkeypatch.setattr(output, "launch", launch)
    # The command rewords the CDK's logs for its process; this one is the test session's.
    monkeypatch.setattr(cdk_logs, "install", lambda: None)
    thresholds, handler = gc.get_threshold(), signal.getsignal(signal.SIGTERM)
    try:
        assert run._run_protocol(["check", "--config", str(config)]) == 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
        gc.enable()
        signal.signal(signal.SIGTERM, handler)

    assert seen == [(True, run.GC_YOUNG_THRESHOLD)]
