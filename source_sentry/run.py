"""The `source-sentry` command: the four Airbyte protocol verbs, plus `notify`.

`notify` is dispatched before anything of the CDK is imported, so that a CI step starts fast.
For the protocol verbs the source is built from the config, catalog and state given on the
command line (the CDK reads those given to its constructor, not the ones passed to read).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

PROTOCOL_VERBS = {"spec", "check", "discover", "read"}


def run(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["notify"] or (not args and _environment_asks_for_notify()):
        from source_sentry.notify.cli import main as notify_main

        sys.exit(notify_main(args[1:]))
    sys.exit(_run_protocol(args))


def _environment_asks_for_notify() -> bool:
    """The Docker image run with no arguments as a Drone/Woodpecker step notifies Sentry."""
    from source_sentry.notify.cli import env_requests_notify

    return env_requests_notify(os.environ)


def _run_protocol(args: list[str]) -> int:
    from airbyte_cdk.entrypoint import AirbyteEntrypoint
    from airbyte_cdk.models import FailureType
    from airbyte_cdk.utils.traced_exception import AirbyteTracedException

    from source_sentry.source import SourceSentry

    if not args or args[0] not in PROTOCOL_VERBS:
        _usage()
        return 2
    try:
        parsed = AirbyteEntrypoint.parse_args(args)
        config = _read_json(parsed.config, "config") if getattr(parsed, "config", None) else None
        catalog = SourceSentry.read_catalog(parsed.catalog) if getattr(parsed, "catalog", None) else None
        state_path = getattr(parsed, "state", None)
        clean_path = None
        if state_path:
            clean_path = _sanitized_state_file(state_path)
            args[args.index(state_path)] = clean_path
            state = SourceSentry.read_state(clean_path)
        else:
            state = None
    except AirbyteTracedException as error:
        _emit(error.as_airbyte_message())
        return 1
    except Exception as error:  # noqa: BLE001 - a bad file is the user's to fix: say so plainly
        _emit(
            AirbyteTracedException(
                message=f"Could not read the command's input files: {error}",
                internal_message=str(error),
                failure_type=FailureType.config_error,
            ).as_airbyte_message()
        )
        return 1
    problem = _config_problem(config) if isinstance(config, dict) else None
    if problem:
        # The spec's pattern would say the same as a raw regular expression; say it in words.
        if args[0] == "check":
            _emit(_connection_failed(problem))
            return 0
        _emit(
            AirbyteTracedException(
                message=problem, failure_type=FailureType.config_error
            ).as_airbyte_message()
        )
        return 1
    from source_sentry import pacing

    pacing.install()
    source = SourceSentry(config=config, catalog=catalog, state=state)
    try:
        _launch(source, args)
    finally:
        if clean_path:
            Path(clean_path).unlink(missing_ok=True)
    return 0


SKIP_MARK = "may not read this project (403)"
_SKIPPED_URL = re.compile(r"Skipping \S*?/projects/([^/\s]+)/([^/\s:]+)/(\w*)/?\S*?: ")


def _launch(source: Any, args: list[str]) -> None:
    """The CDK's `launch`, plus one closing warning that gathers the projects skipped for a 403.

    Each skip is logged by the CDK at INFO as it happens, among thousands of lines; a token that
    lacks event:read skips every project and the sync would otherwise end without a word.
    """
    from airbyte_cdk.entrypoint import launch

    tally = _SkipTally()
    logger = logging.getLogger("airbyte")
    logger.addHandler(tally)
    try:
        launch(source, args)
    finally:
        logger.removeHandler(tally)
    if tally.skipped:
        _log("WARN", skipped_summary(tally.skipped))


class _SkipTally(logging.Handler):
    """Gathers the CDK's "Skipping <url>: ... (403)" lines by project; prints nothing."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.skipped: dict[str, set[str]] = {}

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        match = _SKIPPED_URL.search(message) if SKIP_MARK in message else None
        if match:
            _org, slug, endpoint = match.groups()
            self.skipped.setdefault(slug, set()).add(endpoint or "project_detail")


def skipped_summary(skipped: dict[str, set[str]]) -> str:
    projects = ", ".join(f"{slug} ({', '.join(sorted(kinds))})" for slug, kinds in sorted(skipped.items()))
    return (
        f"{len(skipped)} project(s) were skipped because Sentry answered 403, the auth token may not "
        f"read them: {projects}. Give the token's user access to them, or leave them out of "
        f"`projects`. If this is every project, the token lacks a scope: reading needs org:read, "
        f"project:read and event:read."
    )


def _config_problem(config: dict[str, Any]) -> str | None:
    from source_sentry.connection import ConfigError, base_api_url

    if "hostname" in config:
        try:
            base_api_url(str(config["hostname"]))
        except ConfigError as error:
            return f"`hostname` is not usable: {error}"
    return _spec_problem(config)


def _spec_problem(config: dict[str, Any]) -> str | None:
    """The CDK checks the spec only after the source is built, and building it evaluates settings
    such as `num_workers`: a wrong type would end in a stack trace instead."""
    from source_sentry.spec import config_problems

    problems = config_problems(config)
    return f"The config does not fit the connector's spec: {'; '.join(problems)}." if problems else None


def _emit(message: Any) -> None:
    from airbyte_cdk.models import AirbyteMessageSerializer

    print(json.dumps(AirbyteMessageSerializer.dump(message)), flush=True)


def _connection_failed(text: str) -> Any:
    from airbyte_cdk.models import AirbyteConnectionStatus, AirbyteMessage, Status, Type

    return AirbyteMessage(
        type=Type.CONNECTION_STATUS,
        connectionStatus=AirbyteConnectionStatus(status=Status.FAILED, message=text),
    )


def _read_json(path: str, what: str) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError as error:
        raise ValueError(f"the {what} file {path} does not exist") from error
    except json.JSONDecodeError as error:
        raise ValueError(f"the {what} file {path} is not valid JSON ({error})") from error


def _sanitized_state_file(path: str) -> str:
    """Write a copy of the state with every stream state this connector cannot use removed.

    A state written by another connector (Airbyte's own Sentry source keeps one `dateCreated`
    per stream) or damaged by hand would otherwise crash the sync; such a stream starts over
    from start_date instead, and a warning says which and why.
    """
    from source_sentry.state import sanitize_state

    raw = _read_json(path, "state")
    clean, warnings = sanitize_state(raw)
    for warning in warnings:
        _log("WARN", warning)
    handle, clean_path = tempfile.mkstemp(prefix="source-sentry-state-", suffix=".json")
    with os.fdopen(handle, "w") as out:
        json.dump(clean, out)
    return clean_path


def _log(level: str, message: str) -> None:
    print(_log_line(level, message), flush=True)


def _log_line(level: str, message: str) -> str:
    return json.dumps({"type": "LOG", "log": {"level": level, "message": message}})


def _usage() -> None:
    sys.stderr.write(
        "usage: source-sentry {spec | check --config FILE | discover --config FILE |\n"
        "                      read --config FILE --catalog FILE [--state FILE] |\n"
        "                      notify --release VERSION --env ENVIRONMENT [...]}\n"
        "       source-sentry notify --help   for the release/deploy notifier\n"
    )


if __name__ == "__main__":
    run()
