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
from source_sentry.notify.commits import MODES, ci_checkout, short
from source_sentry.notify.git import LocalGit, Tree
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
    _Option(
        ("--release",),
        "VERSION",
        "store",
        "the release version, as your app reports it to Sentry (1.2.3,\n"
        "my-app@1.2.3+build.7, a commit SHA); at most 200 characters, no\n"
        'slash, backslash, tab or line break, not ".", ".." or "latest"',
    ),
    _Option(
        ("--env",),
        "ENVIRONMENT",
        "store",
        "where it was deployed (production, staging); at most 64\ncharacters, no slash or line break",
    ),
    _Option(
        ("--project",), "SLUG", "append", "a project of the release; repeat it or separate slugs with commas"
    ),
    _Option(
        ("--config",),
        "FILE",
        "store",
        "the connector's config JSON (auth_token, hostname, organization,\nproject or projects)",
    ),
    _Option(("--name",), "NAME", "store", "a name for this deploy (at most 64 characters)"),
    _Option(("--url",), "URL", "store", "a link to the deploy, such as the CI build's page"),
    _Option(("--started",), "TIME", "store", "when the deploy started"),
    _Option(("--finished",), "TIME", "store", "when it finished (default: now)"),
    _Option(
        ("--time",),
        "SECONDS",
        "store",
        "how long it took: alone, it ended now and started SECONDS ago;\n"
        "with --started, it ended SECONDS after the start",
    ),
    _Option(
        ("--finalize",), None, "store_true", "also mark the release as released (dateReleased = finish time)"
    ),
    _Option(
        ("--commits",),
        "MODE",
        "store",
        "link the release to its commits: auto (Sentry reads them from the\n"
        "repository it knows as this work tree's remote), local (send them\n"
        "from this clone's history) or skip; default: auto in a git work\n"
        "tree (local when Sentry knows no such repository), else skip",
    ),
    _Option(
        ("--dry-run",), None, "store_true", "check the connection, print what would be sent, send nothing"
    ),
    _Option(("--json",), None, "store_true", "print one JSON object instead of one line per step"),
    _Option(("-h", "--help"), None, "store_true", "show this help"),
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
                            [--finalize] [--commits MODE] [--dry-run] [--json]

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
  commits        SENTRY_COMMITS (auto, local or skip)
Each name also works with the PLUGIN_ prefix that Drone and Woodpecker give plugin
settings (PLUGIN_SENTRY_AUTH_TOKEN). An organization token (sntrys_...) supplies the
server and organization itself unless they are set. The token is never printed.

retries: a 429 waits until Sentry's rate-limit window resets (at most 60 s); 502, 503,
504 and dropped connections are retried with backoff, a few times. A deploy is never
posted twice blindly: if a deploy POST may have reached Sentry without an answer, the
release's deploys are listed first and a deploy with the same environment, name, start
and finish is reused.

commits: a release gets its commits once; one that has commits keeps them (a re-run,
another environment). --commits auto given explicitly fails, writing nothing, when no
repository in Sentry matches the remote. local reads from the previous release's last
commit to HEAD; a shallow clone sends what it has and names what is missing.

