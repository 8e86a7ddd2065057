"""The route table: each resource module declares its endpoints beside their handlers.

    @route("GET", "/api/0/projects/{org}/{project}/events/", faults={"events"}, category="events")
    def list_events(emu, req, org, project): ...

A path template is matched segment by segment against the percent-decoded path, so a
``{name}`` takes one non-empty segment (which may hold an encoded ``/``). A handler returns
``(status, body)`` or raises ``ApiError``. ``faults`` are the fault-spec targets that reach the
endpoint (``*`` always does); ``category`` is its rate-limit window. Another API dialect
derives its own table (``SENTRY.derive()``) and replaces the routes where it differs, as
``resources/glitchtip.py`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Endpoint:
    method: str
    template: str
    handler: Callable[..., tuple[int, Any]]
    faults: frozenset[str]
    category: str
    public: bool = False  # answers without a token


class RouteTable:
    def __init__(self) -> None:
        # template segments -> method -> endpoint, in the order the routes were declared
        self._routes: dict[tuple[str, ...], dict[str, Endpoint]] = {}

    def route(
        self,
        method: str,
        template: str,
        *,
        faults: Iterable[str],
        category: str = "default",
        replaces: bool = False,
        public: bool = False,
    ) -> Callable[[Callable], Callable]:
        """Declare ``method template``; ``replaces=True`` swaps the handler of a route a derived
        table inherited (and refuses one it does not have)."""
        if not template.endswith("/"):
            raise ValueError(f"Sentry's routes end with '/': {template!r}")
        segments = tuple(template.split("/")[:-1])

        def register(handler: Callable) -> Callable:
            methods = self._routes.setdefault(segments, {})
            if (method in methods) != replaces:
                problem = "is not declared" if replaces else "is declared twice"
                raise ValueError(f"{method} {template} {problem}")
            methods[method] = Endpoint(method, template, handler, frozenset(faults), category, public)
            return handler

        return register

    def match(self, segments: list[str]) -> tuple[dict[str, Endpoint], dict[str, str]] | None:
        """The endpoints (by method) of the route whose template fits ``segments`` (the decoded
        path split on ``/``, without the trailing empty one), and the template's arguments."""
        for pattern, methods in self._routes.items():
            if len(pattern) != len(segments):
                continue
            args = {}
            for pat, seg in zip(pattern, segments, strict=True):
                if pat.startswith("{"):
                    if not seg:
                        break
                    args[pat[1:-1]] = seg
                elif pat != seg:
                    break
            else:
                return methods, args
        return None

    def derive(self) -> RouteTable:
        """A table with every route of this one, for a dialect to replace or add some."""
        table = RouteTable()
        table._routes = {segments: dict(methods) for segments, methods in self._routes.items()}
        return table

    def endpoints(self) -> list[Endpoint]:
        return [e for methods in self._routes.values() for e in methods.values()]


SENTRY = RouteTable()
route = SENTRY.route
