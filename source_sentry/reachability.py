"""Before a sync sends its first request: is Sentry there at all?

The CDK retries a connection that cannot be opened like any transient failure, 8 times over about
four minutes for each request, and the sync's streams each do so in turn: a mistyped host or port
took 630 s to fail, ending on the raw text of ``requests``. Here one connection is opened as a
request would open it (TCP, proxy tunnel, TLS, no HTTP request sent), retried for
``REACH_WAITS`` (30 s in all) so that a server restarting (a container's few seconds, a web
server's worker start-up) is still waited for, and the sync fails in under a minute otherwise,
naming the base URL and what to check. A failed TLS handshake (a plain-http server named with
https, an untrusted certificate) is not retried: waiting does not mend it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

from source_sentry import sentry_api
from source_sentry.transport import Transport, TransportError

# Seconds between tries: 30 s in all. With CONNECT_TIMEOUT per try, a host that never answers
# (a firewall dropping packets) fails within 30 + 6 * 3 = 48 s.
REACH_WAITS: Final = (1.0, 2.0, 4.0, 8.0, 15.0)
CONNECT_TIMEOUT: Final = 3.0


class Unreachable(Exception):
    """Sentry's base URL could not be connected to; the message says what to check.

    ``lasting`` tells a failure that waiting cannot mend (TLS) from one that a later sync may not
    meet (nothing listening, no answer, no such host yet).
    """

    def __init__(self, message: str, *, lasting: bool) -> None:
        super().__init__(message)
        self.lasting = lasting


def wait_until_reachable(
    site: str,
    *,
    transport: Transport | None = None,
    sleep: Callable[[float], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Return once a connection to ``site`` (the base URL) opens; raise ``Unreachable`` when none
    did within REACH_WAITS. The transport is the one ``SentryApi`` would use."""
    transport = transport or sentry_api.default_transport()
    sleep = sleep or time.sleep
    started = clock()
    try:
        for wait in (*REACH_WAITS, None):
            try:
                transport.connect(site, timeout=CONNECT_TIMEOUT)
                return
            except TransportError as error:
                if error.tls_failed or wait is None:
                    message = _message(site, error, clock() - started)
                    raise Unreachable(message, lasting=error.tls_failed) from None
            sleep(wait)
    finally:
        transport.close()


def _message(site: str, error: TransportError, seconds: float) -> str:
    if error.tls_failed:
        advice = (
            "The TLS (https) handshake failed: if the server speaks plain http, write `hostname` as "
            "http://host:port; if its certificate comes from a private authority, point "
            "REQUESTS_CA_BUNDLE at that authority's certificate."
        )
    else:
        advice = (
            f"Tried for {seconds:.0f} s. Check `hostname` (scheme, host, port and path prefix) and "
            "that the server is running and reachable from where this connector runs (firewall, "
            "proxy settings: HTTPS_PROXY, NO_PROXY)."
        )
    return f"Sentry at {site} {error.reason}. {advice}"
