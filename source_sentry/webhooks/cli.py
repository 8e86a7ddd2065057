"""`source-sentry webhooks [--config FILE]`: read the settings, then serve until SIGTERM/SIGINT.

uvicorn handles the signals: it stops accepting connections, lets requests in flight finish
(up to `shutdown_grace_seconds`), then the app commits what is queued and closes the store.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

USAGE_EPILOG = """\
Every setting can also come from the environment (which wins over the file):
SENTRY_WEBHOOKS_CLIENT_SECRETS (comma-separated), SENTRY_WEBHOOKS_DATABASE,
SENTRY_WEBHOOKS_FEED_TOKEN, SENTRY_WEBHOOKS_LISTEN, ... (docs/webhooks.md lists them all).

`source-sentry webhooks forward status|dead|replay|enable --config FILE` shows and mends forwarding.
"""


def main(argv: Sequence[str]) -> int:
    if list(argv[:1]) == ["forward"]:
        from source_sentry.webhooks.forward.cli import main as forward_main

        return forward_main(argv[1:])
    parser = argparse.ArgumentParser(
        prog="source-sentry webhooks",
        description="Receive Sentry's webhooks, keep every verified delivery, serve them as a change feed.",
        epilog=USAGE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", metavar="FILE", help="JSON settings file (receiver.json)")
    args = parser.parse_args(list(argv))

    from source_sentry.webhooks.settings import SettingsError, load_settings

    try:
        settings = load_settings(args.config, os.environ)
    except SettingsError as error:
        sys.stderr.write(f"source-sentry webhooks: {error}\n")
        return 2

    import uvicorn

    from source_sentry.webhooks.app import create_app
    from source_sentry.webhooks.store import StoreError

    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        log_config=None,
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
        server_header=False,
    )
    server = uvicorn.Server(config)
    try:
        server.run()
    except StoreError as error:
        sys.stderr.write(f"source-sentry webhooks: {error}\n")
        return 1
    # uvicorn reports a failed start-up (store unreachable, port taken) by not starting.
    return 0 if server.started else 1
