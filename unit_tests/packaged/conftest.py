"""The wing's tests are one file per patch (test_cursors.py tests cursors.py): a run that fails
some of them ends by naming the patches, and the versions they ran on, so that a run against a
newer CDK (make newest-cdk) says which patch broke rather than only which test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

PACKAGE = Path(__file__).resolve().parents[2] / "source_sentry" / "packaged"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    from source_sentry.packaged.door import installed_versions

    # "error": a test module that no longer imports (a CDK module renamed or moved).
    failed = terminalreporter.stats.get("failed", []) + terminalreporter.stats.get("error", [])
    patches: dict[str, int] = {}
    for report in failed:
        path = (report.nodeid or str(getattr(report, "fspath", ""))).split("::")[0]
        name = Path(path).name.removeprefix("test_")
        patch = f"source_sentry/packaged/{name}" if (PACKAGE / name).exists() else path
        patches[patch] = patches.get(patch, 0) + 1
    if not patches:
        return
    versions = ", ".join(f"{name} {version}" for name, version in sorted(installed_versions().items()))
    terminalreporter.section("patches that no longer fit")
    terminalreporter.write_line(f"on {versions}:")
    for patch, count in sorted(patches.items()):
        terminalreporter.write_line(f"  {patch}: {count} failed test(s)")
