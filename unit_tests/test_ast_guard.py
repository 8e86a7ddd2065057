"""On the Pythons whose `ast.parse` fails when two threads parse at once (gh-106905), the connector
serializes it; elsewhere it changes nothing."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from source_sentry.ast_guard import affected, serialized
from source_sentry.source import SourceSentry

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ((3, 10, 12), False),
        ((3, 11, 0), True),
        ((3, 11, 2), True),  # Debian bookworm
        ((3, 11, 7), True),
        ((3, 11, 8), False),
        ((3, 12, 1), True),
        ((3, 12, 2), False),
        ((3, 13, 0), False),
    ],
)
def test_given_python_version_when_asked_then_affected_only_before_the_fix(
    version: tuple[int, int, int], expected: bool
) -> None:
    assert affected(version) is expected


def interleave(mode: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-m", "unit_tests.ast_interleave", mode],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    outcome: dict[str, object] = json.loads(done.stdout)
    return outcome


def test_given_two_threads_parsing_at_once_when_unguarded_then_it_fails_on_affected_pythons() -> None:
    outcome = interleave("plain")
    assert outcome["other"] == "ok"
    assert outcome["other_parsed_during"] is True
    if affected():
        assert str(outcome["interrupted"]).startswith("AST constructor recursion depth mismatch")
    else:
        assert outcome["interrupted"] == "ok"


def test_given_two_threads_parsing_at_once_when_guarded_then_both_succeed() -> None:
    outcome = interleave("guarded")
    assert outcome["interrupted"] == "ok"
    assert outcome["other"] == "ok"
    # Held until the interrupted parse ended: the lock, not luck, kept them apart.
    assert outcome["other_parsed_during"] is (not affected())


def test_given_the_source_built_then_ast_parse_is_serialized_where_needed_and_still_parses() -> None:
    SourceSentry(config={})
    assert serialized() is affected()
    assert ast.literal_eval("{'a': [1, 2.5, None]}") == {"a": [1, 2.5, None]}
    assert ast.dump(ast.parse("x + 1", mode="eval")) == (
        "Expression(body=BinOp(left=Name(id='x', ctx=Load()), op=Add(), right=Constant(value=1)))"
    )
