"""``source-sentry notify``: parse the arguments, run the steps, print one line per step.

Kept free of the Airbyte CDK and of ``requests`` so a CI step starts fast: only the standard
library and this project's ``config``, ``sentry_api``, ``transport`` and ``check`` modules are
imported (unit_tests/notify/test_notify_startup.py holds it to that).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple, TextIO
from urllib.parse import urlsplit

from source_sentry.check import check_connection
from source_sentry.config import ConfigError, org_token_claims, resolve_settings, scrub_token
from source_sentry.notify import client
from source_sentry.notify.payloads import (
    InputError,
    Notification,
    check_environment,
    check_name,
    check_url,
    check_version,
    deploy_window,
)
from source_sentry.notify.settings import connection_config, from_environment, load_config_file
from source_sentry.sentry_api import SentryApi, SentryError, SentryUnavailable

EXIT_OK, EXIT_SENTRY, EXIT_INPUT = 0, 1, 2

# One entry per argument: the parser is built from these and the options section of HELP is
# rendered from them, so an argument cannot be added without its help line.
class _Option(NamedTuple):
    flags: tuple[str, ...]
    metavar: str | None
    action: str
    help: str

    @property
    def invocation(self) -> str:
        return ", ".join(self.flags) + (f" {self.metavar}" if self.metavar else "")


OPTIONS = (
    _Option(("--release",), "VERSION", "store",
        "the release version, as your app reports it to Sentry (1.2.3,\n"
        "my-app@1.2.3+build.7, a commit SHA); at most 200 characters, no\n"
        'slash, backslash, tab or line break, not ".", ".." or "latest"'),
    _Option(("--env",), "ENVIRONMENT", "store",
        "where it was deployed (production, staging); at most 64\n"
        "characters, no slash or line break"),
    _Option(("--project",), "SLUG", "append",
        "a project of the release; repeat it or separate slugs with commas"),
    _Option(("--config",), "FILE", "store",
        "the connector's config JSON (auth_token, hostname, organization,\n"
        "project or projects)"),
    _Option(("--name",), "NAME", "store",
        "a name for this deploy (at most 64 characters)"),
    _Option(("--url",), "URL", "store",
        "a link to the deploy, such as the CI build's page"),
    _Option(("--started",), "TIME", "store",
        "when the deploy started"),
    _Option(("--finished",), "TIME", "store",
        "when it finished (default: now)"),
    _Option(("--time",), "SECONDS", "store",
        "how long it took: alone, it ended now and started SECONDS ago;\n"
        "with --started, it ended SECONDS after the start"),
    _Option(("--finalize",), None, "store_true",
        "also mark the release as released (dateReleased = finish time)"),
    _Option(("--dry-run",), None, "store_true",
        "check the connection, print what would be sent, send nothing"),
    _Option(("--json",), None, "store_true",
        "print one JSON object instead of one line per step"),
    _Option(("-h", "--help"), None, "store_true",
        "show this help"),
)
_HELP_COLUMN = 22


def _options_help() -> str:
    lines = []
    for option in OPTIONS:
        first, *rest = option.help.split("\n")
        lines.append(f"  {option.invocation:<{_HELP_COLUMN - 2}}{first}")
        lines.extend(" " * _HELP_COLUMN + line for line in rest)
    return "\n".join(lines) + "\n"


HELP = (
    """\
usage: source-sentry notify --release VERSION --env ENVIRONMENT [--config FILE]
                            [--name NAME] [--url URL] [--started TIME]
                            [--finished TIME | --time SECONDS] [--project SLUG ...]
                            [--finalize] [--dry-run] [--json]

Tell Sentry that a release was deployed: create the release if it is new (an existing
release is fine), optionally finalize it, then record one deploy of it to an environment.

options:
"""
    + _options_help()
    + """
TIME is "now", Unix seconds (1714557600) or RFC 3339 with an offset
(2024-05-01T10:00:00Z, 2024-05-01T12:00:00+02:00). Times are sent as UTC.

settings from the environment (flags win over the environment, which wins over --config;
the first non-empty name listed wins; names match in any case):
  auth token     SENTRY_AUTH_TOKEN
  organization   SENTRY_ORG, SENTRY_ORGANIZATION
  projects       SENTRY_PROJECT (slugs separated by commas or spaces)
  server         SENTRY_URL (sentry.io, de.sentry.io, host:port or a base URL;
                 default sentry.io)
  release        SENTRY_RELEASE, SENTRY_RELEASE_VERSION
  environment    SENTRY_ENVIRONMENT, SENTRY_RELEASE_ENVIRONMENT
