"""`Host`: what the server, the control API and the handlers use of the emulator that runs them.

`Emulator` (emulator.py) satisfies it without naming it. The modules it imports to serve (server,
control, the resources and the webhook actions) type their ``emu`` with this protocol, so none
of them imports emulator.py back: the import graph has no circle, not even for the type checker.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Protocol

from .auth import Tokens
from .data import World
from .faults import Faults
from .ratelimit import RateLimiter
from .webhooks import Webhooks
from .wire import RequestLog


class Host(Protocol):
    # What the server reads for each request.
    world: World
    tokens: Tokens
    faults: Faults
    limiter: RateLimiter
    log: RequestLog
    webhooks: Webhooks
    dialect: str
    host: str
    port: int
    seed: int
    page_latency_ms: float

    @property
    def scheme(self) -> str: ...

    # What the control API calls (see control.py for the arguments each action takes).
    def info(self) -> dict: ...

    def ground_truth(
        self, kind: str, projects: Iterable[str | int] | None = None, *, full: bool = False
    ) -> list[dict]: ...

    def add_events(
        self,
        project_slug: str,
        n: int,
        *,
        issue_id: str | None = None,
        late_by: timedelta | float | None = None,
        ahead_by: timedelta | float | None = None,
        visible_after: timedelta | float | None = None,
    ) -> list[dict]: ...

    def release_pending(self) -> int: ...

    def add_issues(self, project_slug: str, n: int) -> list[dict]: ...

    def resolve_issue(self, issue_id: str) -> dict: ...

    def set_issue_status(self, issue_id: str, status: str, *, automatic: bool = False) -> dict: ...

    def add_release(self, version: str, projects: Iterable[str | int] | None = None) -> dict: ...

    def add_repository(
        self, name: str, *, url: str | None = None, provider: str | None = "github", path: str | None = None
    ) -> dict: ...

    def set_faults(self, spec: str | None) -> None: ...

    def clear_faults(self) -> None: ...

    def make_token(
        self,
        scopes: Iterable[str] | None = None,
        forbidden_projects: Iterable[str | int] = (),
        kind: str = "user",
    ) -> str: ...

    @property
    def requests(self) -> list[dict]: ...

    def reset_log(self) -> None: ...
