"""The receiver takes what start-up left alive out of the garbage collector's sight, so a full
collection under load walks only what requests create (checked in a process of its own: freezing
this one's heap would keep every later test's garbage)."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import gc, json
import source_sentry.webhooks.app, uvicorn, starlette.applications  # what the receiver imports
from source_sentry.webhooks.cli import settle_heap
before = len(gc.get_objects())
settle_heap()
print(json.dumps({"before": before, "after": len(gc.get_objects()), "frozen": gc.get_freeze_count()}))
"""


def test_given_the_receiver_started_when_its_heap_is_settled_then_a_full_collection_walks_a_fraction_of_it():
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=True
    )
    counts = json.loads(done.stdout)
    assert counts["before"] > 20_000, counts
    assert counts["frozen"] >= counts["before"] * 0.9, counts
    assert counts["after"] < counts["before"] * 0.05, counts
