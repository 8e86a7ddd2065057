"""HTTP/1.1 for ``SentryApi`` on the standard library alone (``http.client`` and ``ssl``).

``requests`` cost the notifier about two thirds of its start-up, for two requests. This sends
them on one kept-alive connection per host and keeps what users relied on from ``requests``:

- Certificates: ``REQUESTS_CA_BUNDLE`` (then ``CURL_CA_BUNDLE``), a file or a directory, is the
  only trust when set, as with ``requests``. Otherwise the system's store, which OpenSSL lets
  ``SSL_CERT_FILE`` and ``SSL_CERT_DIR`` replace; a system without one falls back to certifi's
  bundle, the one ``requests`` used.
- Proxies: ``https_proxy``/``http_proxy``, then ``all_proxy`` (lower case wins over upper),
  skipped for hosts in ``no_proxy`` (``*``, a domain and its subdomains, ``host:port``, or an
  IP network). HTTPS goes through the proxy with a CONNECT tunnel; ``user:password@`` in the
  proxy URL is sent as Basic proxy authentication. Only ``http://`` proxies are supported: any
  other scheme (``socks5://``, ``https://``) is refused with a clear message.

A request that got no HTTP answer raises ``TransportError``: ``never_sent`` when the
connection (TCP, the proxy tunnel or the TLS handshake) never opened, so nothing reached the
server; ``timed_out`` when the server did not answer within the read timeout.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import select
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:
    import ssl


class TransportError(Exception):
    """No HTTP answer. ``reason`` is a phrase to follow a host name ("could not be reached (...)")."""

    def __init__(
        self, reason: str, *, never_sent: bool, timed_out: bool = False, tls_failed: bool = False
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.never_sent = never_sent
        self.timed_out = timed_out
        # The TLS handshake failed (a plain-http server, an untrusted certificate): waiting mends
        # nothing, unlike a refused or timed-out connection.
        self.tls_failed = tls_failed


class Headers(dict[str, str]):
    """Response headers, looked up in any case (the last of repeated headers wins)."""

    def __init__(self, items: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        super().__init__()
        for name, value in items.items() if isinstance(items, Mapping) else items:
            self[name] = value

    def __setitem__(self, name: str, value: str) -> None:
        super().__setitem__(name.lower(), value)

    def __getitem__(self, name: str) -> str:
        return super().__getitem__(name.lower())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and super().__contains__(name.lower())

    def get(self, name: str, default: Any = None) -> Any:
        return super().get(name.lower(), default)


class Response:
    """An HTTP answer, read whole."""

    def __init__(
        self,
        status_code: int,
        content: bytes = b"",
        headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        *,
        reason: str = "",
        url: str = "",
    ) -> None:
        self.status_code = status_code
        self.content = content
        self.headers = Headers(headers)
        self.reason = reason
        self.url = url

    def __repr__(self) -> str:
        return f"<Response [{self.status_code}]>"

    @property
    def text(self) -> str:
        charset = re.search(r"charset=[\"']?([\w.:-]+)", self.headers.get("Content-Type") or "")
        try:
            return self.content.decode(charset.group(1) if charset else "utf-8", errors="replace")
        except LookupError:  # a charset Python does not know
            return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body as JSON; ``ValueError`` when it is not."""
        return json.loads(self.content)

    @property
    def links(self) -> dict[str, dict[str, str]]:
        """The ``Link`` header by ``rel``: ``{"next": {"url": ..., "results": "true", ...}}``."""
        links: dict[str, dict[str, str]] = {}
        for part in re.split(r",\s*(?=<)", self.headers.get("Link") or ""):
            target, _, params = part.partition(";")
            if not target.strip():
                continue
            link = {"url": target.strip(" <>'\"")}
            for param in params.split(";"):
                key, sep, value = param.partition("=")
                if sep:
                    link[key.strip(" '\"")] = value.strip(" '\"")
            links[link.get("rel") or link["url"]] = link
        return links


