"""The connection check, shared by the connector's ``check`` and by ``source-sentry notify``:
proves the config can read (or notify) and says what to fix when it cannot."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, NamedTuple

from source_sentry.config import ConfigError, Settings, resolve_settings
from source_sentry.sentry_api import SentryApi, describe_error, raise_for_status
from source_sentry.transport import Response, Transport


class ConnectionInfo(NamedTuple):
    """What the check learned: the organization and the projects in scope.

    ``projects`` holds ``(slug, id)``; the id is None when the token may not read the
    project (an organization token used to notify).
    """

    base_url: str
    organization: str
    projects: tuple[tuple[str, str | None], ...]


def check_connection(
    config: Mapping[str, Any],
    *,
    purpose: Literal["read", "notify"] = "read",
    transport: Transport | None = None,
    timeout: float = 10,
    api: SentryApi | None = None,
) -> ConnectionInfo:
    """Prove the config can do ``purpose``; raise ``ConfigError`` saying what to fix.

    Raises ``SentryUnavailable`` when Sentry is unreachable or failing.
    """
    settings = resolve_settings(config)
    api = api or SentryApi(settings.base_url, settings.token, transport=transport, timeout=timeout)
    return _Checker(api, settings, purpose).run()


class _Checker:
    def __init__(self, api: SentryApi, settings: Settings, purpose: Literal["read", "notify"]) -> None:
        self.api = api
        self.settings = settings
        self.purpose = purpose
        self.org = settings.organization

    def run(self) -> ConnectionInfo:
        self._check_organization()
        if self.settings.projects:
            projects = tuple(self._check_project(slug) for slug in self.settings.projects)
        elif self.purpose == "read":
            projects = self._list_projects()
        else:
            projects = ()
        if self.purpose == "read" and projects:
            self._check_event_access(projects[0][0])
        # Reading needs it too: the releases list is the one org-level read that wants
        # project:read, which listing projects (org:read) does not prove.
        self._check_release_access()
        return ConnectionInfo(self.api.base_url, self.org, projects)

    def _needed_scopes(self, scope: str | None = None) -> str:
        if self.purpose == "read":
            scopes = "the scopes " + ", ".join(self.settings.read_scopes)
            if scope:
                server = "GlitchTip" if self.settings.server == "glitchtip" else "Sentry"
                return f"{scope} ({server} asks for it here); syncing needs {scopes}"
            return scopes
        return "the scope project:releases (or project:write, or org:ci as organization tokens have)"

    def _fail(self, response: Response, what: str, scope: str | None = None) -> None:
        status = response.status_code
        reason = describe_error(response)
        if status == 401:
            raise ConfigError(
                f"Sentry rejected the auth token (401): {reason}. Check auth_token: it may be mistyped, "
                f"revoked, or from another Sentry server than {self.api.host}.",
                status=401,
            )
        if status == 403:
            raise ConfigError(
                f"The auth token may not {what} (403): {reason}. "
                f"Give the token {self._needed_scopes(scope)}.",
                status=403,
            )
        raise_for_status(response, what)

    def _check_organization(self) -> None:
        path = f"organizations/{self.org}/"
        status, _, response = self.api.get_json(path)
        if status == 404:
            raise ConfigError(
                f"Organization {self.org!r} was not found on {self.api.host} (404): check organization "
                "(the slug in your Sentry URL) and hostname (EU organizations use de.sentry.io).",
                status=404,
            )
        if status == 403 and self.purpose == "notify":
            return  # organization tokens may lack org:read; the releases check below decides.
        if status != 200:
            self._fail(response, f"read organization {self.org!r}")

    def _check_project(self, slug: str) -> tuple[str, str | None]:
        status, body, response = self.api.get_json(f"projects/{self.org}/{slug}/")
        if status == 404:
            raise ConfigError(
                f"Project {slug!r} was not found in organization {self.org!r} (404): check the project "
                "slug (Project Settings > General) and that the token can see it.",
                status=404,
            )
        if status == 403 and self.purpose == "notify":
            return slug, None  # an org:ci token cannot read projects; the release POST validates them.
        if status != 200:
            self._fail(response, f"read project {slug!r}")
        return slug, str(body.get("id")) if isinstance(body, dict) and body.get("id") is not None else None

    def _list_projects(self) -> tuple[tuple[str, str | None], ...]:
        pages = self.api.paginate(
            f"organizations/{self.org}/projects/",
            {"per_page": 100},
            on_error=lambda response: self._fail(response, f"list the projects of {self.org!r}"),
        )
        return tuple((str(p["slug"]), str(p["id"])) for p in pages)

    def _check_event_access(self, slug: str) -> None:
        """event:read is only needed for events and issues: without this probe a token lacking it
        would pass the check and fail on the first sync."""
        status, _, response = self.api.get_json(f"projects/{self.org}/{slug}/events/", {"per_page": 1})
        if status != 200:
            self._fail(response, f"read the events of project {slug!r}")

    def _check_release_access(self) -> None:
        status, _, response = self.api.get_json(f"organizations/{self.org}/releases/", {"per_page": 1})
        if status == 404:
            raise ConfigError(
                f"Organization {self.org!r} was not found on {self.api.host} (404): check organization "
                "and hostname.",
                status=404,
            )
        if status != 200:
            scope = "project:releases" if self.settings.server == "glitchtip" else None
            self._fail(response, f"read the releases of {self.org!r}", scope)


def missing_projects(
    config: Mapping[str, Any],
    *,
    transport: Transport | None = None,
    timeout: float = 30,
    api: SentryApi | None = None,
) -> list[str]:
    """The configured project slugs the organization does not have (mistyped, deleted, or
    renamed: a renamed project has a new slug). Empty when no projects are configured.

    Raises ``SentryError`` or ``SentryUnavailable`` when the list cannot be read.
    """
    settings = resolve_settings(config)
    if not settings.projects:
        return []
    api = api or SentryApi(settings.base_url, settings.token, transport=transport, timeout=timeout)
    existing = {
        str(project.get("slug"))
        for project in api.paginate(f"organizations/{settings.organization}/projects/", {"per_page": 100})
        if isinstance(project, dict)
    }
    return [slug for slug in settings.projects if slug not in existing]


def missing_projects_message(organization: str, missing: list[str]) -> str:
    names = ", ".join(f"`{slug}`" for slug in missing)
    noun = "Project" if len(missing) == 1 else "Projects"
    verb = "is" if len(missing) == 1 else "are"
    return (
        f"{noun} {names} {verb} not in organization `{organization}`: correct or remove "
        f"{'it' if len(missing) == 1 else 'them'} in `projects` (a project renamed in Sentry has a "
        "new slug: Project Settings > General). Nothing was synced, so that no project silently "
        "goes missing from the destination."
    )
