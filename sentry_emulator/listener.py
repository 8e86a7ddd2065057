"""The threading HTTP server under the project's own test servers: the emulator, the forwarding
target (`tools/forward_target.py`) and the emulator tests' webhook target."""

from __future__ import annotations

import ssl
import sys
from http.server import ThreadingHTTPServer
from typing import Any


class QuietListener(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's listen backlog is 5: a client opening connections faster than the server's
    # thread accepts them would see some wait for the kernel's SYN retry (a second). nginx's is 511.
    request_queue_size = 128

    def use_tls(self, cert: str, key: str) -> None:
        """Serve over TLS with this certificate and key (files). Each connection's handshake runs on
        its first read, in its own thread: wrapped with the default, accept() itself would run it on
        the serving thread, and one client that connects and says nothing would hold up every
        connection after it."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.socket = context.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client gone before its answer was written (a connector stopped mid-read, a sender's
        timeout) breaks the pipe or resets the connection. nginx logs that as the client's doing
        (499), not as a server fault; so does this, by saying nothing. Over TLS the same shows as
        an SSLError (SSLEOFError: closed without TLS's closing message), and so does a client that
        refuses this server's certificate, which tests do on purpose; the certificate is the test's
        own, so a failed handshake is the client's doing too. Any other error still prints its
        traceback, as socketserver does."""
        if isinstance(sys.exc_info()[1], ConnectionError | ssl.SSLError):
            return
        super().handle_error(request, client_address)