class Transport:
    """Sends requests, keeping one connection open per scheme, host, port and proxy."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ
        self._connections: dict[tuple[str, str, int, str], http.client.HTTPConnection] = {}
        self._tls: ssl.SSLContext | None = None

    def close(self) -> None:
        for connection in self._connections.values():
            connection.close()
        self._connections.clear()

    def connect(self, url: str, *, timeout: float) -> None:
        """Open the connection that a request to ``url`` would use (TCP, proxy tunnel, TLS) and
        keep it for the next one; raise ``TransportError`` as ``send`` would."""
        scheme, host, port, proxy = self._route(url)
        key = (scheme, host, port, proxy or "")
        if key not in self._connections:
            self._connections[key] = self._open(scheme, host, port, proxy, timeout)

    def _route(self, url: str) -> tuple[str, str, int, str | None]:
        """Scheme, host, port and proxy (None: direct) of ``url``."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url}")
        port = parts.port or (443 if scheme == "https" else 80)
        return scheme, parts.hostname, port, proxy_for(scheme, parts.hostname, port, self._environ)

    def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None = None,
        connect_timeout: float,
        read_timeout: float,
    ) -> Response:
        scheme, host, port, proxy = self._route(url)
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        key = (scheme, host, port, proxy or "")
        connection = self._connections.pop(key, None)
        if connection is not None and _dropped(connection):
            connection.close()
            connection = None
        if connection is None:
            connection = self._open(scheme, host, port, proxy, connect_timeout)
        if connection.sock is not None:
            connection.sock.settimeout(read_timeout)
        headers = dict(headers)
        if proxy and scheme == "http":
            # A plain-HTTP request goes to the proxy itself, with the absolute URL.
            target = f"http://{parts.netloc.rpartition('@')[2]}{target}"
            headers.update(_proxy_headers(proxy))
        try:
            connection.request(method, target, body=body, headers=headers)
            answer = connection.getresponse()
            content = answer.read()
        except TimeoutError:
            connection.close()
            raise TransportError("did not answer in time", never_sent=False, timed_out=True) from None
        except http.client.IncompleteRead as error:
            connection.close()
            raise TransportError(
                f"sent an answer that was cut short ({len(error.partial)} bytes read)", never_sent=False
            ) from None
        except (OSError, http.client.HTTPException) as error:
            connection.close()
            raise TransportError(
                f"could not be reached (the connection dropped: {_describe(error)})", never_sent=False
            ) from None
        if answer.will_close:
            connection.close()
        else:
            self._connections[key] = connection
        return Response(answer.status, content, answer.getheaders(), reason=answer.reason, url=url)

    def _open(
        self, scheme: str, host: str, port: int, proxy: str | None, timeout: float
    ) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection
        address, where = (host, port), "the server"
        if proxy:
            proxy_parts = urlsplit(proxy)
            address, where = (proxy_parts.hostname or "", proxy_parts.port or 80), "the proxy"
        if scheme == "https":
            connection = http.client.HTTPSConnection(*address, timeout=timeout, context=self._context())
            if proxy:
                connection.set_tunnel(host, port, headers=_proxy_headers(proxy))
        else:
            connection = http.client.HTTPConnection(*address, timeout=timeout)
        try:
            connection.connect()
        except TimeoutError:
            connection.close()
            raise TransportError(
                f"could not be reached ({where} did not accept a connection within {timeout:g} s)",
                never_sent=True,
            ) from None
        except OSError as error:
            import ssl

            connection.close()
            via = f" through the proxy {address[0]}:{address[1]}" if proxy else ""
            raise TransportError(
                f"could not be reached{via} ({_describe(error)})",
                never_sent=True,
                tls_failed=isinstance(error, ssl.SSLError),
            ) from None
        return connection

    def _context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = tls_context(self._environ)
        return self._tls


def tls_context(environ: Mapping[str, str]) -> ssl.SSLContext:
    """Certificate checking as described in the module docstring."""
    import ssl

    bundle = environ.get("REQUESTS_CA_BUNDLE") or environ.get("CURL_CA_BUNDLE")
    if bundle:
        if os.path.isdir(bundle):
            return ssl.create_default_context(capath=bundle)
        return ssl.create_default_context(cafile=bundle)
    context = ssl.create_default_context()
    paths = ssl.get_default_verify_paths()
    if not any(p and os.path.exists(p) for p in (paths.cafile, paths.capath)):
        try:
            import certifi
        except ImportError:  # pragma: no cover - requests, and so certifi, is a dependency
            return context
        context.load_verify_locations(cafile=certifi.where())
    return context


def proxy_for(scheme: str, host: str, port: int, environ: Mapping[str, str]) -> str | None:
    """The proxy URL to reach ``scheme://host:port`` through, or None to connect directly."""

    def setting(name: str) -> str:
        return (environ.get(name) or environ.get(name.upper()) or "").strip()

    proxy = setting(f"{scheme}_proxy") or setting("all_proxy")
    if not proxy or _bypassed(host, port, setting("no_proxy")):
        return None
    if "://" not in proxy:
        proxy = f"http://{proxy}"
    proxy_scheme = proxy.partition("://")[0].lower()
    if proxy_scheme != "http" or not urlsplit(proxy).hostname:
        raise TransportError(
            f"could not be reached: the {scheme}_proxy setting is a {proxy_scheme}:// proxy; only "
            "http:// proxies are supported (HTTPS is tunnelled through them with CONNECT)",
            never_sent=True,
        )
    return proxy


def _bypassed(host: str, port: int, no_proxy: str) -> bool:
    host = host.lower().strip("[]")
    for entry in (e.strip().lower() for e in no_proxy.split(",")):
        if not entry:
            continue
        if entry == "*":
            return True
        if "/" in entry:
            import ipaddress

            try:
                if ipaddress.ip_address(host) in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
            continue
        entry = entry.lstrip(".")
        entry_host, _, entry_port = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
        if entry_port and entry_port != str(port):
            continue
        entry_host = entry_host.strip("[]")
        if host == entry_host or host.endswith(f".{entry_host}"):
            return True
    return False


def _proxy_headers(proxy: str) -> dict[str, str]:
    parts = urlsplit(proxy)
    if parts.username is None:
        return {}
    import base64

    credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
    return {"Proxy-Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}


def _dropped(connection: http.client.HTTPConnection) -> bool:
    """Whether a kept-alive connection was closed by the server while idle: it then reads as
    ready (end of file). Sending on it would fail in a way that looks like a dropped request."""
    sock = connection.sock
    if sock is None:
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _describe(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text.rstrip(".")
