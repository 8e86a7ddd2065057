"""The route table: every endpoint declared beside its handler is reachable, and what a route
declares (fault targets, rate category, methods) is what the server applies."""

from __future__ import annotations

import pytest
import requests

from sentry_emulator.faults import TARGETS
from sentry_emulator.ratelimit import SENTRY_LIMITS
from sentry_emulator.routing import SENTRY, RouteTable

ENDPOINTS = SENTRY.endpoints()


def test_every_endpoint_names_known_fault_targets_and_rate_categories():
    assert len(ENDPOINTS) == 43
    for e in ENDPOINTS:
        assert e.faults, e.template
        assert e.faults <= TARGETS, e.template
        assert e.category in SENTRY_LIMITS, e.template


def test_a_template_without_trailing_slash_is_refused():
    with pytest.raises(ValueError, match="end with '/'"):
        RouteTable().route("GET", "/api/0/organizations", faults={"orgs"})


def test_declaring_one_method_of_a_template_twice_is_refused():
    table = RouteTable()
    table.route("GET", "/api/0/x/", faults={"orgs"})(lambda emu, req: (200, []))
    with pytest.raises(ValueError, match="declared twice"):
        table.route("GET", "/api/0/x/", faults={"orgs"})(lambda emu, req: (200, []))


def test_match_binds_template_arguments_and_needs_non_empty_segments():
    match = SENTRY.match(["", "api", "0", "projects", "acme", "billing", "events"])
    assert match is not None
    methods, args = match
    assert set(methods) == {"GET"}
    assert methods["GET"].handler.__name__ == "list_events"
    assert args == {"org": "acme", "project": "billing"}
    assert SENTRY.match(["", "api", "0", "projects", "acme", "", "events"]) is None


@pytest.mark.parametrize(
    ("path", "allow"),
    [
        ("organizations/acme/releases/", "GET, POST"),
        ("organizations/acme/releases/1.0/", "GET, PUT"),
        ("organizations/acme/releases/1.0/deploys/", "GET, POST"),
        ("projects/acme/billing/events/", "GET"),
    ],
)
def test_an_undeclared_method_gets_405_listing_the_declared_ones(emulator, path, allow):
    r = requests.delete(
        f"{emulator.base_url}/api/0/{path}", headers={"Authorization": f"Bearer {emulator.token}"}, timeout=10
    )
    assert r.status_code == 405
    assert r.headers["Allow"] == allow
    assert r.json() == {"detail": 'Method "DELETE" not allowed.'}
