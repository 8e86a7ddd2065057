"""``python -m sentry_emulator``: run the emulator until SIGTERM/SIGINT.

Prints one JSON line on start: base_url, token, organization, projects, ca_cert.
"""

from __future__ import annotations

import json
import signal
import sys
import threading

from .cli import settings_from_args
from .emulator import Emulator


def main(argv: list[str] | None = None) -> int:
    emu = Emulator(**settings_from_args(argv, description=__doc__))
    emu.start()
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    sys.stdout.write(json.dumps(emu.info()) + "\n")
    sys.stdout.flush()
    try:
        done.wait()
    finally:
        emu.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
