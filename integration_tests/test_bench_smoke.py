"""The benchmark's smoke mode (`python -m tools.bench --smoke`): every section with tiny data, so that a
change that breaks the benchmark fails `make test` rather than the next `make bench`.

Each section runs as its own `--smoke --only SECTION` command, in a test of its own (a run of
every section at once is over two minutes of one core): the two workers of `make test` share the
sections (SPREAD in conftest.py) instead of one worker running them all. Each section's page
and results are checked for what that section measures; a test below checks that the sections run
here are every section the benchmark has but the one that downloads from PyPI."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from source_sentry.manifest import stream_names
from tools.bench.__main__ import SECTIONS
from tools.bench.measure import fmt
from tools.bench.plan import SMOKE
from tools.bench.report import WEBHOOK_SERVERS, held_rate
from tools.bench.webhooks import paired_share

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"

NUMBER_ROW = re.compile(r"^\|.*\|\s*\**\d[\d,.]*")
# The page's measured headings each section fills, and the lines of the closing note it gives.
HEADINGS = {
    "throughput": [
        "## 1. Full sync throughput",
        "## 2. Against the floor",
        "## 4. Incremental cost",
        "## 6. Peak memory against records",
    ],
    "rate_limited": ["## 5. Sentry's rate limits"],
    "faults": ["## 9. Injected faults"],
    "startup": ["## 7. Start-up and the notifier"],
    "status_refresh": ["## 8. Keeping issue statuses fresh"],
    "per_stream": ["## 10. Requests per stream"],
    "parallel": ["## 11. A server slow to build pages"],
    "webhooks": ["## 12. The webhook receiver"],
    "forwarding": ["## 13. Forwarding"],
    "changed_issues": ["## 14. Issue statuses from the webhook feed"],
    "resume": ["## 15. A big project's first sync"],
}
CLOSING = {
    "throughput": ["**Throughput vs the floor**", "**Incremental requests**", "**Peak memory**"],
    "rate_limited": ["**Rate-limited**"],
    "faults": ["**Injected faults**"],
    "webhooks": ["**Webhook receiver**"],
}
# The smoke mode downloads nothing from PyPI: Airbyte's own connector is not run, its heading says so.
NOT_IN_SMOKE = {"official"}
# The longest sections first (in seconds, about 48, 27, 26, 23, 13, 12, 10), so that each
# worker starts on a long one and the short ones fill in at the end.
ORDER = ["resume", "webhooks", "throughput", "changed_issues", "faults", "rate_limited", "forwarding"]
SMOKE_SECTIONS = sorted(HEADINGS, key=lambda s: ORDER.index(s) if s in ORDER else len(ORDER))


def run_smoke(section: str, out: Path) -> dict[str, Any]:
    doc_before = DOC.stat().st_mtime_ns if DOC.exists() else None
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.bench",
            "--smoke",
            "--only",
            section,
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


# ---- what each section's results must hold ---------------------------------------------------


def check_throughput(results: dict, markdown: str) -> None:
    assert results["throughput"], "no throughput figures"
    for size, entry in results["throughput"].items():
        for stream, runs in entry["streams"].items():
            expected = runs["expected"]
            assert expected > 0, (size, stream)
            for row in runs["ours"] + runs["floor"]:
                assert row["records"] == expected, (size, stream, row)
                assert row["wall"] > 0
                assert row["requests"] > 0
    assert results["incremental"], "no incremental figures"
    for size, table in results["incremental"].items():
        for new, rows in table.items():
            assert rows, (size, new)
            for row in rows:
                assert row["counts"].get("events", 0) == int(new), (size, new, row["counts"])
    assert results["memory"], "no memory figures"
    assert all(v[0] > 20 for v in results["memory"].values())


def check_status_refresh(results: dict, markdown: str) -> None:
    assert results["status_refresh"], "no status refresh figures"
    for issues, row in results["status_refresh"].items():
        assert row["first"]["records"] == row["next_period"]["records"] == row["in_scope"] > 0, (issues, row)
        assert row["same_period"]["records"] == 0, row
        assert row["issues_requests"]["next_period"] >= row["in_scope"] // 100, row


def check_parallel(results: dict, markdown: str) -> None:
    parallel = results["parallel"]
    for client in ("windows", "one_window", "floor"):
        assert parallel[client]["records"] == parallel["expected"] == parallel["events"], (client, parallel)
    assert parallel["windows"]["requests"] > parallel["one_window"]["requests"]


def check_webhooks(results: dict, markdown: str) -> None:
    servers = results["webhooks"]["servers"]
    for store in ("sqlite", "sqlite_normal", "postgres"):
        receiver = servers[store]
        assert receiver["answered"] == receiver["in_feed"] > 0, (store, receiver)
        assert receiver["missing"] == 0, (store, receiver)
    # The receiver keeping nothing has no feed to read, and its row says so by leaving those cells empty.
    assert "in_feed" not in servers["nothing"]
    row = next(line for line in markdown.splitlines() if line.startswith(f"| {WEBHOOK_SERVERS['nothing']} |"))
    assert row.endswith("|  |  |"), row
    for store in ("nothing", "sqlite", "sqlite_normal", "postgres"):
        receiver = servers[store]
        # Each capacity run follows one of the floor's, and the row's share is the median of the pairs'.
        assert len(receiver["floor_runs"]) == len(receiver["capacity_runs"]), store
        share = paired_share(receiver["capacity_runs"], receiver["floor_runs"])
        assert receiver["paired_share"] == share, store
        assert f"| {fmt(receiver['capacity'])} | {share:.2f} |" in markdown, store
    assert servers["floor"]["capacity"] > 0
    top = max(results["webhooks"]["rates"])
    floor_held = servers["floor"]["held_rate"]
    for store, server in servers.items():
        assert len(server["capacity_runs"]) == SMOKE.webhook_capacity_runs, store
        # A server that held the last rate tried has a limit the section does not show: its row says so.
        if server["held_rate"] == top:
            assert f"| {top:,} (every rate tried) |" in markdown, store
        if floor_held:  # each row gives its highest rate held as a share of the floor's
            held_share = f"{server['held_rate'] / floor_held:.2f}"
            assert f"| {held_rate(server['held_rate'], top)} | {held_share} |" in markdown, store
        for step in server["steps"]:
            assert step["kept_pace"] == (step["slope"] <= 0.02), (store, step)
        # Where the capacity runs' CPU went: the server's own process and the generators always,
        # PostgreSQL's server for its store only; the page's row is recomputed from the figures.
        cpu = server["cpu"]
        assert cpu["server"] > 0, (store, cpu)
        assert cpu["generators"] > 0, (store, cpu)
        assert ("postgres" in cpu) == (store == "postgres"), (store, cpu)
        if store == "postgres":
            assert cpu["postgres"] > 0, cpu
        assert 0 <= cpu["idle"] < 1, (store, cpu)
        spent = cpu["server"] + cpu.get("postgres", 0) + cpu["generators"]
        assert cpu["all"] == pytest.approx(spent), (store, cpu)
        predicted = cpu["cores"] * (1 - cpu["idle"]) / spent * 1e6
        assert cpu["predicted"] == pytest.approx(predicted), (store, cpu)
        postgres = fmt(cpu["postgres"]) if store == "postgres" else ""
        assert (
            f"| {WEBHOOK_SERVERS[store]} | {fmt(cpu['server'])} | {postgres} | {fmt(cpu['generators'])} "
            f"| {fmt(spent)} | {cpu['idle']:.0%} | {fmt(predicted)} | {fmt(server['capacity'])} |"
        ) in markdown, store


def check_rate_limited(results: dict, markdown: str) -> None:
    limited = results["rate_limited"]
    assert [run["num_workers"] for run in limited["runs"]] == [1, 4]
    for run in limited["runs"]:
        assert run["records"]["events"] == limited["events"], run
        assert run["least"] > 0


def check_faults(results: dict, markdown: str) -> None:
    assert results["faults"]["mixes"], "no fault mixes"
    for name, mix in results["faults"]["mixes"].items():
        assert [row["records"] for row in mix["ours"]] == [results["faults"]["truth_records"]], name
        assert all(row["faults"] > 0 for row in mix["ours"]), name


def check_per_stream(results: dict, markdown: str) -> None:
    per_stream = results["per_stream"]
    assert per_stream["streams"] == list(stream_names())
    for sync in ("first", "again"):
        counted = per_stream[sync]["requests"]
        assert sum(counted.values()) == per_stream[sync]["total"] > 0, sync
        assert counted.get("", 0) == 0, f"{sync}: requests on no stream's path"
    assert sum(per_stream["again"]["requests"].values()) < sum(per_stream["first"]["requests"].values())
    table = _section(markdown, "## 10. Requests per stream")
    for stream in per_stream["streams"]:
        assert f"| `{stream}` |" in table


def check_nothing_more(results: dict, markdown: str) -> None:
    """Sections whose figures are checked by their page's numeric rows alone."""


