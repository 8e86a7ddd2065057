"""One module per Sentry resource; importing this package registers every route in
``routing.SENTRY``."""

from . import (
    deploys,
    events,
    issues,
    keys,
    members,
    monitors,
    organizations,
    projects,
    releases,
    repositories,
    teams,
)

__all__ = [
    "deploys",
    "events",
    "issues",
    "keys",
    "members",
    "monitors",
    "organizations",
    "projects",
    "releases",
    "repositories",
    "teams",
]
