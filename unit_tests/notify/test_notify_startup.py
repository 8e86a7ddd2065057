from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from source_sentry.notify.cli import HELP, _parser

ROOT = Path(__file__).resolve().parents[2]


def test_given_notifier_imported_when_inspecting_modules_then_airbyte_cdk_never_loaded():
    code = (
        "import sys; import source_sentry.notify.cli, source_sentry.notify.client\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('airbyte_cdk', 'pendulum', 'pydantic')))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_given_command_dispatching_notify_when_inspecting_modules_then_no_requests_nor_logging():
    """``requests`` was two thirds of the notifier's start-up; ``logging`` is only the CDK's need."""
    code = (
        "import sys; import source_sentry.run, source_sentry.notify.cli, source_sentry.notify.client\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'requests', 'urllib3', 'logging'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_given_module_entry_point_when_asked_for_help_then_prints_help_and_exits_0():
    done = subprocess.run(
        [sys.executable, "-m", "source_sentry.notify", "--help"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0
    assert done.stdout == HELP


def test_given_parser_when_compared_with_help_then_every_option_is_documented():
    options = {o for action in _parser()._actions for o in action.option_strings}
    documented = set(re.findall(r"(?<![\w-])(--?[a-z][a-z-]*)", HELP))
    assert options <= documented
    assert {"--release", "--env", "--project", "--dry-run", "--json", "--time"} <= options
