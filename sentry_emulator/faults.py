"""Fault injection.

Grammar (whitespace ignored)::

    SPEC   := RULE ("," RULE)*
    RULE   := TARGET ":" ACTION [ "x" N | "@" P ]
    TARGET := * | orgs | org | projects | project | events | issues | org_issues
              | project_issues | releases | release_create | release_update | deploys
              | deploy_create
    ACTION := 4xx/5xx status (JSON body as Sentry sends it; 429 adds rate-limit headers,
              429=S puts the reset S seconds ahead, 409 on release_create also creates the
              release, as the racing request would have)
            | 429legacy         old self-hosted 429: {"detail": "... Limit is 3/1s"}, no headers
            | 429concurrent     sentry.io's concurrency 429: `ConcurrentRemaining: 0`, the
                                window not spent (Remaining above 0), the window's reset
            | 500html | 502html | 503html | 504html   proxy HTML error page (text/html)
            | reset             close the connection without any response (TCP RST)
            | slow=SECONDS      wait, then answer normally
            | truncated         200, JSON cut in half (Content-Length matches what is sent)
            | incomplete        200, Content-Length of the full body, half sent, then close
            | malformed         200, a body that is not JSON
    xN     -> only the next N matching requests; @P -> each matching request with
              probability P, drawn from a generator seeded with (seed, rule position);
              neither -> every matching request.

Rules are tried in order; the first that fires wins. Examples:
``events:429x3``, ``issues:503@0.2``, ``releases:reset@0.1``, ``events:malformed x1``,
``*:slow=0.5@0.1``, ``projects:500html``, ``release_create:409x1``.
"""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Collection
from dataclasses import dataclass, field

TARGETS = {
    "*",
    "orgs",
    "org",
    "projects",
    "project",
    "events",
    "issues",
    "org_issues",
    "project_issues",
    "releases",
    "release_create",
    "release_update",
    "deploys",
    "deploy_create",
    "teams",
    "members",
    "repos",
    "environments",
    "project_keys",
    "monitors",
    "commits",
    "detectors",
    "workflows",
    "checkins",
    "user_feedback",
    "replays",
    "sessions",
    "stats",
}
_RULE = re.compile(
    r"^(?P<target>[\w*]+):(?P<action>\d{3}(?:html|legacy|concurrent)?(?:=[0-9.]+)?|reset|slow=[0-9.]+|truncated"
    r"|incomplete|malformed)(?:x(?P<count>\d+)|@(?P<prob>[0-9.]+))?$"
)


@dataclass
class Rule:
    target: str
    action: str
    arg: float | None
    remaining: int | None
    prob: float | None
    rng: random.Random = field(repr=False, default_factory=random.Random)
    text: str = ""


def parse(spec: str, seed: int = 0) -> list[Rule]:
    rules = []
    for pos, raw in enumerate(x for x in (spec or "").split(",") if x.strip()):
        text = re.sub(r"\s+", "", raw)
        m = _RULE.match(text)
        if not m:
            raise ValueError(f"bad fault rule {raw.strip()!r} (see sentry_emulator/faults.py)")
        target = m["target"]
        if target not in TARGETS:
            raise ValueError(f"unknown fault target {target!r}; one of {sorted(TARGETS)}")
        action, _, arg = m["action"].partition("=")
        prob = float(m["prob"]) if m["prob"] else None
        if prob is not None and not 0 <= prob <= 1:
            raise ValueError(f"probability out of range in {raw.strip()!r}")
        rules.append(
            Rule(
                target,
                action,
                float(arg) if arg else None,
                int(m["count"]) if m["count"] else None,
                prob,
                random.Random(f"{seed}:{pos}:{text}"),
                text,
            )
        )
    return rules


class Faults:
    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.rules: list[Rule] = []
        self.lock = threading.Lock()

    def set(self, spec: str | None) -> None:
        rules = parse(spec or "", self.seed)
        with self.lock:
            self.rules = rules

    def clear(self) -> None:
        with self.lock:
            self.rules = []

    def pick(self, names: Collection[str]) -> Rule | None:
        with self.lock:
            for rule in self.rules:
                if rule.target != "*" and rule.target not in names:
                    continue
                if rule.remaining is not None:
                    if rule.remaining <= 0:
                        continue
                    rule.remaining -= 1
                    return rule
                if rule.prob is not None:
                    if rule.rng.random() < rule.prob:
                        return rule
                    continue
                return rule
        return None
