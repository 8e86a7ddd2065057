"""docs/webhooks.md's forwarding settings against the code: each one, with its default."""

from __future__ import annotations

import time

import pytest

from source_sentry.webhooks.forward.config import SETTING_NAMES, ForwardSettings, Target
from source_sentry.webhooks.forward.outbox import Claimed
from source_sentry.webhooks.forward.sender import request_for
from unit_tests.test_docs import ROOT, code, table_under

PAGE = (ROOT / "docs" / "webhooks.md").read_text()
ROWS = {code(row["setting"]): row for row in table_under("### Forwarding settings", PAGE)}
DEFAULTS = ForwardSettings()
SHOWN = {
    "forward": "[]",
    "admin_token": "",
    "forward_retry_seconds": "[" + ", ".join(f"{v:g}" for v in DEFAULTS.retry_seconds) + "]",
    "forward_timeout_seconds": f"{DEFAULTS.timeout_seconds:g}",
    "forward_concurrency": str(DEFAULTS.concurrency),
    "forward_poll_seconds": f"{DEFAULTS.poll_seconds:g}",
}


@pytest.mark.parametrize("name", SETTING_NAMES)
def test_given_a_forwarding_setting_then_the_page_documents_it_with_its_default(name):
    assert name in ROWS, f"docs/webhooks.md: `{name}` is missing from the forwarding settings table"
    assert ROWS[name]["required"] == "no"
    assert code(ROWS[name]["default"]) == SHOWN[name]


def test_given_the_forwarding_table_then_it_documents_no_setting_the_code_lacks():
    assert set(ROWS) == set(SETTING_NAMES)


def documented_verify():
    """The ten-line check the page gives targets, run as written."""
    source = PAGE.split("```python\n", 1)[1].split("```", 1)[0]
    assert len(source.strip().splitlines()) <= 12
    scope: dict = {}
    exec(compile(source, "docs/webhooks.md", "exec"), scope)  # noqa: S102 - our own page's example
    return scope["verify"]


def test_given_a_request_the_sender_built_when_the_documented_check_runs_then_it_passes(monkeypatch):
    verify = documented_verify()
    row = Claimed(1, "hook", 7, "msg_p5jXN8AQM9LWM0D4loKWxJek", 0, 0, "c", "issue", "created", b'{"a":1}')
    target = Target(name="hook", kind="webhook", url="https://x.example/", secret="whsec_" + "A" * 32)
    body, sent = request_for(target, row, int(time.time()))
    assert verify(target.secret, sent, body)
    assert not verify(target.secret, sent, body + b" ")
    monkeypatch.setattr(time, "time", lambda: int(sent["webhook-timestamp"]) + 301)
    assert not verify(target.secret, sent, body), "a request older than 5 minutes must be refused"
