"""`source-sentry webhooks forward status|dead|replay|enable --config FILE`: the forwarding
outbox as an operator sees it, from any host that reaches the receiver's database."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence

from source_sentry.webhooks.forward.outbox import Outbox
from source_sentry.webhooks.forward.report import dead_text, entry_json, status_report, status_text
from source_sentry.webhooks.settings import Settings, SettingsError, load_settings
from source_sentry.webhooks.store import StoreError, open_store


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="source-sentry webhooks forward",
        description="Per-target forwarding state, dead deliveries, and replaying them.",
    )
    parser.add_argument("--config", metavar="FILE", help="the receiver's JSON settings file")
    commands = parser.add_subparsers(dest="command", required=True)
    status = commands.add_parser("status", help="pending, in flight, failed, dead and sent rows per target")
    status.add_argument("--json", action="store_true", help="the status page's JSON instead of a table")
    dead = commands.add_parser("dead", help="list dead deliveries (every attempt failed)")
    dead.add_argument("--target", metavar="NAME")
    dead.add_argument("--json", action="store_true")
    replay = commands.add_parser("replay", help="send dead deliveries again (all of them unless narrowed)")
    replay.add_argument("--target", metavar="NAME")
    replay.add_argument(
        "--id", type=int, action="append", default=[], metavar="ROW", help="a row from `dead`"
    )
    enable = commands.add_parser("enable", help="re-enable a target disabled by a 410")
    enable.add_argument("target", metavar="NAME")
    args = parser.parse_args(list(argv))
    try:
        settings = load_settings(args.config, os.environ)
        outbox = _open(settings)
    except (SettingsError, StoreError) as error:
        sys.stderr.write(f"source-sentry webhooks forward: {error}\n")
        return 2 if isinstance(error, SettingsError) else 1
    try:
        return _run(args, settings, outbox)
    except StoreError as error:
        sys.stderr.write(f"source-sentry webhooks forward: {error}\n")
        return 1
    finally:
        outbox.close()


def _open(settings: Settings) -> Outbox:
    store = open_store(settings.database)  # creates the receiver's tables the outbox joins with
    store.close()
    return Outbox(settings.database)


def _run(args: argparse.Namespace, settings: Settings, outbox: Outbox) -> int:
    now_ms = int(time.time() * 1000)
    if args.command == "status":
        report = status_report(outbox, settings.forward)
        sys.stdout.write(json.dumps(report, indent=2) + "\n" if args.json else status_text(report))
    elif args.command == "dead":
        entries = outbox.dead(args.target)
        if args.json:
            sys.stdout.write(json.dumps([entry_json(e) for e in entries], indent=2) + "\n")
        else:
            sys.stdout.write(dead_text(entries))
    elif args.command == "replay":
        replayed = outbox.replay(now_ms, args.target, args.id)
        sys.stdout.write(
            f"Replayed {replayed} dead deliveries; running receivers send them within seconds.\n"
        )
    elif args.command == "enable":
        if not outbox.enable(args.target):
            sys.stdout.write(f"{args.target} was not disabled.\n")
            return 1
        sys.stdout.write(f"{args.target} enabled; its waiting deliveries are sent again.\n")
    return 0
