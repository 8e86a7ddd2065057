"""``source_sentry.transport`` over real loopback HTTP: what goes on the wire, the kept-alive
connection, timeouts, certificates and proxies. Every server here listens on 127.0.0.1 only."""

from __future__ import annotations

import base64
import json
import select
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from sentry_emulator.listener import QuietListener
from sentry_emulator.tls import make_certs
from source_sentry.transport import Transport, TransportError, proxy_for

TIMEOUTS = {"connect_timeout": 2.0, "read_timeout": 5.0}


def _pause(seconds: float) -> None:
    # Not time.sleep: unit_tests/conftest.py makes that return at once.
    threading.Event().wait(seconds)


@dataclass
class Seen:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    client_port: int


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.seen.append(
            Seen(self.command, self.path, dict(self.headers.items()), body, self.client_address[1])
        )
        if self.path.startswith("/slow"):
            _pause(1.0)
        payload = json.dumps({"path": self.path}).encode()
        self.send_response(201 if self.command == "POST" else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Link", '<https://x/?cursor=0:1:0>; rel="next"; results="true"; cursor="0:1:0"')
        self.end_headers()
        self.wfile.write(payload)
        if self.path.startswith("/hang-up"):
            # Kept alive as far as the client knows, then closed while idle.
            self.close_connection = True

    do_GET = do_POST = do_PUT = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(QuietListener):
    def __init__(self, tls: tuple[str, str] | None = None) -> None:
        """tls: (certificate, key) files to serve HTTPS with."""
        super().__init__(("127.0.0.1", 0), _Handler)
        self.seen: list[Seen] = []
        if tls is not None:
            self.use_tls(*tls)

    @property
    def port(self) -> int:
        return int(self.server_address[1])


def _serve(server: Any) -> Iterator[Any]:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()


@pytest.fixture
def server() -> Iterator[_Server]:
    yield from _serve(_Server())


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, str]:
    return make_certs(str(tmp_path_factory.mktemp("tls")))


@pytest.fixture
def tls_server(certs: tuple[str, str, str]) -> Iterator[_Server]:
    _, cert, key = certs
    yield from _serve(_Server((cert, key)))


@dataclass
class _Proxy:
    """A forward proxy: CONNECT tunnels to the target; a plain request with an absolute URL is
    answered by the proxy itself (enough to see what was asked of it)."""

    heads: list[str] = field(default_factory=list)
    sock: socket.socket = field(default_factory=socket.socket)
    stop: threading.Event = field(default_factory=threading.Event)

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def serve_forever(self, poll_interval: float) -> None:
        self.sock.settimeout(poll_interval)
        while not self.stop.is_set():
            try:
                client, _ = self.sock.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client: socket.socket) -> None:
        client.settimeout(5)
        with client:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = client.recv(4096)
                if not chunk:
                    return
                head += chunk
            text = head.split(b"\r\n\r\n")[0].decode()
            self.heads.append(text)
            method, target, _ = text.split("\r\n")[0].split(" ")
            if method != "CONNECT":
                body = b'{"from": "proxy"}'
                client.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                return
            host, _, port = target.rpartition(":")
            with socket.create_connection((host, int(port)), timeout=5) as upstream:
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                ends = [client, upstream]
                for _ in range(1000):  # bounded: the tests send a request or two
                    readable, _, _ = select.select(ends, [], [], 5)
                    if not readable:
                        return
                    for end in readable:
                        data = end.recv(65536)
                        if not data:
                            return
                        (upstream if end is client else client).sendall(data)

    def shutdown(self) -> None:
        self.stop.set()

    def server_close(self) -> None:
        self.sock.close()


@pytest.fixture
def proxy() -> Iterator[_Proxy]:
    running = _Proxy()
    running.sock.bind(("127.0.0.1", 0))
    running.sock.listen()
    yield from _serve(running)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# ---- what goes on the wire, one connection per host -------------------------------------------


