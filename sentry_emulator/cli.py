"""The emulator's command line in one place: the flags ``python -m sentry_emulator`` parses into
`Emulator` keyword arguments, and the inverse, the arguments a program passes to start it
(`args_for`). Both read one table, so a setting cannot mean one thing here and another there."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Option:
    flag: str
    setting: str  # the Emulator keyword argument
    type: type
    default: Any
    help: str | None = None
    choices: tuple[str, ...] | None = None


OPTIONS = (
    Option("--host", "host", str, "127.0.0.1"),
    Option("--port", "port", int, 0),
    Option("--seed", "seed", int, 0),
    Option("--org", "org", str, "acme", "organization slug"),
    Option("--projects", "projects", int, 3),
    Option("--events", "events", int, 500, "events in the whole organization"),
    Option("--issues", "issues", int, 40, "issues in the whole organization"),
    Option("--releases", "releases", int, 30),
    Option("--span-days", "span_days", float, 30.0, "generated events cover this many days"),
    Option("--faults", "faults", str, None, "fault spec, see README.md"),
    Option("--short-pages", "short_pages", int, 4, "every ~Nth issue page is short; 0 disables"),
    Option("--dialect", "dialect", str, "sentry", "whose API to speak", ("sentry", "glitchtip")),
    Option(
        "--event-offset-limit",
        "event_offset_limit",
        int,
        None,
        "answer 400 for events offsets at or above this, as some Sentry versions do from 10000",
    ),
    Option("--page-latency-ms", "page_latency_ms", float, 0.0, "each page of a list is sent this much later"),
    Option(
        "--glitchtip-frontend",
        "glitchtip_frontend",
        str,
        "absent",
        "GlitchTip's catch-all: 500 without the frontend, 200 HTML with it",
        ("absent", "built"),
    ),
    Option(
        "--glitchtip-store-rate",
        "glitchtip_store_rate",
        float,
        0.0,
        "GlitchTip stores added events this many a second (0: at once)",
    ),
)
# Not in the table: --rate-limits/--rate-limit (one setting, `rate_limits`) and --tls (a switch).
_SPECIAL = ("rate_limits", "tls")


def rate_limit(text: str) -> tuple[str, tuple]:
    """``CATEGORY=LIMIT/WINDOW[/CONCURRENT]`` -> (category, (limit, window[, concurrent]))."""
    cat, _, spec = text.partition("=")
    parts = spec.split("/")
    if not cat or len(parts) not in (2, 3):
        raise argparse.ArgumentTypeError("use CATEGORY=LIMIT/WINDOW[/CONCURRENT], e.g. events=5/2")
    return cat, (int(parts[0]), float(parts[1]), *(int(x) for x in parts[2:]))


def parser(description: str | None = None) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m sentry_emulator", description=description)
    for o in OPTIONS:
        ap.add_argument(
            o.flag, dest=o.setting, type=o.type, default=o.default, help=o.help, choices=o.choices
        )
    ap.add_argument("--rate-limits", choices=("sentry", "none"), default="sentry")
    ap.add_argument(
        "--rate-limit",
        action="append",
        type=rate_limit,
        default=[],
        metavar="CAT=N/WINDOW[/CONC]",
        help="override one sentry limit (events, issues, releases, default); repeatable",
    )
    ap.add_argument("--tls", action="store_true", help="serve https with a generated CA")
    return ap


def settings_from_args(argv: list[str] | None = None, description: str | None = None) -> dict[str, Any]:
    """`Emulator` keyword arguments from command-line arguments (exits with a usage error)."""
    ap = parser(description)
    args = ap.parse_args(argv)
    rate: str | dict = args.rate_limits
    if args.rate_limit:
        if rate == "none":
            ap.error("--rate-limit needs --rate-limits sentry")
        rate = dict(args.rate_limit)
    settings = {o.setting: getattr(args, o.setting) for o in OPTIONS}
    return {**settings, "rate_limits": rate, "tls": args.tls}


def args_for(**settings: Any) -> list[str]:
    """The command-line arguments that start an emulator with these `Emulator` keyword
    arguments (only those given; the rest keep the emulator's defaults)."""
    known = {o.setting: o for o in OPTIONS}
    unknown = set(settings) - set(known) - set(_SPECIAL)
    if unknown:
        raise TypeError(f"not settable from the command line: {', '.join(sorted(unknown))}")
    argv: list[str] = []
    for name, value in settings.items():
        if name in known and value is not None:
            argv += [known[name].flag, str(value)]
    rate = settings.get("rate_limits")
    if isinstance(rate, str):
        argv += ["--rate-limits", rate]
    elif rate:
        argv += ["--rate-limits", "sentry"]
        for cat, limits in rate.items():
            argv += ["--rate-limit", f"{cat}=" + "/".join(str(x) for x in limits)]
    if settings.get("tls"):
        argv.append("--tls")
    return argv
