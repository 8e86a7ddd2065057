"""The receiver keeping nothing: `source-sentry webhooks`' own app, served as its command serves
it (signature check, envelope, metrics, the committer's thread and its hand-off back to the event
loop), over a store that keeps nothing and answers at once.

Beside the floor (uvicorn + Starlette answering 200) it shows the most of the floor's rate that
any store could reach on this machine: what lies between the floor and this row is the receiver's
own work, what lies between this row and a store's is keeping the delivery.

``python -m tools.bench.webhook_nostore --config FILE`` (the receiver's settings file); answers
GET /healthz once up.
"""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Sequence
from typing import Any

from source_sentry.webhooks.store.base import Extension, Incoming, Recorded


class KeepsNothing:
    """A Store that keeps nothing: every delivery is new, numbered in the order it came."""

    def __init__(self) -> None:
        self._seqs = itertools.count(1)

    def record_batch(
        self, batch: Sequence[Incoming], retry_window_ms: int, extend: Extension | None = None
    ) -> list[Recorded]:
        return [Recorded(seq=next(self._seqs), duplicate=False) for _ in batch]

    def feed(self, after: int, limit: int) -> list[dict[str, Any]]:
        return []

    def newest_seq(self) -> int:
        return 0

    def prune(self, received_before_ms: int) -> int:
        return 0

    def check(self) -> None:
        return None

    def close(self) -> None:
        return None


def main(config: str) -> None:
    import uvicorn

    from source_sentry.webhooks.app import create_app
    from source_sentry.webhooks.cli import configure_logging, server_config, settle_heap
    from source_sentry.webhooks.settings import load_settings

    settings = load_settings(config, os.environ)
    configure_logging(settings)
    server = uvicorn.Server(server_config(settings, create_app(settings, store=KeepsNothing())))
    server.config.load()
    settle_heap()
    server.run()


if __name__ == "__main__":
    if sys.argv[1:2] != ["--config"] or len(sys.argv) != 3:
        sys.exit("usage: python -m tools.bench.webhook_nostore --config FILE")
    main(sys.argv[2])
