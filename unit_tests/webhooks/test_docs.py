"""docs/webhooks.md against the code: every setting documented with its default."""

from __future__ import annotations

import json
from dataclasses import MISSING, fields

import pytest

from source_sentry.webhooks.settings import Settings
from unit_tests.test_docs import ROOT, code, table_under

PAGE = (ROOT / "docs" / "webhooks.md").read_text()
ROWS = {code(row["setting"]): row for row in table_under("## Settings", PAGE)}
# `forward` holds forwarding's own settings, documented in their own table (forward/test_docs.py).
SETTINGS = [field for field in fields(Settings) if field.name != "forward"]


@pytest.mark.parametrize("field", SETTINGS, ids=lambda f: f.name)
def test_given_setting_then_the_page_documents_it_with_its_default(field):
    assert field.name in ROWS, f"docs/webhooks.md: `{field.name}` is missing from the settings table"
    row = ROWS[field.name]
    if field.default is MISSING:
        assert row["required"] == "yes"
    else:
        assert row["required"] == "no"
        # As the JSON settings file spells it (a boolean is `false`, not Python's `False`).
        shown = json.dumps(field.default) if isinstance(field.default, bool) else str(field.default)
        assert code(row["default"]) == shown


def test_given_page_then_it_documents_no_setting_the_code_lacks():
    assert set(ROWS) == {f.name for f in SETTINGS}
