"""PyAirbyte used directly, as the README suggests: every field of every stream's schema has a type
it can map to a column, so a plain read prints no "Could not determine airbyte type" line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from source_sentry.manifest import stream_names
from tools.airbyte_run import COMMAND

pytestmark = pytest.mark.e2e

# A user's script: no output silenced, no type mapped by hand.
# PyAirbyte's warning is a print of its types module, which a live progress display or a
# non-terminal stdout may swallow: each call is also counted, so the test sees every one.
SCRIPT = """
import json, sys
import airbyte as ab
import airbyte.types

warned = []
shown = airbyte.types.print
airbyte.types.print = lambda *args, **kwargs: (warned.append(args), shown(*args, **kwargs))

from airbyte.caches import DuckDBCache

source = ab.get_source("source-sentry", local_executable=sys.argv[1], config=json.loads(sys.argv[2]))
source.select_streams(sys.argv[5].split(","))
result = source.read(DuckDBCache(db_path=sys.argv[3], cache_dir=sys.argv[4]))
print("streams read:", ",".join(sorted(result.streams)))
print("warnings:", len(warned), warned[:3])
"""


def test_given_every_stream_when_read_with_pyairbyte_then_no_field_lacks_a_type(
    emulator, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "AIRBYTE_OFFLINE_MODE": "1",
        "DO_NOT_TRACK": "1",
        "AIRBYTE_TEMP_DIR": str(tmp_path),
        "AIRBYTE_LOGGING_ROOT": str(tmp_path / "logs"),
    }
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            SCRIPT,
            COMMAND,
            json.dumps(emulator.config()),
            str(tmp_path / "sentry.duckdb"),
            str(tmp_path / "cache"),
            ",".join(stream_names()),
        ],
        capture_output=True,
        text=True,
        timeout=400,
        env=env,
        cwd=tmp_path,
    )
    output = done.stdout + done.stderr

    assert done.returncode == 0, output[-3000:]
    assert "streams read: " in done.stdout
    assert "events" in done.stdout.split("streams read: ")[1]
    assert "warnings: 0 []" in done.stdout, done.stdout[-2000:]
    assert "Could not determine airbyte type" not in output
    assert "Could not find SQL type" not in output
