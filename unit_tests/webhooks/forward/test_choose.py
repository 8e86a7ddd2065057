"""Which targets a delivery goes to."""

from __future__ import annotations

import json

import pytest

from source_sentry.webhooks.forward.choose import chosen, facts
from source_sentry.webhooks.forward.config import Target


def issue(level: str = "error") -> bytes:
    return json.dumps({"action": "created", "data": {"issue": {"id": "1", "level": level}}}).encode()


def target(**filters) -> Target:
    return Target(
        name="t",
        kind="slack",
        url="https://hooks.example.com/x",
        **{k: frozenset(v) for k, v in filters.items()},
    )


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        pytest.param({}, True, id="no filter: every delivery"),
        pytest.param({"resources": ["issue"]}, True, id="resource matches"),
        pytest.param({"resources": ["error"]}, False, id="other resource"),
        pytest.param({"actions": ["created", "resolved"]}, True, id="action matches"),
        pytest.param({"actions": ["resolved"]}, False, id="other action"),
        pytest.param({"projects": ["backend"]}, True, id="project slug matches"),
        pytest.param({"projects": ["11"]}, True, id="project id matches"),
        pytest.param({"projects": ["frontend"]}, False, id="other project"),
        pytest.param({"levels": ["error", "fatal"]}, True, id="level matches"),
        pytest.param({"levels": ["fatal"]}, False, id="other level"),
        pytest.param({"resources": ["issue"], "levels": ["warning"]}, False, id="every filter must match"),
    ],
)
def test_given_filters_when_an_issue_delivery_is_kept_then_chosen_only_when_all_match(filters, expected):
    seen = facts("issue", "created", "backend", "11", issue("error"))
    assert (chosen([target(**filters)], seen) != []) is expected


def test_given_a_level_filter_when_the_body_is_not_json_then_not_chosen():
    assert chosen([target(levels=["error"])], facts("issue", None, None, None, b"not json")) == []
