"""`source-sentry webhooks [--config FILE]`: read the settings, open the database and the
forwarding outbox, then serve until SIGTERM/SIGINT.

The database and the forwarding outbox (its tables, each target's HTTP client) are opened before
uvicorn starts, so that a problem there is reported as a setting to fix, in one message, instead
of as a start-up traceback: uvicorn logs a failed lifespan start-up with its traceback, and
catching that inside the lifespan would still leave uvicorn's own lines around the message.

On SIGTERM or SIGINT uvicorn stops accepting connections, lets requests in flight finish (up to
`shutdown_grace_seconds`), then the app commits what is queued and closes the store. uvicorn
then restores the handlers it found and raises the signal again, so that a program embedding it
learns of it; with Python's default handler that would end the process by the signal (status
-15, reported by container runtimes as a failure) after a clean stop. The handlers installed
here take that second signal, so a clean stop exits 0.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import signal
import sys
from collections.abc import Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import uvicorn

    from source_sentry.webhooks.settings import Settings

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

    from source_sentry.webhooks.app import create_app, forwarding, new_forwarder
    from source_sentry.webhooks.forward.service import ForwardStartError
    from source_sentry.webhooks.metrics import Metrics
    from source_sentry.webhooks.store import StoreError, open_store

    configure_logging(settings)
    stop = _StopSignals()
    try:
        store = open_store(settings.database, settings.sqlite_synchronous)
    except StoreError as error:
        sys.stderr.write(f"source-sentry webhooks: database: {error}\n")
        return 1
    metrics = Metrics()
    forwarder = new_forwarder(settings, metrics) if forwarding(settings) else None
    try:
        if forwarder is not None:
            forwarder.open()  # the outbox's tables and each target's HTTP client
    except ForwardStartError as error:
        store.close()
        sys.stderr.write(f"source-sentry webhooks: forwarding: {error}\n")
        return 1
    config = server_config(settings, create_app(settings, store=store, metrics=metrics, forwarder=forwarder))
    server = uvicorn.Server(config)
    stop.server = server
    config.load()  # uvicorn's protocol and loop modules, imported now rather than when serving
    settle_heap()
    if stop.requested is not None:  # a signal came while the database was opening
        if forwarder is not None:
            forwarder.close()
        store.close()
        return 0
    try:
        server.run()
    except StoreError as error:
        sys.stderr.write(f"source-sentry webhooks: database: {error}\n")
        return 1
    # uvicorn reports a failed start-up (port taken) by not starting.
    return 0 if server.started else 1


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("uvicorn.access").addFilter(_access_line_without_query)


def server_config(settings: Settings, app: Any) -> uvicorn.Config:
    """How the receiver's app is served (the benchmark serves its receiver keeping nothing so too)."""
    import uvicorn

    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        log_config=None,
        access_log=settings.access_log,
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
        server_header=False,
    )


def settle_heap() -> None:
    """Take what start-up left alive (modules, the app, the store, the settings: tens of
    thousands of objects) out of the garbage collector's sight before serving. Otherwise every
    full collection under load walks all of them while holding the interpreter lock, and each
    pauses every request and the committer's thread: measured at 27 to 65 ms, about once every
    two seconds at 1,200 deliveries/s, against 1 to 5 ms once they are frozen."""
    gc.collect()
    gc.freeze()


# Query parameters an access line may show: the feed's own, whole numbers only.
SHOWN_QUERY = ("after", "limit")


def _access_line_without_query(record: logging.LogRecord) -> bool:
    """uvicorn's access line names the path with its query string. A reader's URL can carry a
    token or another credential in its query (a URL pasted with `?token=...`, a proxy adding
    one), so the line keeps only the feed's `after` and `limit` when they are numbers, and says
    that something else was left out."""
    args = record.args
    if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str) and "?" in args[2]:
        path, _, query = args[2].partition("?")
        kept = []
        withheld = False
        for part in query.split("&"):
            name, _, value = part.partition("=")
            if name in SHOWN_QUERY and value.isdigit():
                kept.append(part)
            elif part:
                withheld = True
        shown = "&".join(kept + (["(more withheld)"] if withheld else []))
        record.args = (args[0], args[1], f"{path}?{shown}" if shown else path, *args[3:])
    return True


class _StopSignals:
    """SIGTERM and SIGINT handlers for the whole run. Before uvicorn takes over they note the
    request (the caller then stops instead of serving); while it serves, uvicorn's own handlers
    are in place; after its shutdown they take the signal uvicorn raises again, and the stop,
    already done, needs nothing more."""

    def __init__(self) -> None:
        self.server: Any = None
        self.requested: int | None = None
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.requested = signum
        if self.server is not None and not self.server.should_exit:
            self.server.handle_exit(signum, frame)
