"""Pure building and checking of what the notifier sends: no I/O, no clock.

Field names follow Sentry's API (``environment``, ``dateStarted``); the checks mirror the
server's own rules so that bad input is refused before anything is sent.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple
from urllib.parse import quote

MAX_VERSION = 200
MAX_ENVIRONMENT = 64
MAX_NAME = 64

_FORBIDDEN_IN_VERSION = {
    "/": "a slash",
    "\\": "a backslash",
    "\r": "a carriage return",
    "\n": "a line break",
    "\t": "a tab",
    "\f": "a form feed",
}


class InputError(ValueError):
    """Input the person must correct; nothing has been sent."""


def check_version(version: str) -> str:
    if not version or not version.strip():
        raise InputError("The release version is empty: pass --release VERSION (e.g. 1.2.3 or a commit SHA).")
    if version.strip().lower() in (".", "..", "latest"):
        raise InputError(
            f"The release version cannot be {version.strip()!r}: Sentry reserves it. "
            "Use the version your build produced."
        )
    if len(version) > MAX_VERSION:
        raise InputError(
            f"The release version is {len(version)} characters long; Sentry allows at most {MAX_VERSION}."
        )
    for char, name in _FORBIDDEN_IN_VERSION.items():
        if char in version:
            raise InputError(
                f"The release version {version!r} contains {name}, which Sentry does not allow in versions."
            )
    return version


def check_environment(environment: str | None) -> str:
    if environment is None or not environment.strip():
        raise InputError("The environment is missing: pass --env ENVIRONMENT (e.g. production).")
    if len(environment) > MAX_ENVIRONMENT:
        raise InputError(
            f"The environment {environment[:20]!r}... is {len(environment)} characters long; "
            f"Sentry allows at most {MAX_ENVIRONMENT}."
        )
    if "/" in environment or "\n" in environment or "\r" in environment:
        raise InputError(
            f"The environment {environment!r} contains a slash or a line break, which Sentry does not allow."
        )
    return environment


def check_name(name: str | None) -> str | None:
    if name is not None and len(name) > MAX_NAME:
        raise InputError(f"The deploy name is {len(name)} characters long; Sentry allows at most {MAX_NAME}.")
    return name


def check_url(url: str | None) -> str | None:
    if url is not None and not re.match(r"^https?://[^\s/]+", url):
        raise InputError(
            f"The deploy URL {url!r} is not an http(s) URL: pass a link such as the CI build's page."
        )
    return url


def parse_time(text: str, *, now: datetime, flag: str) -> datetime:
    """``now``, Unix seconds, or RFC 3339 with an offset, as an aware UTC datetime."""
    value = text.strip()
    if value.lower() == "now":
        return now.astimezone(UTC)
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds) or seconds < 0:
            raise InputError(f"{flag} {text!r}: Unix seconds must be a positive number.")
        return datetime.fromtimestamp(seconds, UTC)
    try:
        moment = datetime.fromisoformat(value.replace("z", "Z").replace("t", "T"))
    except ValueError:
        raise InputError(
            f"{flag} {text!r} is not a time: use now, Unix seconds (1714557600) or RFC 3339 "
            "(2024-05-01T10:00:00Z)."
        ) from None
    if moment.tzinfo is None:
        raise InputError(f"{flag} {text!r} has no UTC offset: add Z or +HH:MM (2024-05-01T10:00:00Z).")
    return moment.astimezone(UTC)


def parse_duration(text: str) -> timedelta:
    try:
        seconds = int(text.strip())
    except ValueError:
        raise InputError(f"--time {text!r}: give the deploy's duration in whole seconds (e.g. 95).") from None
    if seconds < 0:
        raise InputError(f"--time {text!r}: a duration cannot be negative.")
    return timedelta(seconds=seconds)


def deploy_window(
    *, started: str | None, finished: str | None, duration: str | None, now: datetime
) -> tuple[datetime | None, datetime]:
    """``(dateStarted, dateFinished)`` from the time flags.

    ``--time S`` alone means the deploy took S seconds and ended now; with ``--started`` it
    ended S seconds after the start. ``--finished`` defaults to now.
    """
    if finished is not None and duration is not None:
        raise InputError("Pass either --finished or --time, not both: --time is the duration from --started.")
    start = parse_time(started, now=now, flag="--started") if started is not None else None
    if duration is not None:
        length = parse_duration(duration)
        end = start + length if start is not None else now
        start = start if start is not None else now - length
    else:
        end = parse_time(finished, now=now, flag="--finished") if finished is not None else now
    if start is not None and end < start:
        raise InputError(
            f"The deploy finishes ({format_time(end)}) before it starts ({format_time(start)}): "
            "check --started and --finished."
        )
    return start, end


def format_time(moment: datetime) -> str:
    """UTC ISO-8601 with ``Z``; fractions only when there are any."""
    moment = moment.astimezone(UTC)
    pattern = "%Y-%m-%dT%H:%M:%S.%fZ" if moment.microsecond else "%Y-%m-%dT%H:%M:%SZ"
    return moment.strftime(pattern)


def same_instant(a: str | None, b: str | None) -> bool:
    """Sentry prints 0, 3 or 6 fraction digits: compare instants, never strings."""
    if a is None or b is None:
        return a is None and b is None
    try:
        return datetime.fromisoformat(a) == datetime.fromisoformat(b)
    except ValueError:
        return False


def path_segment(value: str) -> str:
    """``value`` percent-encoded as one URL path segment (``+`` -> %2B, ``#`` -> %23, ...)."""
    return quote(value, safe="@:")


# A NamedTuple, not a dataclass: dataclasses (and the inspect module it loads) add measurably to
# `notify`'s start-up (docs/benchmarks.md, "Figures behind the code"); immutable all the same.
class Notification(NamedTuple):
    """Everything one ``notify`` run sends, already checked."""

    organization: str
    version: str
    environment: str
    projects: tuple[str, ...]
    date_finished: datetime
    date_started: datetime | None = None
    name: str | None = None
    url: str | None = None
    finalize: bool = False

    @property
    def releases_path(self) -> str:
        return f"organizations/{path_segment(self.organization)}/releases/"

    @property
    def release_path(self) -> str:
        return f"{self.releases_path}{path_segment(self.version)}/"

    @property
    def deploys_path(self) -> str:
        return f"{self.release_path}deploys/"

    def release_body(self) -> dict[str, Any]:
        """With ``finalize``, ``dateReleased`` too: Sentry sets it on a release the POST creates
        (and ignores it on one that exists, which then needs ``finalize_body``'s PUT)."""
        body: dict[str, Any] = {"version": self.version, "projects": list(self.projects)}
        if self.finalize:
            body.update(self.finalize_body())
        return body

    def finalize_body(self) -> dict[str, Any]:
        return {"dateReleased": format_time(self.date_finished)}

    def deploy_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"environment": self.environment, "projects": list(self.projects)}
        if self.name is not None:
            body["name"] = self.name
        if self.url is not None:
            body["url"] = self.url
        if self.date_started is not None:
            body["dateStarted"] = format_time(self.date_started)
        body["dateFinished"] = format_time(self.date_finished)
        return body

    def is_this_deploy(self, deploy: dict[str, Any]) -> bool:
        """Whether a deploy listed by Sentry is the one ``deploy_body`` describes."""
        body = self.deploy_body()
        return (
            deploy.get("environment") == self.environment
            and (deploy.get("name") or None) == (self.name or None)
            and same_instant(deploy.get("dateStarted"), body.get("dateStarted"))
            and same_instant(deploy.get("dateFinished"), body["dateFinished"])
        )

    def dropped_projects(self, release: dict[str, Any]) -> list[str]:
        """The projects asked for that the server's answer does not list (by slug or id); none
        when the answer lists no projects at all (nothing to compare)."""
        listed = release.get("projects")
        if not isinstance(listed, list) or not listed:
            return []
        kept = {str(p.get(key)) for p in listed if isinstance(p, dict) for key in ("slug", "id")}
        return [project for project in self.projects if project not in kept]

    def is_finalized_by(self, release: dict[str, Any]) -> bool:
        """Whether a release Sentry answered with already carries our ``dateReleased``."""
        return self.finalize and same_instant(
            release.get("dateReleased"), self.finalize_body()["dateReleased"]
        )

    def planned_requests(self) -> list[PlannedRequest]:
        """Every write, in order; what ``--dry-run`` prints."""
        plan = [PlannedRequest("POST", self.releases_path, self.release_body())]
        if self.finalize:
            plan.append(
                PlannedRequest(
                    "PUT", self.release_path, self.finalize_body(), "if the release already existed"
                )
            )
        plan.append(PlannedRequest("POST", self.deploys_path, self.deploy_body()))
        return plan


class PlannedRequest(NamedTuple):
    """One write ``notify`` would send; ``only_if`` when it depends on Sentry's answer."""

    method: str
    path: str
    body: dict[str, Any]
    only_if: str | None = None