def test_given_two_requests_to_one_host_when_sent_then_one_connection_carries_both(server):
    transport = Transport(environ={})
    base = f"http://127.0.0.1:{server.port}/api/0"
    first = transport.send("GET", f"{base}/a/?per_page=1", headers={"Authorization": "Bearer t"}, **TIMEOUTS)
    second = transport.send(
        "POST", f"{base}/b/", headers={"Content-Type": "application/json"}, body=b'{"x": 1}', **TIMEOUTS
    )
    transport.close()
    assert (first.status_code, first.json()) == (200, {"path": "/api/0/a/?per_page=1"})
    assert (second.status_code, second.reason) == (201, "Created")
    assert second.headers["content-type"] == second.headers.get("CONTENT-TYPE") == "application/json"
    assert second.links["next"]["cursor"] == "0:1:0"
    get, post = server.seen
    assert (get.method, get.target, get.headers["Authorization"]) == (
        "GET",
        "/api/0/a/?per_page=1",
        "Bearer t",
    )
    assert get.headers["Host"] == f"127.0.0.1:{server.port}"
    assert (post.method, post.body, post.headers["Content-Length"]) == ("POST", b'{"x": 1}', "8")
    assert get.client_port == post.client_port


def test_given_server_closed_the_idle_connection_when_sending_again_then_a_new_one_is_opened(server):
    transport = Transport(environ={})
    base = f"http://127.0.0.1:{server.port}"
    transport.send("GET", f"{base}/hang-up", headers={}, **TIMEOUTS)
    _pause(0.2)  # the server's close reaches us while the connection is idle
    again = transport.send("POST", f"{base}/after", headers={}, body=b"{}", **TIMEOUTS)
    transport.close()
    assert again.status_code == 201
    assert [s.target for s in server.seen] == ["/hang-up", "/after"]
    assert server.seen[0].client_port != server.seen[1].client_port


# ---- failures ---------------------------------------------------------------------------------


def test_given_slow_server_when_read_timeout_passes_then_timed_out_and_maybe_sent(server):
    transport = Transport(environ={})
    with pytest.raises(TransportError) as raised:
        transport.send(
            "POST", f"http://127.0.0.1:{server.port}/slow", headers={}, body=b"{}",
            connect_timeout=2, read_timeout=0.2,
        )  # fmt: skip
    assert raised.value.timed_out
    assert not raised.value.never_sent
    assert raised.value.reason == "did not answer in time"


def test_given_closed_port_when_sending_then_never_sent_and_says_refused():
    with pytest.raises(TransportError) as raised:
        Transport(environ={}).send("POST", f"http://127.0.0.1:{_closed_port()}/", headers={}, **TIMEOUTS)
    assert raised.value.never_sent
    assert "Connection refused" in raised.value.reason


# ---- certificates -----------------------------------------------------------------------------


def test_given_requests_ca_bundle_when_server_signed_by_it_then_trusted(tls_server, certs):
    transport = Transport(environ={"REQUESTS_CA_BUNDLE": certs[0]})
    answer = transport.send("GET", f"https://localhost:{tls_server.port}/x", headers={}, **TIMEOUTS)
    transport.close()
    assert answer.status_code == 200


def test_given_no_ca_bundle_when_server_signed_by_private_ca_then_never_sent_and_says_why(tls_server):
    with pytest.raises(TransportError) as raised:
        Transport(environ={}).send("GET", f"https://localhost:{tls_server.port}/x", headers={}, **TIMEOUTS)
    assert raised.value.never_sent
    assert "CERTIFICATE_VERIFY_FAILED" in raised.value.reason
    assert tls_server.seen == []


# ---- proxies ----------------------------------------------------------------------------------


