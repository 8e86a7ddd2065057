"""The benchmark's smoke mode (`python -m tools.bench --smoke`): every section with tiny data, so that a
change that breaks the benchmark fails `make test` rather than the next `make bench`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from source_sentry.manifest import stream_names

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
MEASURED_SECTIONS = [
    "## 1. Full sync throughput",
    "## 2. Against the floor",
    "## 4. Incremental cost",
    "## 5. Sentry's rate limits",
    "## 6. Peak memory against records",
    "## 7. Start-up and the notifier",
    "## 8. Keeping issue statuses fresh",
    "## 9. Injected faults",
    "## 10. Requests per stream",
    "## 11. A server slow to build pages",
    "## 12. The webhook receiver",
    "## 13. Forwarding",
    "## 14. Issue statuses from the webhook feed",
    "## 15. A big project's first sync",
    "## Closing note",
]
NUMBER_ROW = re.compile(r"^\|.*\|\s*\**\d[\d,.]*")


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    doc_before = DOC.stat().st_mtime_ns if DOC.exists() else None
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.bench",
            "--smoke",
            "--out",
            str(out / "bench.md"),
            "--json",
            str(out / "bench.json"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    doc_after = DOC.stat().st_mtime_ns if DOC.exists() else None
    markdown = (out / "bench.md").read_text() if (out / "bench.md").exists() else ""
    raw = json.loads((out / "bench.json").read_text()) if (out / "bench.json").exists() else {}
    return {"result": result, "markdown": markdown, "raw": raw, "doc_untouched": doc_before == doc_after}


def _section(markdown: str, heading: str) -> str:
    start = markdown.index(heading)
    end = markdown.find("\n## ", start + 1)
    return markdown[start : end if end != -1 else None]


def test_given_smoke_mode_when_run_then_it_succeeds_and_leaves_the_results_page_alone(smoke):
    result = smoke["result"]
    assert result.returncode == 0, result.stderr[-2000:]
    assert smoke["doc_untouched"]
    assert smoke["raw"]["meta"]["problems"] == []


def test_given_smoke_mode_when_run_then_every_section_has_numeric_figures(smoke):
    markdown = smoke["markdown"]
    for heading in MEASURED_SECTIONS:
        body = _section(markdown, heading)
        figures = [line for line in body.splitlines() if NUMBER_ROW.match(line) or re.search(r"\d", line)]
        assert figures, heading
    for heading in MEASURED_SECTIONS[:-1]:
        assert any(NUMBER_ROW.match(line) for line in _section(markdown, heading).splitlines()), heading
    assert "## 3. Airbyte's own Sentry connector" in markdown
    assert "n/a" not in _section(markdown, "## Closing note")


def test_given_smoke_mode_when_run_then_record_counts_match_the_emulator_ground_truth(smoke):
    results = smoke["raw"]["results"]
    assert results["throughput"], "no throughput figures"
    for size, entry in results["throughput"].items():
        for stream, runs in entry["streams"].items():
            expected = runs["expected"]
            assert expected > 0, (size, stream)
            for row in runs["ours"] + runs["floor"]:
                assert row["records"] == expected, (size, stream, row)
                assert row["wall"] > 0
                assert row["requests"] > 0
    for size, table in results["incremental"].items():
        for new, rows in table.items():
            for row in rows:
                assert row["counts"].get("events", 0) == int(new), (size, new, row["counts"])
    assert all(v[0] > 20 for v in results["memory"].values())
    for issues, row in results["status_refresh"].items():
        assert row["first"]["records"] == row["next_period"]["records"] == row["in_scope"] > 0, (issues, row)
        assert row["same_period"]["records"] == 0, row
        assert row["issues_requests"]["next_period"] >= row["in_scope"] // 100, row
    parallel = results["parallel"]
    for client in ("windows", "one_window", "floor"):
        assert parallel[client]["records"] == parallel["expected"] == parallel["events"], (client, parallel)
    assert parallel["windows"]["requests"] > parallel["one_window"]["requests"]
    for store in ("sqlite", "sqlite_normal", "postgres"):
        receiver = results["webhooks"]["servers"][store]
        assert receiver["answered"] == receiver["in_feed"] > 0, (store, receiver)
        assert receiver["missing"] == 0, (store, receiver)
    assert results["webhooks"]["servers"]["floor"]["capacity"] > 0
    limited = results["rate_limited"]
    assert [run["num_workers"] for run in limited["runs"]] == [1, 4]
    for run in limited["runs"]:
        assert run["records"]["events"] == limited["events"], run
        assert run["least"] > 0
    for name, mix in results["faults"]["mixes"].items():
        assert [row["records"] for row in mix["ours"]] == [results["faults"]["truth_records"]], name
        assert all(row["faults"] > 0 for row in mix["ours"]), name


def test_given_smoke_mode_when_run_then_every_request_of_both_syncs_is_put_on_a_stream(smoke):
    per_stream = smoke["raw"]["results"]["per_stream"]
    assert per_stream["streams"] == list(stream_names())
    for sync in ("first", "again"):
        counted = per_stream[sync]["requests"]
        assert sum(counted.values()) == per_stream[sync]["total"] > 0, sync
        assert counted.get("", 0) == 0, f"{sync}: requests on no stream's path"
    assert sum(per_stream["again"]["requests"].values()) < sum(per_stream["first"]["requests"].values())
    table = _section(smoke["markdown"], "## 10. Requests per stream")
    for stream in per_stream["streams"]:
        assert f"| `{stream}` |" in table


def test_given_smoke_mode_when_run_then_the_token_is_not_printed(smoke):
    assert "sntryu_" not in smoke["markdown"]
    assert "sntryu_" not in smoke["result"].stdout
