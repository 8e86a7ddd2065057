"""One module per Sentry resource; importing this package registers every route in
``routing.SENTRY``, then ``glitchtip.GLITCHTIP`` derives GlitchTip's dialect from them."""

from . import (
    alerting,
    deploys,
    events,
    glitchtip,
    issues,
    keys,
    members,
    monitors,
    organizations,
    projects,
    releases,
    repositories,
    stats,
    teams,
)

__all__ = [
    "alerting",
    "deploys",
    "events",
    "glitchtip",
    "issues",
    "keys",
    "members",
    "monitors",
    "organizations",
    "projects",
    "releases",
    "repositories",
    "stats",
    "teams",
]