def test_given_https_proxy_when_sending_https_then_tunnelled_with_connect_and_proxy_auth(
    tls_server, proxy, certs
):
    environ = {"HTTPS_PROXY": f"http://ci:p%40ss@127.0.0.1:{proxy.port}", "REQUESTS_CA_BUNDLE": certs[0]}
    transport = Transport(environ=environ)
    answer = transport.send(
        "GET",
        f"https://localhost:{tls_server.port}/api/0/x/",
        headers={"Authorization": "Bearer t"},
        **TIMEOUTS,
    )
    transport.close()
    assert answer.json() == {"path": "/api/0/x/"}
    (head,) = proxy.heads
    assert head.startswith(f"CONNECT localhost:{tls_server.port} HTTP/1.")  # 1.0 before Python 3.12
    assert f"Proxy-Authorization: Basic {base64.b64encode(b'ci:p@ss').decode()}" in head.split("\r\n")
    assert "Bearer t" not in head  # the token goes inside the tunnel only
    (seen,) = tls_server.seen
    assert seen.headers["Authorization"] == "Bearer t"
    assert "Proxy-Authorization" not in seen.headers


def test_given_http_proxy_when_sending_http_then_absolute_url_goes_to_the_proxy(server, proxy):
    transport = Transport(environ={"http_proxy": f"127.0.0.1:{proxy.port}"})
    answer = transport.send("GET", f"http://127.0.0.1:{server.port}/api/0/x/?a=1", headers={}, **TIMEOUTS)
    assert answer.json() == {"from": "proxy"}
    assert proxy.heads[0].startswith(f"GET http://127.0.0.1:{server.port}/api/0/x/?a=1 HTTP/1.1\r\n")
    assert server.seen == []


def test_given_host_in_no_proxy_when_sending_then_connects_directly(server, proxy):
    environ = {"http_proxy": f"http://127.0.0.1:{proxy.port}", "NO_PROXY": "example.com, 127.0.0.0/8"}
    answer = Transport(environ=environ).send(
        "GET", f"http://127.0.0.1:{server.port}/x", headers={}, **TIMEOUTS
    )
    assert answer.json() == {"path": "/x"}
    assert proxy.heads == []


@pytest.mark.parametrize(
    ("environ", "url", "expected"),
    [
        ({}, "https://sentry.io/", None),
        ({"HTTPS_PROXY": "http://p:3128"}, "https://sentry.io/", "http://p:3128"),
        (
            {"https_proxy": "http://lower:1", "HTTPS_PROXY": "http://upper:2"},
            "https://sentry.io/",
            "http://lower:1",
        ),
        ({"HTTPS_PROXY": "p:3128"}, "https://sentry.io/", "http://p:3128"),
        ({"ALL_PROXY": "http://all:1"}, "https://sentry.io/", "http://all:1"),
        ({"HTTP_PROXY": "http://p:1"}, "https://sentry.io/", None),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "*"}, "https://sentry.io/", None),
        ({"HTTPS_PROXY": "http://p:1", "no_proxy": ".sentry.io"}, "https://de.sentry.io/", None),
        ({"HTTPS_PROXY": "http://p:1", "no_proxy": "sentry.io"}, "https://sentry.io/", None),
        ({"HTTPS_PROXY": "http://p:1", "no_proxy": "sentry.io"}, "https://notsentry.io/", "http://p:1"),
        ({"HTTPS_PROXY": "http://p:1", "no_proxy": "sentry.io:8443"}, "https://sentry.io/", "http://p:1"),
        ({"HTTPS_PROXY": "http://p:1", "no_proxy": "sentry.io:443"}, "https://sentry.io/", None),
        ({"HTTPS_PROXY": "http://p:1", "no_proxy": "10.0.0.0/8"}, "https://10.1.2.3/", None),
        ({"HTTPS_PROXY": "http://p:1", "no_proxy": "10.0.0.0/8"}, "https://11.1.2.3/", "http://p:1"),
    ],
)
def test_given_proxy_settings_when_choosing_a_proxy_then_as_requests_did(environ, url, expected):
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    assert proxy_for(parts.scheme, parts.hostname, parts.port or 443, environ) == expected


def test_given_socks_proxy_when_choosing_then_refused_naming_what_works():
    with pytest.raises(
        TransportError, match=r"socks5:// proxy; only http:// proxies are supported"
    ) as raised:
        proxy_for("https", "sentry.io", 443, {"HTTPS_PROXY": "socks5://user:secret@p:1080"})
    assert "secret" not in str(raised.value)
