"""One module per Sentry resource; importing this package registers every route in
``routing.SENTRY``, then ``glitchtip.GLITCHTIP`` derives GlitchTip's dialect from them."""

from . import (
    alerting,
    checkins,
    deploys,
    events,
    feedback,
    glitchtip,
    issues,
    keys,
    members,
    monitors,
    organizations,
    projects,
    release_history,
    releases,
    replays,
    repositories,
    stats,
    teams,
)

__all__ = [
    "alerting",
    "checkins",
    "deploys",
    "events",
    "feedback",
    "glitchtip",
    "issues",
    "keys",
    "members",
    "monitors",
    "organizations",
    "projects",
    "release_history",
    "releases",
    "replays",
    "repositories",
    "stats",
    "teams",
]