CHECKS = {
    "throughput": check_throughput,
    "rate_limited": check_rate_limited,
    "faults": check_faults,
    "startup": check_nothing_more,
    "status_refresh": check_status_refresh,
    "per_stream": check_per_stream,
    "parallel": check_parallel,
    "webhooks": check_webhooks,
    "forwarding": check_nothing_more,
    "changed_issues": check_nothing_more,
    "resume": check_nothing_more,
}


def test_given_the_benchmarks_sections_then_the_smoke_tests_run_each_one_but_the_pypi_one() -> None:
    assert set(SMOKE_SECTIONS) | NOT_IN_SMOKE == set(SECTIONS)
    assert not set(SMOKE_SECTIONS) & NOT_IN_SMOKE
    assert set(CHECKS) == set(HEADINGS)
    # Every measured heading of the full page is some section's.
    headings = [h for section in SMOKE_SECTIONS for h in HEADINGS[section]]
    assert len(headings) == len(set(headings)) == 14


@pytest.mark.parametrize("section", SMOKE_SECTIONS)
def test_given_smoke_mode_when_one_section_runs_then_it_succeeds_with_exact_figures(
    section: str, tmp_path: Path
) -> None:
    smoke = run_smoke(section, tmp_path)
    result, markdown = smoke["result"], smoke["markdown"]

    assert result.returncode == 0, result.stderr[-2000:]
    assert smoke["doc_untouched"]
    assert smoke["raw"]["meta"]["problems"] == []
    for heading in HEADINGS[section]:
        assert any(NUMBER_ROW.match(line) for line in _section(markdown, heading).splitlines()), heading
    closing = _section(markdown, "## Closing note")
    assert "n/a" not in closing
    for line in CLOSING.get(section, []):
        [found] = [text for text in closing.splitlines() if line in text]
        assert re.search(r"\d", found), found
    assert "## 3. Airbyte's own Sentry connector" in markdown
    CHECKS[section](smoke["raw"]["results"], markdown)
    assert "sntryu_" not in markdown
    assert "sntryu_" not in result.stdout + result.stderr
