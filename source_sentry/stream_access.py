"""Which optional streams the token can read, for `check` to say: one request per optional
stream, its own first request (from the manifest) cut to one record.

A stream is optional when the manifest names its scope (`$parameters.scope`): syncs skip it on a
403 or 404 instead of failing, so a check that only proves the core streams would leave a user to
find the gaps in the sync's warnings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from source_sentry.check import ConnectionInfo
from source_sentry.sentry_api import SentryApi


@dataclass(frozen=True)
class StreamAccess:
    stream: str
    scope: str
    status: int | None  # None: not probed (nothing to ask about yet)

    @property
    def readable(self) -> bool:
        return self.status == 200

    def reason(self) -> str:
        if self.status == 403:
            return f"the token lacks {self.scope}"
        if self.status == 404:
            return "this server does not have its endpoint"
        if self.status is None:
            return "not checked: the organization has no release or monitor to ask about yet"
        return f"Sentry answered HTTP {self.status}"


def optional_stream_access(
    config: Mapping[str, Any], info: ConnectionInfo, api: SentryApi
) -> list[StreamAccess]:
    """Probe each optional stream once (per_page=1), in the manifest's order."""
    from airbyte_cdk.sources.declarative.interpolation.jinja import JinjaInterpolation
    from airbyte_cdk.sources.types import StreamSlice

    from source_sentry.cdk_logs import optional_stream_scopes
    from source_sentry.manifest import shared_manifest

    streams = shared_manifest()["definitions"]["streams"]
    slug, project_id = info.projects[0] if info.projects else ("", None)
    version = _a_release_version(api, info.organization)
    monitor = _a_monitor_id(api, info.organization)
    partition = StreamSlice(
        partition={"project_id": project_id or "", "version": version or "", "monitor_id": monitor or ""},
        cursor_slice={},
        extra_fields={"slug": slug},
    )
    jinja = JinjaInterpolation()
    out = []
    for stream, scope in optional_stream_scopes().items():
        requester = streams[stream]["retriever"]["requester"]
        path = str(jinja.eval(requester["path"], config=config, stream_slice=partition))
        if "//" in path or path.startswith("/"):
            out.append(StreamAccess(stream, scope, None))  # its parent (a release, a monitor) does not exist
            continue
        params = {
            name: jinja.eval(str(value), config=config, stream_slice=partition)
            for name, value in (requester.get("request_parameters") or {}).items()
        }
        status, _, _ = api.get_json(path, {**{k: v for k, v in params.items() if v != ""}, "per_page": 1})
        out.append(StreamAccess(stream, scope, status))
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
    unreadable = [a for a in access if not a.readable]
    text = f"Optional streams readable: {', '.join(readable) or 'none'}."
    if unreadable:
        text += (
            " Not readable, skipped by syncs: "
            + "; ".join(f"{a.stream} ({a.reason()})" for a in unreadable)
            + "."
        )
    probes = sum(1 for a in access if a.status is not None)
    return text + (
        f" (Checked with {probes + 2} requests: one per optional stream,"
        " one each for a release and a monitor.)"
    )
