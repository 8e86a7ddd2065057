"""Which optional streams the token can read, for `check` to say: one request per optional
stream, its own first request (from the manifest) cut to one record.

A stream is optional when the manifest names its scope (`$parameters.scope`): syncs skip it on a
403 or 404 instead of failing, so a check that only proves the core streams would leave a user to
find the gaps in the sync's warnings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from source_sentry.check import ConnectionInfo
from source_sentry.sentry_api import SentryApi

UNSERVED: Final = -1  # `status` of a stream the configured server does not serve: not asked


@dataclass(frozen=True)
class StreamAccess:
    stream: str
    scope: str
    status: int | None  # None: not probed (nothing to ask about yet); UNSERVED: not offered
    json: bool = True  # whether the answer was JSON (a web app's HTML page is not)
    server: str = "sentry"

    @property
    def readable(self) -> bool:
        # A usable answer: a 200 with JSON. A web app catching the path (GlitchTip's renders its
        # frontend's page) answers 200 too.
        return self.status == 200 and self.json

    @property
    def probed(self) -> bool:
        return self.status is not None and self.status != UNSERVED

    def reason(self) -> str:
        name = "GlitchTip" if self.server == "glitchtip" else "Sentry"
        if self.status == UNSERVED:
            return f"{name} does not serve it: not offered with `server: {self.server}`"
        if self.status is None:
            return "not checked: the organization has no release or monitor to ask about yet"
        if not self.json:
            return f"{name} answered HTTP {self.status} with a web page, not JSON: it does not serve it"
        if self.status == 403:
            return f"the token lacks {self.scope}"
        if self.status == 404:
            return "this server does not have its endpoint"
        return f"{name} answered HTTP {self.status}"


def optional_stream_access(
    config: Mapping[str, Any], info: ConnectionInfo, api: SentryApi
) -> list[StreamAccess]:
    """Probe each optional stream once (per_page=1), in the manifest's order."""
    from airbyte_cdk.sources.declarative.interpolation.jinja import JinjaInterpolation
    from airbyte_cdk.sources.types import StreamSlice

    from source_sentry.cdk_logs import optional_stream_scopes
    from source_sentry.manifest import shared_manifest, unserved_stream_names

    streams = shared_manifest()["definitions"]["streams"]
    server = "glitchtip" if config.get("server") == "glitchtip" else "sentry"
    unserved = set(unserved_stream_names(config))
    scopes = optional_stream_scopes()
    slug, project_id = info.projects[0] if info.projects else ("", None)
    # A release and a monitor to ask about, where a stream served here needs one.
    needs = {"deploys", "release_commits", "monitor_checkins"} - unserved
    version = _a_release_version(api, info.organization) if needs & {"deploys", "release_commits"} else None
    monitor = _a_monitor_id(api, info.organization) if "monitor_checkins" in needs else None
    partition = StreamSlice(
        partition={"project_id": project_id or "", "version": version or "", "monitor_id": monitor or ""},
        cursor_slice={},
        extra_fields={"slug": slug},
    )
    jinja = JinjaInterpolation()
    out = []
    for stream, scope in scopes.items():
        if stream in unserved:
            out.append(StreamAccess(stream, scope, UNSERVED, server=server))
            continue
        requester = streams[stream]["retriever"]["requester"]
        path = str(jinja.eval(requester["path"], config=config, stream_slice=partition))
        if "//" in path or path.startswith("/"):
            out.append(StreamAccess(stream, scope, None, server=server))  # no release or monitor yet
            continue
        params = {
            name: jinja.eval(str(value), config=config, stream_slice=partition)
            for name, value in (requester.get("request_parameters") or {}).items()
        }
        status, body, _ = api.get_json(path, {**{k: v for k, v in params.items() if v != ""}, "per_page": 1})
        out.append(StreamAccess(stream, scope, status, json=isinstance(body, (list, dict)), server=server))
    return out


def _a_release_version(api: SentryApi, organization: str) -> str | None:
    status, body, _ = api.get_json(f"organizations/{organization}/releases/", {"per_page": 1})
    if status == 200 and isinstance(body, list) and body and isinstance(body[0], dict):
        return str(body[0].get("version") or "") or None
    return None


def _a_monitor_id(api: SentryApi, organization: str) -> str | None:
    status, body, _ = api.get_json(f"organizations/{organization}/monitors/", {"per_page": 1})
    if status == 200 and isinstance(body, list) and body and isinstance(body[0], dict):
        return str(body[0].get("id") or "") or None
    return None


def access_report(access: list[StreamAccess]) -> str:
    """One sentence for the check's message: what is readable, what is not and why."""
    readable = [a.stream for a in access if a.readable]
    unreadable = [a for a in access if not a.readable and a.status != UNSERVED]
    unserved = [a for a in access if a.status == UNSERVED]
    text = f"Optional streams readable: {', '.join(readable) or 'none'}."
    if unreadable:
        text += (
            " Not readable, skipped by syncs: "
            + "; ".join(f"{a.stream} ({a.reason()})" for a in unreadable)
            + "."
        )
    if unserved:
        text += (
            f" Not offered with `server: {unserved[0].server}` ({unserved[0].reason().split(':')[0]}), "
            f"so not asked: {', '.join(a.stream for a in unserved)}."
        )
    probes = sum(1 for a in access if a.probed)
    if {"deploys", "release_commits", "monitor_checkins"} <= {a.stream for a in unserved}:
        return text + f" (Checked with {probes} requests: one per optional stream asked.)"
    return text + (
        f" (Checked with {probes + 2} requests: one per optional stream asked,"
        " one each for a release and a monitor.)"
    )