GlitchTip: an existing release (GlitchTip answers 500 where Sentry answers 208) is
confirmed with a read and counts as done; GlitchTip has no deploys and no commits, so
neither is recorded there and the run still succeeds, saying so.

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
        commits = self._commits(parsed, environ)
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
            if commits is not None:
                planned, info = client.preview_commits(
                    api, notification, client.plan_commits(api, notification, commits, self._server(config))
                )
                self._commits_report(
                    notification, info.get("outcome") or ("planned" if planned else "none"), info
                )
                if planned is not None:
                    plan.insert(-1, planned)
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

            client.notify(
                api, notification, on_step, server=self._server(config), diagnose=check, commits=commits
            )
        self.report["ok"] = True
        self.report["exit_code"] = EXIT_OK
        if self.as_json:
            self._write(self.out, json.dumps(self.report, ensure_ascii=False, sort_keys=True))
        return EXIT_OK

    @staticmethod
    def _server(config: Mapping[str, Any]) -> str:
        return str(config.get("server") or "sentry")

    def _commits(self, parsed: argparse.Namespace, environ: Mapping[str, str]) -> client.CommitRequest | None:
        """``--commits``, else SENTRY_COMMITS, else auto in a git work tree (and skip outside)."""
        chosen = parsed.commits if parsed.commits is not None else from_environment(environ, "commits")
        mode = (chosen or "auto").strip().lower()
        if mode not in MODES:
            raise InputError(f"--commits {chosen!r}: use auto, local or skip.")
        if mode == "skip":
            return None
        git = LocalGit()
        try:
            tree = git.tree()
        except InputError as problem:
            if chosen:
                raise
            self._line(f"Commits not linked: {problem}")
            return None
        checkout = ci_checkout(environ) if tree is None and mode == "auto" else None
        if checkout is not None:
            tree = Tree(checkout[0], checkout[1], shallow=True, depth=0, has_history=False)
        if tree is None:
            if chosen:
                raise InputError(
                    f"--commits {mode} needs a git work tree: run it in the checkout of the release's "
                    "code (and install git), or pass --commits skip."
                )
            self.report["commits"] = {"outcome": "skipped", "reason": "not in a git work tree"}
            return None
        return client.CommitRequest(mode, bool(chosen), tree, git)

    def _commits_report(self, notification: Notification, outcome: str, info: dict[str, Any]) -> None:
        """One line (two when auto fell back to local) about the release's commits."""
        version = notification.version
        report = {k: v for k, v in info.items() if k != "body"} | {"outcome": outcome}
        self.report["commits"] = report
        if info.get("reason") and outcome not in ("unsupported", "kept", "unavailable"):
            self._line(f"Commits from local history: {info['reason']}")
        if outcome == "unavailable":
            self._line(
                f"Commits of {version} not linked: {info['reason']}; there is no git work tree here "
                "to read them from instead"
            )
        elif outcome == "unsupported":
            self._line(f"Commits of {version} not linked: this server is GlitchTip, which has no commits")
        elif outcome == "kept":
            self._line(
                f"Commits of {version} already set ({info['count']}, last {short(info['last'])}): "
                "not sent again"
            )
        elif info.get("kind") == "refs":
            verb = "linked" if outcome == "linked" else "would be linked"
            self._line(
                f"Commits of {version} {verb} through {info['repository']} at {short(info['head'])}: "
                "Sentry reads them from the repository"
            )
        elif outcome == "none":
            self._line(
                f"Commits of {version}: none after {short(info.get('previous'))} "
                f"(release {info.get('previous_version')}); nothing sent"
            )
        else:
            self._line(
                f"Commits of {version} {'set' if outcome == 'linked' else 'to send'}: {_history_text(info)}"
            )

    def _step(self, step: client.Step, notification: Notification) -> None:
        version = notification.version
        if step.kind == "commits":
            self._commits_report(notification, step.outcome, dict(step.data))
        elif step.kind == "release":
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


def _history_text(info: Mapping[str, Any]) -> str:
    """What part of the local history was sent, and what is missing and how to fetch it."""
    sent, total, basis = info["sent"], info["total"], info["basis"]
    counted = f"{sent} commit{'s' * (sent != 1)}" + (
        f" (the newest {sent} of {total})" if total > sent else ""
    )
    where = f" under {info['repository']}" if info.get("repository") else ""
    previous = f"{short(info.get('previous'))} (release {info.get('previous_version')})"
    if basis == "first":
        return f"{counted}{where}, up to {short(info['head'])}; no earlier release has commits"
    if basis == "range":
        return f"{counted}{where}, after {previous} up to {short(info['head'])}"
    if basis == "shallow":
        return (
            f"{counted}{where}, all this shallow clone has; missing: the commits after {previous} and "
            f"before {short(info['oldest'])}, which the clone lacks. To send them, fetch the history "
            "before notifying: fetch-depth: 0 (actions/checkout), GIT_DEPTH: 0 (GitLab), or "
            "git fetch --deepen=100 (repeat, or --unshallow)"
        )
    return (
        f"{counted}{where}, made since {info.get('previous_date')}: {previous} is in no branch of this "
        "clone (squashed or rebased away), so the range starts at that release's date"
    )