Each name also works with the PLUGIN_ prefix that Drone and Woodpecker give plugin
settings (PLUGIN_SENTRY_AUTH_TOKEN). An organization token (sntrys_...) supplies the
server and organization itself unless they are set. The token is never printed.

retries: a 429 waits until Sentry's rate-limit window resets (at most 60 s); 502, 503,
504 and dropped connections are retried with backoff, a few times. A deploy is never
posted twice blindly: if a deploy POST may have reached Sentry without an answer, the
release's deploys are listed first and a deploy with the same environment, name, start
and finish is reused.

GlitchTip: an existing release (GlitchTip answers 500 where Sentry answers 208) is
confirmed with a read and counts as done; GlitchTip has no deploys, so none is
recorded there and the run still succeeds, saying so.

exit codes:
  0  done (a release that already existed counts as done; on GlitchTip, no deploy)
  1  Sentry refused (bad token, missing scope, unknown organization or project) or
     could not be reached
  2  bad input: nothing was sent

example:
  SENTRY_AUTH_TOKEN=sntrys_... SENTRY_ORG=acme \\
    source-sentry notify --release 1.2.3 --env production --project web --finalize
"""
)

USAGE_HINT = "Run 'source-sentry notify --help' for usage."


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise InputError(f"{message}. {USAGE_HINT}")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="source-sentry notify", add_help=False, allow_abbrev=False)
    for option in OPTIONS:
        if option.metavar:
            parser.add_argument(*option.flags, action=option.action, help=option.help, metavar=option.metavar)
        else:  # flags without a value: argparse refuses a metavar for them
            parser.add_argument(*option.flags, action=option.action, help=option.help)
    return parser


def _utcnow() -> datetime:
    # Whole seconds: what we send is then exactly what Sentry echoes back, which keeps the
    # search for an already-recorded deploy exact.
    return datetime.now(UTC).replace(microsecond=0)


def env_requests_notify(environ: Mapping[str, str]) -> bool:
    """Whether the environment alone asks for a notification (a release and a token are set).

    For the Docker image run as a Drone or Woodpecker step, which passes no arguments.
    """
    return bool(from_environment(environ, "release") and from_environment(environ, "auth_token"))


def main(argv: list[str] | None = None) -> int:
    """Run ``notify``; ``argv`` may start with the word ``notify``. Returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["notify"]:
        args = args[1:]
    return _Run(sys.stdout, sys.stderr).execute(args, os.environ)


