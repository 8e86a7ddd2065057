"""One module per Sentry resource; importing this package registers every route in
``routing.SENTRY``."""

from . import deploys, events, issues, organizations, projects, releases

__all__ = ["deploys", "events", "issues", "organizations", "projects", "releases"]
