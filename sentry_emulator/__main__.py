"""``python -m sentry_emulator``: run the emulator until SIGTERM/SIGINT.

Prints one JSON line on start: base_url, token, organization, projects, ca_cert.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from .emulator import Emulator


def _rate_override(text: str) -> tuple[str, tuple]:
    cat, _, spec = text.partition("=")
    parts = spec.split("/")
    if not cat or len(parts) not in (2, 3):
        raise argparse.ArgumentTypeError("use CATEGORY=LIMIT/WINDOW[/CONCURRENT], e.g. events=5/2")
    return cat, (int(parts[0]), float(parts[1]), *(int(x) for x in parts[2:]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sentry_emulator", description=__doc__)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--org", default="acme", help="organization slug")
    ap.add_argument("--projects", type=int, default=3)
    ap.add_argument("--events", type=int, default=500, help="events in the whole organization")
    ap.add_argument("--issues", type=int, default=40, help="issues in the whole organization")
    ap.add_argument("--releases", type=int, default=30)
    ap.add_argument("--span-days", type=float, default=30.0, help="generated events cover this many days")
    ap.add_argument("--rate-limits", choices=("sentry", "none"), default="sentry")
    ap.add_argument(
        "--rate-limit",
        action="append",
        type=_rate_override,
        default=[],
        metavar="CAT=N/WINDOW[/CONC]",
        help="override one sentry limit (events, issues, releases, default); repeatable",
    )
    ap.add_argument("--faults", default=None, help="fault spec, see README.md")
    ap.add_argument("--short-pages", type=int, default=4, help="every ~Nth issue page is short; 0 disables")
    ap.add_argument("--tls", action="store_true", help="serve https with a generated CA")
    args = ap.parse_args(argv)

    rate: str | dict = args.rate_limits
    if args.rate_limit:
        if rate == "none":
            ap.error("--rate-limit needs --rate-limits sentry")
        rate = dict(args.rate_limit)
    emu = Emulator(
        seed=args.seed,
        projects=args.projects,
        events=args.events,
        issues=args.issues,
        releases=args.releases,
        rate_limits=rate,
        faults=args.faults,
        tls=args.tls,
        host=args.host,
        port=args.port,
        org=args.org,
        span_days=args.span_days,
        short_pages=args.short_pages,
    )
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