class _Run:
    """One invocation: keeps what to print and the token to keep out of it."""

    def __init__(self, out: TextIO, err: TextIO) -> None:
        self.out, self.err = out, err
        self.token = ""
        self.as_json = False
        self.report: dict[str, Any] = {"ok": False, "dry_run": False}

    def execute(self, args: list[str], environ: Mapping[str, str]) -> int:
        try:
            self.as_json = "--json" in args
            parsed = _parser().parse_args(args)
            if parsed.help:
                self.out.write(HELP)
                return EXIT_OK
            return self._notify(parsed, environ)
        except InputError as exc:
            return self._fail(EXIT_INPUT, str(exc))
        except ConfigError as exc:
            return self._fail(EXIT_INPUT if exc.status is None else EXIT_SENTRY, str(exc))
        except (SentryUnavailable, SentryError) as exc:
            return self._fail(EXIT_SENTRY, str(exc))

    def _notify(self, parsed: argparse.Namespace, environ: Mapping[str, str]) -> int:
        config = connection_config(
            flag_projects=parsed.project, environ=environ, file_config=load_config_file(parsed.config)
        )
        self.token = str(config.get("auth_token") or "")
        if not self.token:
            raise InputError("No auth token: set SENTRY_AUTH_TOKEN (or auth_token in the --config file).")
        if not (config.get("organization") or org_token_claims(self.token).get("org")):
            raise InputError(
                "No organization: set SENTRY_ORG to your organization's slug (or organization in "
                "the --config file)."
            )
        settings = resolve_settings(config)
        if not settings.projects:
            raise InputError("No project given: pass --project SLUG, or set SENTRY_PROJECT.")
        now = _utcnow()
        started, finished = deploy_window(
            started=parsed.started, finished=parsed.finished, duration=parsed.time, now=now
        )
        version = parsed.release if parsed.release is not None else from_environment(environ, "release")
        environment = parsed.env if parsed.env is not None else from_environment(environ, "environment")
        if version is None:
            raise InputError("No release version: pass --release VERSION, or set SENTRY_RELEASE.")
        if environment is None:
            raise InputError(
                "No environment: pass --env ENVIRONMENT (e.g. production), or set SENTRY_ENVIRONMENT."
            )
        notification = Notification(
            organization=settings.organization,
            version=check_version(version),
            environment=check_environment(environment),
            projects=settings.projects,
            date_started=started,
            date_finished=finished,
            name=check_name(parsed.name),
            url=check_url(parsed.url),
            finalize=parsed.finalize,
        )

        api = SentryApi(settings.base_url, settings.token)
        self.report.update(
            sentry=api.base_url, organization=settings.organization, projects=list(settings.projects)
        )
        org, projects = settings.organization, ", ".join(settings.projects)
        checked = f"Checked {api.host}: organization {org}, projects {projects}"

        def check() -> None:
            check_connection(config, purpose="notify", api=api)

        if parsed.dry_run:
            # Nothing is written, so the connection is checked by reading.
            check()
            self._line(checked)
            prefix = urlsplit(api.base_url).path
            plan = notification.planned_requests()
            self.report["dry_run"] = True
            self.report["requests"] = [
                {"method": r.method, "path": f"{prefix}/{r.path}", "body": r.body}
                | ({"only_if": r.only_if} if r.only_if else {})
                for r in plan
            ]
            self._line("Dry run, nothing sent. Would send:")
            for r in plan:
                condition = f" ({r.only_if})" if r.only_if else ""
                self._line(
                    f"  {r.method} {prefix}/{r.path} {json.dumps(r.body, ensure_ascii=False)}{condition}"
                )
        else:
            # The release POST's acceptance is the check (token, scope, organization, projects);
            # the check routine runs only if Sentry refuses it, to name what to fix.
            def on_step(step: client.Step) -> None:
                if step.kind == "release":
                    # Only the projects the server kept were checked (GlitchTip drops unknown ones).
                    dropped = notification.dropped_projects(step.data)
                    kept = ", ".join(p for p in settings.projects if p not in dropped) or "none"
                    lost = f" (dropped: {', '.join(dropped)})" if dropped else ""
                    self._line(f"Checked {api.host}: organization {org}, projects {kept}{lost}")
                self._step(step, notification)

            server = str(config.get("server") or "sentry")
            client.notify(api, notification, on_step, server=server, diagnose=check)
        self.report["ok"] = True
        self.report["exit_code"] = EXIT_OK
        if self.as_json:
            self._write(self.out, json.dumps(self.report, ensure_ascii=False, sort_keys=True))
        return EXIT_OK

    def _step(self, step: client.Step, notification: Notification) -> None:
        version = notification.version
        if step.kind == "release":
            self.report["release"] = {"version": version, "outcome": step.outcome, "status": step.status}
            status = f"{step.status}, fetched" if step.status in (409, 500) else str(step.status)
            self._line(f"Release {version} {step.outcome} ({status})")
        elif step.kind == "finalize":
            released = notification.finalize_body()["dateReleased"]
            self.report["finalize"] = {"dateReleased": released, "status": step.status}
            self._line(f"Release {version} finalized at {released}")
        elif step.outcome == "unsupported":
            self.report["deploy"] = {"outcome": "unsupported", "status": step.status}
            self._line(
                f"Deploy of {version} to {notification.environment} not recorded: this server is "
                "GlitchTip, which has no deploys (the release is recorded)"
            )
        else:
            deploy = {
                k: step.data.get(k)
                for k in ("id", "environment", "name", "url", "dateStarted", "dateFinished")
            }
            self.report["deploy"] = {**deploy, "outcome": step.outcome, "status": step.status}
            where = f"Deploy {deploy['id']} of {version} to {notification.environment}"
            if step.outcome == "found":
                self._line(f"{where} was already recorded (found after an uncertain answer; not sent again)")
            else:
                self._line(f"{where} recorded")

    def _line(self, text: str) -> None:
        if not self.as_json:
            self._write(self.out, text)

    def _fail(self, code: int, message: str) -> int:
        if self.as_json:
            self.report.update(ok=False, exit_code=code, error=message)
            self._write(self.out, json.dumps(self.report, ensure_ascii=False, sort_keys=True))
        else:
            self._write(self.err, f"error: {message}")
        return code

    def _write(self, stream: TextIO, text: str) -> None:
        # Last line of defence: no message, whatever its source, may carry the token.
        stream.write(scrub_token(text, self.token) + "\n")
        stream.flush()
