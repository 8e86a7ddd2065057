"""The HTTP side of the emulator: routing, auth and scopes, pagination, rate limits, faults.

Built on the standard library (``http.server.ThreadingHTTPServer`` + ``ssl``): it needs no
dependency the project does not already have, starts in milliseconds in-process or as a
subprocess, and gives byte-level control over responses (exact ``Link`` headers, a
``text/html`` 429 whose body is a JSON string, truncated bodies, connection resets), which
frameworks tend to "fix".
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import shutil
import socket
import ssl
import struct
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlsplit

from . import search, serialize
from .data import Issue, Project, Release, World, _h, _hex32
from .faults import Faults, Rule
from .paging import (
    BadRequest,
    Cursor,
    link_header,
    offset_page,
    parse_cursor,
    parse_per_page,
    score_cursors,
    score_window,
)
from .ratelimit import RateLimiter
from .timeutil import US, fmt, now_us, parse_iso, parse_period

ALL_SCOPES = (
    "org:read",
    "org:write",
    "project:read",
    "project:write",
    "project:releases",
    "event:read",
    "event:write",
    "team:read",
    "member:read",
    "alerts:read",
)
ORG_READ = {"org:read", "org:write", "org:admin"}
PROJECT_READ = {"project:read", "project:write", "project:admin"}
EVENT_READ = {"event:read", "event:write", "event:admin"}
RELEASE_READ = {"project:read", "project:write", "project:admin", "project:releases", "org:ci"}
RELEASE_WRITE = {"project:releases", "project:write", "project:admin", "org:ci"}

NOT_FOUND = {"detail": "The requested resource does not exist"}
FORBIDDEN = {"detail": "You do not have permission to perform this action."}
RETENTION = 90 * 86_400 * US
DEFAULT_ORG_ISSUES_PERIOD = 14 * 86_400 * US
MAX_HITS = 1000

_HTML_TITLES = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Temporarily Unavailable",
    504: "Gateway Time-out",
}
_STATUS_BODIES = {
    400: {"detail": "Bad request"},
    401: {"detail": "Invalid token"},
    403: FORBIDDEN,
    404: NOT_FOUND,
    409: {"detail": "Could not create the release it conflicts with existing data"},
    410: {"detail": "This API endpoint is deprecated and temporarily unavailable."},
    502: {"detail": "Bad Gateway"},
    503: {"detail": "Service Unavailable"},
    504: {"detail": "Gateway Timeout"},
}


class ApiError(Exception):
    def __init__(self, status: int, body: object) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body


@dataclass(frozen=True)
class Token:
    value: str
    scopes: frozenset[str]
    forbidden: frozenset[int]
    kind: str


@dataclass
class Route:
    name: str
    pattern: tuple[str, ...]
    methods: dict[str, tuple[str, set[str], str]]  # method -> (handler, fault names, rate category)


_ROUTES = [
    Route("orgs", ("organizations",), {"GET": ("h_orgs", {"orgs"}, "default")}),
    Route("org", ("organizations", "{org}"), {"GET": ("h_org", {"org"}, "default")}),
    Route(
        "projects", ("organizations", "{org}", "projects"), {"GET": ("h_projects", {"projects"}, "default")}
    ),
    Route("legacy_projects", ("projects",), {"GET": ("h_legacy_projects", {"projects"}, "default")}),
    Route("project", ("projects", "{org}", "{project}"), {"GET": ("h_project", {"project"}, "default")}),
    Route(
        "events", ("projects", "{org}", "{project}", "events"), {"GET": ("h_events", {"events"}, "events")}
    ),
    Route(
        "project_issues",
        ("projects", "{org}", "{project}", "issues"),
        {"GET": ("h_project_issues", {"issues", "project_issues"}, "issues")},
    ),
    Route(
        "org_issues",
        ("organizations", "{org}", "issues"),
        {"GET": ("h_org_issues", {"issues", "org_issues"}, "issues")},
    ),
    Route(
        "releases",
        ("organizations", "{org}", "releases"),
        {
            "GET": ("h_releases", {"releases"}, "releases"),
            "POST": ("h_release_create", {"releases", "release_create"}, "releases"),
        },
    ),
    Route(
        "release",
        ("organizations", "{org}", "releases", "{version}"),
        {
            "GET": ("h_release", {"releases"}, "releases"),
            "PUT": ("h_release_update", {"releases", "release_update"}, "releases"),
        },
    ),
    Route(
        "deploys",
        ("organizations", "{org}", "releases", "{version}", "deploys"),
        {
            "GET": ("h_deploys", {"deploys"}, "releases"),
            "POST": ("h_deploy_create", {"deploys", "deploy_create"}, "releases"),
        },
    ),
]


def _match(segments: list[str]) -> tuple[Route, dict[str, str]] | None:
    for route in _ROUTES:
        if len(route.pattern) != len(segments):
            continue
        args = {}
        for pat, seg in zip(route.pattern, segments, strict=True):
            if pat.startswith("{"):
                if not seg:
                    break
                args[pat[1:-1]] = seg
            elif pat != seg:
                break
        else:
            return route, args
    return None


class _Ctx:
    """One request as the handlers see it."""

    def __init__(
        self,
        emu: Emulator,
        method: str,
        path: str,
        pairs: list[tuple[str, str]],
        headers,
        body: bytes,
        scheme: str,
    ) -> None:
        self.emu = emu
        self.method = method
        self.path = path
        self.pairs = pairs
        self.params: dict[str, list[str]] = {}
        for k, v in pairs:
            self.params.setdefault(k, []).append(v)
        self.headers = headers
        self.raw_body = body
        host = headers.get("Host") or f"{emu.host}:{emu.port}"
        self.base = f"{scheme}://{host}"
        self.token: Token | None = None
        self.extra_headers: dict[str, str] = {}

    def param(self, name: str, default: str | None = None) -> str | None:
        vals = self.params.get(name)
        return vals[-1] if vals else default

    def json_body(self) -> dict:
        try:
            data = json.loads(self.raw_body.decode("utf-8") or "null") if self.raw_body else {}
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(400, {"detail": f"JSON parse error - {exc}"}) from exc
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ApiError(
                400,
                {
                    "non_field_errors": [
                        f"Invalid data. Expected a dictionary, but got {type(data).__name__}."
                    ]
                },
            )
        return data

    def link(self, prev: Cursor, nxt: Cursor) -> None:
        self.extra_headers["Link"] = link_header(self.base, self.path, self.pairs, prev, nxt)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nginx"
    sys_version = ""
    timeout = 60

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - quiet
        pass

    def _dispatch(self) -> None:
        self.server.emulator._handle(self)  # type: ignore[attr-defined]

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _dispatch


class Emulator:
    """A Sentry Web API emulator on 127.0.0.1. Use as a context manager or call start()/stop()."""

    def __init__(
        self,
        *,
        seed: int = 0,
        projects: int = 3,
        events: int = 500,
        issues: int = 40,
        releases: int = 30,
        rate_limits: str | dict = "sentry",
        faults: str | None = None,
        tls: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
        org: str = "acme",
        span_days: float = 30.0,
        short_pages: int = 4,
        event_offset_limit: int | None = None,
        anchor_us: int | None = None,
    ) -> None:
        self.seed = seed
        self.world = World(
            seed=seed,
            org=org,
            projects=projects,
            events=events,
            issues=issues,
            releases=releases,
            span_days=span_days,
            anchor_us=anchor_us,
        )
        self.limiter = RateLimiter(rate_limits)
        self.rate_mode = "none" if rate_limits == "none" else "sentry"
        self.faults = Faults(seed)
        self.faults.set(faults)
        self.tls = tls
        self.host = host
        self.port = port
        self.short_pages = short_pages
        self.event_offset_limit = event_offset_limit
        self._tokens: dict[str, Token] = {}
        self._token_counter = 0
        self.token = self.make_token()
        self._log: list[dict] = []
        self._log_lock = threading.Lock()
        self._served_empty: set[str] = set()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._tls_dir: str | None = None
        self.ca_cert: str | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Emulator:
        server = ThreadingHTTPServer((self.host, self.port), _Handler)
        server.daemon_threads = True
        server.emulator = self  # type: ignore[attr-defined]
        if self.tls:
            from .tls import make_certs

            ca, cert, key = make_certs()
            self._tls_dir = ca.rsplit("/", 1)[0]
            self.ca_cert = ca
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(cert, key)
            server.socket = ctx.wrap_socket(server.socket, server_side=True)
        self.port = server.server_address[1]
        self._server = server
        self.world.web_url = self.base_url
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="sentry-emulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._tls_dir:
            shutil.rmtree(self._tls_dir, ignore_errors=True)
            self._tls_dir = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ public API
    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    @property
    def organization(self) -> str:
        return self.world.org_slug

    @property
    def project_slugs(self) -> list[str]:
        return [p.slug for p in self.world.projects]

    def info(self) -> dict:
        return {
            "base_url": self.base_url,
            "token": self.token,
            "organization": self.organization,
            "projects": self.project_slugs,
            "ca_cert": self.ca_cert,
        }

    def make_token(self, scopes=None, forbidden_projects=(), kind: str = "user") -> str:
        """A new token. ``kind="user"``: ``sntryu_`` + 64 hex, default scopes ALL_SCOPES;
        ``kind="org"``: ``sntrys_`` + base64(JSON url/region_url/org) + ``_`` + secret, default
        scopes ``["org:ci"]``. ``forbidden_projects`` (slugs or ids) answer 403 to this token."""
        self._token_counter += 1
        secret = _hex32(self.seed, "token", self._token_counter) + _hex32(
            self.seed, "token2", self._token_counter
        )
        if kind == "org":
            payload = json.dumps(
                {
                    "iat": 1_700_000_000 + self._token_counter,
                    "url": self.base_url,
                    "region_url": self.base_url,
                    "org": self.organization,
                }
            ).encode()
            value = "sntrys_" + base64.b64encode(payload).decode().rstrip("=") + "_" + secret[:43]
            default = ["org:ci"]
        elif kind == "user":
            value = "sntryu_" + secret
            default = list(ALL_SCOPES)
        else:
            raise ValueError("kind is 'user' or 'org'")
        forbidden = set()
        for ref in forbidden_projects:
            p = self.world.project(str(ref))
            if p is None:
                raise ValueError(f"unknown project {ref!r}")
            forbidden.add(p.idx)
        self._tokens[value] = Token(
            value, frozenset(default if scopes is None else scopes), frozenset(forbidden), kind
        )
        return value

    def _project_arg(self, ref: str) -> Project:
        p = self.world.project(str(ref))
        if p is None:
            raise KeyError(f"unknown project {ref!r}")
        return p

    def ground_truth(self, kind: str, projects=None, *, full: bool = False) -> list[dict]:
        """What a complete, correct sync returns now. ``kind``: events | issues | projects |
        project_detail | releases. ``projects``: slugs or ids (default all). ``full`` (events):
        the ``full=`` body instead of the list body."""
        w = self.world
        chosen = [self._project_arg(r) for r in projects] if projects else list(w.projects)
        idx = {p.idx for p in chosen}
        with w.lock:
            if kind == "projects":
                return [serialize.project_summary(w, p, sorted(ALL_SCOPES), True) for p in chosen]
            if kind == "project_detail":
                return [serialize.project_detail(w, p, sorted(ALL_SCOPES), True) for p in chosen]
            if kind == "events":
                ser = serialize.event_full if full else serialize.event_simple
                return [ser(w, ev) for p in chosen for ev in w.all_events(p)]
            if kind == "issues":
                items = [i for i in w.all_issues() if i.project.idx in idx and i.count]
                items.sort(key=lambda i: (i.last_seen[0] // 1000, int(i.id)), reverse=True)
                return [serialize.issue(w, i, org_endpoint=True) for i in items]
            if kind == "releases":
                rels = [r for r in self._sorted_releases() if r.status == "open" and idx & set(r.projects)]
                return [serialize.release(w, r) for r in rels]
        raise ValueError(f"unknown ground truth kind {kind!r}")

    def add_events(
        self,
        project_slug: str,
        n: int,
        *,
        issue_id: str | None = None,
        late_by: timedelta | float | None = None,
    ) -> list[dict]:
        """``n`` new events (full form). ``issue_id=None`` makes one new issue for them; otherwise
        they join that issue (moving its lastSeen if newer; a resolved issue regresses).
        ``late_by`` (timedelta or seconds) backdates dateCreated while dateReceived is now."""
        p = self._project_arg(project_slug)
        issue = None
        if issue_id is not None:
            issue = self.world.issues_by_id.get(str(issue_id))
            if issue is None or issue.project is not p:
                raise KeyError(f"issue {issue_id!r} not in project {project_slug!r}")
        late = None
        if late_by is not None:
            late = int((late_by.total_seconds() if isinstance(late_by, timedelta) else float(late_by)) * US)
        with self.world.lock:
            evs = self.world.add_events(p, n, issue=issue, late_by_us=late)
            return [serialize.event_full(self.world, ev) for ev in evs]

    def add_issues(self, project_slug: str, n: int) -> list[dict]:
        """``n`` new unresolved issues, each with one new event."""
        out = []
        for _ in range(n):
            ev = self.add_events(project_slug, 1)[0]
            out.append(self.issue(ev["groupID"]))
        return out

    def issue(self, issue_id: str) -> dict:
        with self.world.lock:
            return serialize.issue(self.world, self._issue(issue_id), org_endpoint=True)

    def _issue(self, issue_id: str) -> Issue:
        iss = self.world.issues_by_id.get(str(issue_id))
        if iss is None:
            raise KeyError(f"unknown issue {issue_id!r}")
        return iss

    def set_issue_status(self, issue_id: str, status: str) -> dict:
        """Change status; like Sentry this does not move lastSeen."""
        self.world.set_status(self._issue(issue_id), status)
        return self.issue(issue_id)

    def resolve_issue(self, issue_id: str) -> dict:
        return self.set_issue_status(issue_id, "resolved")

    def add_release(self, version: str, projects=None) -> dict:
        idx = [self._project_arg(r).idx for r in (projects or [self.world.projects[0].slug])]
        with self.world.lock:
            rel, _ = self.world.create_release(version, idx)
            return serialize.release(self.world, rel)

    def set_faults(self, spec: str | None) -> None:
        self.faults.set(spec)

    def clear_faults(self) -> None:
        self.faults.clear()

    @property
    def requests(self) -> list[dict]:
        with self._log_lock:
            return list(self._log)

    def reset_log(self) -> None:
        with self._log_lock:
            self._log.clear()

    # ------------------------------------------------------------------ request handling
    def _handle(self, h: _Handler) -> None:
        started = time.monotonic()
        split = urlsplit(h.path)
        raw_path = split.path
        pairs = parse_qsl(split.query, keep_blank_values=True)
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        if raw_path.startswith("/_emulator/"):
            self._control(h, raw_path[len("/_emulator/") :].strip("/"), pairs, body)
            return
        segments = [unquote(s) for s in raw_path.split("/")]
        path = "/".join(segments)
        ctx = _Ctx(self, h.command, path, pairs, h.headers, body, "https" if self.tls else "http")
        entry = {
            "time": time.time(),
            "method": h.command,
            "path": path,
            "query": ctx.params,
            "status": None,
            "fault": None,
            "token": None,
            "user_agent": h.headers.get("User-Agent"),
            "request_headers": {
                k: v
                for k, v in h.headers.items()
                if k.lower() in ("authorization", "user-agent", "content-type", "accept")
            },
            "body": None,
            "response_headers": {},
        }
        if body:
            with contextlib.suppress(ValueError, UnicodeDecodeError):
                entry["body"] = json.loads(body)
        auth = h.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            entry["token"] = auth[len("Bearer ") :].strip()
        entry["_started"] = started
        h.emulator_entry = entry  # logged by _send / _record just before the bytes go out
        key = entry["token"] or h.client_address[0]
        try:
            self._api(ctx, h, segments, entry)
        except _Closed:
            self._record(h, None, {})
        finally:
            if entry.pop("_entered", False):
                self.limiter.leave(entry["_cat"], key)
            entry.pop("_cat", None)

    def _record(self, h: _Handler, status: int | None, headers: dict) -> None:
        entry = getattr(h, "emulator_entry", None)
        if entry is None or "duration" in entry:
            return
        entry["status"] = status
        entry["response_headers"] = {
            k: v
            for k, v in headers.items()
            if k.startswith("X-") or k in ("Link", "Content-Type", "Location")
        }
        entry["duration"] = time.monotonic() - entry.pop("_started")
        with self._log_lock:
            self._log.append(entry)

    def _api(self, ctx: _Ctx, h: _Handler, segments: list[str], entry: dict):
        """Returns (status, body bytes, headers) after sending, or raises _Closed."""
        if segments[:3] != ["", "api", "0"]:
            return self._send(h, 404, {"detail": "Not found"})
        rest = segments[3:]
        has_slash = rest and rest[-1] == "" and len(rest) > 1
        match = _match(rest[:-1]) if has_slash else None
        if match is None:
            if not has_slash and rest and _match([s for s in rest if s != ""] if rest[-1] else rest):
                hint = ctx.path + "/"
                return self._send(
                    h, 404, {"info": f"Route not found, did you forget a trailing slash? try: {hint}"}
                )
            return self._send(h, 404, {"info": "Route not found"})
        route, args = match
        if ctx.method not in route.methods:
            return self._send(
                h,
                405,
                {"detail": f'Method "{ctx.method}" not allowed.'},
                {"Allow": ", ".join(sorted(route.methods))},
            )
        handler_name, fault_names, cat = route.methods[ctx.method]
        rule = self.faults.pick(fault_names)
        if rule is not None:
            entry["fault"] = rule.text
            early = self._fault_early(h, rule, cat)
            if early is not None:
                return early
        rate_headers: dict[str, str] = {}
        if self.limiter.enabled:
            entry["_cat"] = cat
            key = entry["token"] or h.client_address[0]
            allowed, rate_headers, msg = self.limiter.enter(cat, key)
            if not allowed:
                return self._send(
                    h, 429, json.dumps(msg).encode(), rate_headers, content_type="text/html; charset=utf-8"
                )
            entry["_entered"] = True
        if rule is not None and rule.action == "slow":
            time.sleep(rule.arg or 0)
        try:
            ctx.token = self._authenticate(ctx)
            with self.world.lock:
                status, body = getattr(self, handler_name)(ctx, **args)
        except ApiError as exc:
            status, body = exc.status, exc.body
        except BadRequest as exc:
            status, body = 400, exc.body
        headers = {**rate_headers, **ctx.extra_headers}
        if rule is not None and rule.action == "409" and handler_name == "h_release_create":
            status, body = 409, _STATUS_BODIES[409]
        if rule is not None and rule.action in ("truncated", "incomplete", "malformed"):
            raw = json.dumps(body).encode()
            if rule.action == "truncated":
                return self._send(h, 200, raw[: len(raw) // 2], headers)
            if rule.action == "malformed":
                return self._send(h, 200, b")]}',\n" + raw, headers)
            self._send_incomplete(h, raw, headers)
            raise _Closed
        return self._send(h, status, body, headers)

    def _fault_early(self, h: _Handler, rule: Rule, cat: str):
        action = rule.action
        if action == "reset":
            self._record(h, None, {})
            with contextlib.suppress(OSError):
                h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                h.connection.close()
            h.close_connection = True
            raise _Closed
        if action.isdigit() or action.endswith(("html", "legacy")):
            code = int(action[:3])
            if code == 409 and "release_create" in rule.target:
                return None  # performed by the handler, then answered with 409
            if action.endswith("html"):
                title = f"{code} {_HTML_TITLES.get(code, 'Error')}"
                page = (
                    f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1>"
                    f"</center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
                ).encode()
                return self._send(h, code, page, content_type="text/html")
            if action.endswith("legacy"):
                return self._send(
                    h,
                    code,
                    {"detail": "You are attempting to use this endpoint too frequently. Limit is 3/1s"},
                )
            if code == 429:
                limit, window, conc = self.limiter.limits[cat]
                reset = math.ceil(time.time() + (rule.arg if rule.arg is not None else 1))
                headers = self.limiter.headers_for(cat, 0, reset, conc)
                msg = (
                    f"You are attempting to use this endpoint too frequently. Limit is {limit} requests in "
                    f"{int(window) if float(window).is_integer() else window} seconds"
                )
                return self._send(
                    h, 429, json.dumps(msg).encode(), headers, content_type="text/html; charset=utf-8"
                )
            if code == 500:
                body = {"detail": "Internal Error", "errorId": _hex32(self.seed, "err", time.time_ns())}
            else:
                body = _STATUS_BODIES.get(code, {"detail": "Error"})
            return self._send(h, code, body)
        return None  # slow / body faults act later

    def _send(self, h: _Handler, status: int, body, headers=None, content_type: str = "application/json"):
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = dict(headers or {})
        headers.setdefault("Content-Type", content_type)
        self._record(h, status, headers)
        h.send_response(status)
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(raw)))
        h.end_headers()
        h.wfile.write(raw)
        return status, raw, headers

    def _send_incomplete(self, h: _Handler, raw: bytes, headers: dict) -> None:
        self._record(h, 200, headers)
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(raw)))
        h.end_headers()
        h.wfile.write(raw[: len(raw) // 2])
        h.wfile.flush()
        h.close_connection = True

    # ------------------------------------------------------------------ auth helpers
    def _authenticate(self, ctx: _Ctx) -> Token:
        auth = ctx.headers.get("Authorization")
        if not auth or not auth.startswith("Bearer ") or not auth[7:].strip():
            raise ApiError(401, {"detail": "Authentication credentials were not provided."})
        token = self._tokens.get(auth[7:].strip())
        if token is None:
            raise ApiError(401, {"detail": "Invalid token"})
        return token

    @staticmethod
    def _require(ctx: _Ctx, allowed: set[str]) -> None:
        if not (ctx.token.scopes & allowed):
            raise ApiError(403, FORBIDDEN)

    def _org(self, ctx: _Ctx, org: str) -> None:
        if org not in (self.world.org_slug, self.world.org_id):
            raise ApiError(404, NOT_FOUND)

    def _proj(self, ctx: _Ctx, org: str, project: str, scopes: set[str]) -> Project:
        self._org(ctx, org)
        p = self.world.project(project)
        if p is None:
            raise ApiError(404, NOT_FOUND)
        self._require(ctx, scopes)
        if p.idx in ctx.token.forbidden:
            raise ApiError(403, FORBIDDEN)
        return p

    def _accessible(self, ctx: _Ctx) -> list[Project]:
        return [p for p in self.world.projects if p.idx not in ctx.token.forbidden]

    def _project_ids_param(self, ctx: _Ctx) -> list[Project] | None:
        raw = ctx.params.get("project")
        if not raw:
            return None
        try:
            ids = [int(x) for x in raw]
        except ValueError as exc:
            raise ApiError(400, {"detail": "Invalid project parameter. Values must be numbers."}) from exc
        if -1 in ids:
            return self._accessible(ctx)
        out = []
        for pid in ids:
            p = self.world.project(str(pid))
            if p is None or p.idx in ctx.token.forbidden:
                raise ApiError(403, FORBIDDEN)
            out.append(p)
        return out

    def _date_window(self, ctx: _Ctx, default_period: int | None) -> tuple[int | None, int | None]:
        period, start, end = ctx.param("statsPeriod"), ctx.param("start"), ctx.param("end")
        now = now_us()
        if period:
            try:
                return now - parse_period(period), now
            except ValueError as exc:
                raise ApiError(400, {"detail": f"Invalid statsPeriod: {period}"}) from exc
        if start or end:
            if not (start and end):
                raise ApiError(400, {"detail": "start and end are both required"})
            vals = []
            for v in (start, end):
                try:
                    vals.append(parse_iso(v))
                except ValueError as exc:
                    raise ApiError(400, {"detail": f"{v} is not a valid ISO8601 date query"}) from exc
            return vals[0], vals[1]
        if default_period is not None:
            return now - default_period, now
        return None, None

    # ------------------------------------------------------------------ endpoints
    def h_orgs(self, ctx: _Ctx):
        self._require(ctx, ORG_READ | {"org:ci"})
        ctx.link(Cursor(0, 0, True, False), Cursor(0, 100, False, False))
        return 200, [serialize.organization(self.world)]

    def h_org(self, ctx: _Ctx, org: str):
        self._org(ctx, org)
        self._require(ctx, ORG_READ)
        return 200, serialize.organization(self.world)

    def _project_list(self, ctx: _Ctx, projects: list[Project]):
        q = (ctx.param("query") or "").strip()
        for term in q.split():
            key, sep, val = term.partition(":")
            if sep and key == "slug":
                projects = [p for p in projects if p.slug == val]
            elif sep and key == "id":
                projects = [p for p in projects if p.id == val]
            else:
                projects = [p for p in projects if term.lower() in p.slug or term.lower() in p.name.lower()]
        per_page = parse_per_page(ctx.params)
        start, stop, prev, nxt = offset_page(len(projects), parse_cursor(ctx.param("cursor")), per_page)
        ctx.link(prev, nxt)
        scopes = sorted(ctx.token.scopes)
        return 200, [
            serialize.project_summary(self.world, p, scopes, p.idx not in ctx.token.forbidden)
            for p in projects[start:stop]
        ]

    def h_projects(self, ctx: _Ctx, org: str):
        self._org(ctx, org)
        self._require(ctx, ORG_READ)
        return self._project_list(ctx, list(self.world.projects))

    def h_legacy_projects(self, ctx: _Ctx):
        self._require(ctx, PROJECT_READ | ORG_READ)
        return self._project_list(ctx, self._accessible(ctx))

    def h_project(self, ctx: _Ctx, org: str, project: str):
        p = self._proj(ctx, org, project, PROJECT_READ)
        return 200, serialize.project_detail(self.world, p, sorted(ctx.token.scopes), True)

    def h_events(self, ctx: _Ctx, org: str, project: str):
        p = self._proj(ctx, org, project, EVENT_READ)
        per_page = parse_per_page(ctx.params)
        cursor = parse_cursor(ctx.param("cursor"))
        start, end = self._date_window(ctx, None)
        floor = now_us() - RETENTION
        start = floor if start is None else max(start, floor)
        offset = cursor.offset if cursor else 0
        if self.event_offset_limit is not None and offset > self.event_offset_limit:
            raise ApiError(
                400, {"detail": f"Pagination offset too large: {offset} > {self.event_offset_limit}"}
            )
        full = bool(ctx.param("full"))
        sample = bool(ctx.param("sample"))
        items, total = self.world.events_slice(p, start, end, offset, per_page, sample=sample)
        _s, _e, prev, nxt = offset_page(total, cursor, per_page)
        ctx.link(prev, nxt)
        ser = serialize.event_full if full else serialize.event_simple
        return 200, [ser(self.world, ev) for ev in items]

    _SORTS = {
        "date": lambda i: i.last_seen[0] // 1000,
        "new": lambda i: i.first_seen[0] // 1000,
        "freq": lambda i: i.count,
        "user": lambda i: i.user_count,
        "priority": lambda i: i.last_seen[0] // 1000,
        "trends": lambda i: i.last_seen[0] // 1000,
        "inbox": lambda i: i.last_seen[0] // 1000,
        "recommended": lambda i: i.last_seen[0] // 1000,
    }

    def _issue_list(self, ctx: _Ctx, projects: list[Project], window: tuple[int | None, int | None]):
        query = ctx.param("query") if "query" in ctx.params else "is:unresolved"
        try:
            pred = search.parse(query, now_us())
        except search.SearchError as exc:
            raise ApiError(400, {"detail": str(exc)}) from exc
        sort = ctx.param("sort") or "date"
        if sort not in self._SORTS:
            raise ApiError(400, {"detail": f"Invalid sort: {sort}"})
        score = self._SORTS[sort]
        limit = parse_per_page(ctx.params, "limit", clamp=True)
        cursor = parse_cursor(ctx.param("cursor"))
        envs = set(ctx.params.get("environment", []))
        start, end = window
        idx = {p.idx for p in projects}
        items = []
        for iss in self.world.all_issues():
            if iss.project.idx not in idx or not iss.count:
                continue
            if envs and not envs & set(iss.envs):
                continue
            if start is not None and iss.last_seen[0] < start:
                continue
            if end is not None and iss.first_seen[0] >= end:
                continue
            if pred(iss):
                items.append(iss)
        items.sort(key=lambda i: (score(i), int(i.id)), reverse=True)
        neg = [-score(i) for i in items]
        lo, hi = score_window(neg, cursor, limit)
        if self.short_pages and (cursor is None or not cursor.is_prev) and hi < len(items):
            key = f"{ctx.path}|{ctx.param('cursor') or 'first'}|" + "&".join(
                f"{k}={v}" for k, v in sorted(ctx.pairs) if k != "cursor"
            )
            hv = _h(self.seed, "short", key)
            if hv % self.short_pages == 0:
                if (hv >> 8) % 3 == 0 and key not in self._served_empty:
                    self._served_empty.add(key)
                    hi = lo
                elif hi - lo > 1:
                    hi = lo + 1 + (hv >> 16) % (hi - lo - 1)
        prev, nxt = score_cursors(neg, lo, hi)
        ctx.link(prev, nxt)
        ctx.extra_headers["X-Hits"] = str(len(items))
        ctx.extra_headers["X-Max-Hits"] = str(MAX_HITS)
        return 200, [serialize.issue(self.world, i, org_endpoint=True) for i in items[lo:hi]]

    def h_org_issues(self, ctx: _Ctx, org: str):
        self._org(ctx, org)
        self._require(ctx, EVENT_READ)
        projects = self._project_ids_param(ctx) or self._accessible(ctx)
        return self._issue_list(ctx, projects, self._date_window(ctx, DEFAULT_ORG_ISSUES_PERIOD))

    def h_project_issues(self, ctx: _Ctx, org: str, project: str):
        p = self._proj(ctx, org, project, EVENT_READ)
        period = ctx.param("statsPeriod")
        if period not in (None, "", "24h", "14d"):
            raise ApiError(400, {"detail": "Invalid stats_period. Valid choices are '', '24h', and '14d'"})
        status, body = self._issue_list(ctx, [p], (None, None))
        for item in body:
            for k in (
                "filtered",
                "inbox",
                "integrationIssues",
                "isUnhandled",
                "issueCategory",
                "issueType",
                "latestEventHasAttachments",
                "lifetime",
                "owners",
                "platform",
                "pluginActions",
                "pluginIssues",
                "priority",
                "priorityLockedAt",
                "seerAutofixLastTriggered",
                "seerFixabilityScore",
                "sentryAppIssues",
                "sessionCount",
                "substatus",
            ):
                item.pop(k, None)
            item["project"].pop("platform", None)
        return status, body

    # releases ---------------------------------------------------------------
    def _sorted_releases(self) -> list[Release]:
        return sorted(self.world.releases, key=lambda r: (r.date_created[0], r.id), reverse=True)

    def _visible(self, ctx: _Ctx, rel: Release) -> bool:
        return any(k not in ctx.token.forbidden for k in rel.projects)

    def _release(self, ctx: _Ctx, org: str, version: str, scopes: set[str]) -> Release:
        self._org(ctx, org)
        self._require(ctx, scopes)
        rel = self.world.releases_by_version.get(version)
        if rel is None or not self._visible(ctx, rel):
            raise ApiError(404, NOT_FOUND)
        return rel

    def h_releases(self, ctx: _Ctx, org: str):
        self._org(ctx, org)
        self._require(ctx, RELEASE_READ)
        projects = self._project_ids_param(ctx)
        status = ctx.param("status") or "open"
        if status not in ("open", "archived"):
            raise ApiError(400, {"detail": "invalid status"})
        sort = ctx.param("sort") or "date"
        if sort not in (
            "date",
            "build",
            "semver",
            "adoption",
            "crash_free_users",
            "crash_free_sessions",
            "sessions",
            "users",
            "sessions_24h",
            "users_24h",
        ):
            raise ApiError(400, {"detail": "invalid sort"})
        query = (ctx.param("query") or "").lower()
        envs = set(ctx.params.get("environment", []))
        rels = [r for r in self._sorted_releases() if r.status == status and self._visible(ctx, r)]
        if projects is not None:
            want = {p.idx for p in projects}
            rels = [r for r in rels if want & set(r.projects)]
        if query:
            rels = [r for r in rels if query in r.version.lower()]
        if envs:
            rels = [r for r in rels if envs & {d.environment for d in r.deploys}]
        if sort in ("semver", "build"):
            rels.sort(key=lambda r: (_semver_key(r.version), r.date_created[0]), reverse=True)
        per_page = parse_per_page(ctx.params)
        start, stop, prev, nxt = offset_page(len(rels), parse_cursor(ctx.param("cursor")), per_page)
        ctx.link(prev, nxt)
        return 200, [serialize.release(self.world, r) for r in rels[start:stop]]

    def h_release(self, ctx: _Ctx, org: str, version: str):
        return 200, serialize.release(self.world, self._release(ctx, org, version, RELEASE_READ))

    def h_release_create(self, ctx: _Ctx, org: str):
        self._org(ctx, org)
        self._require(ctx, RELEASE_WRITE)
        data = ctx.json_body()
        errors: dict[str, list[str]] = {}
        version = data.get("version")
        if "version" not in data or version is None:
            errors["version"] = ["This field is required."]
        elif not isinstance(version, str):
            errors["version"] = ["Not a valid string."]
        else:
            problem = version_problem(version)
            if problem:
                errors["version"] = [problem]
        refs = data.get("projects")
        if "projects" not in data or refs is None:
            errors["projects"] = ["This field is required."]
        elif not isinstance(refs, list):
            errors["projects"] = [f'Expected a list of items but got type "{type(refs).__name__}".']
        if errors:
            raise ApiError(400, errors)
        projects = []
        for ref in refs:
            p = self.world.project(str(ref))
            if p is None or p.idx in ctx.token.forbidden:
                raise ApiError(400, {"projects": ["Invalid project ids or slugs"]})
            if p.idx not in projects:
                projects.append(p.idx)
        if not projects:
            raise ApiError(400, {"projects": ["Invalid project ids or slugs"]})
        released = _opt_date(data, "dateReleased")
        rel, changed = self.world.create_release(
            version, projects, ref=data.get("ref"), url=data.get("url"), date_released=released
        )
        return (201 if changed else 208), serialize.release(self.world, rel)

    def h_release_update(self, ctx: _Ctx, org: str, version: str):
        rel = self._release(ctx, org, version, RELEASE_WRITE)
        data = ctx.json_body()
        if "ref" in data:
            if data["ref"] is not None and (not isinstance(data["ref"], str) or len(data["ref"]) > 200):
                raise ApiError(400, {"ref": ["Ensure this field has no more than 200 characters."]})
            rel.ref = data["ref"]
        if "url" in data:
            rel.url = data["url"]
        if "dateReleased" in data:
            rel.date_released = _opt_date(data, "dateReleased")
        if "status" in data:
            if data["status"] not in ("open", "archived"):
                raise ApiError(400, {"status": [f"Invalid status {data['status']}"]})
            rel.status = data["status"]
        if "commits" in data and isinstance(data["commits"], list):
            rel.commit_count = len(data["commits"])
        return 200, serialize.release(self.world, rel)

    def h_deploys(self, ctx: _Ctx, org: str, version: str):
        rel = self._release(ctx, org, version, RELEASE_READ)
        deploys = self.world.latest_deploys(rel)
        per_page = parse_per_page(ctx.params)
        start, stop, prev, nxt = offset_page(len(deploys), parse_cursor(ctx.param("cursor")), per_page)
        ctx.link(prev, nxt)
        return 200, [serialize.deploy(d) for d in deploys[start:stop]]

    def h_deploy_create(self, ctx: _Ctx, org: str, version: str):
        rel = self._release(ctx, org, version, RELEASE_WRITE)
        data = ctx.json_body()
        errors: dict[str, list[str]] = {}
        env = data.get("environment")
        if env is None:
            errors["environment"] = ["This field is required."]
        elif not isinstance(env, str) or env.strip() == "":
            errors["environment"] = ["This field may not be blank."]
        elif len(env) > 64:
            errors["environment"] = ["Ensure this field has no more than 64 characters."]
        elif "/" in env or "\n" in env or "\r" in env or env in (".", ".."):
            errors["environment"] = ["Invalid value for environment"]
        name = data.get("name")
        if name is not None and (not isinstance(name, str) or len(name) > 64):
            errors["name"] = ["Ensure this field has no more than 64 characters."]
        url = data.get("url")
        if url is not None and (not isinstance(url, str) or not url.startswith(("http://", "https://"))):
            errors["url"] = ["Enter a valid URL."]
        if errors:
            raise ApiError(400, errors)
        started = _opt_date(data, "dateStarted")
        finished = _opt_date(data, "dateFinished") or (now_us(), 6)
        refs = data.get("projects")
        if refs is None:
            projects = list(rel.projects)
        else:
            if not isinstance(refs, list):
                raise ApiError(400, {"projects": ['Expected a list of items but got type "str".']})
            projects, bad = [], []
            for ref in refs:
                p = self.world.project(str(ref))
                if p is None or p.idx not in rel.projects:
                    bad.append(str(ref))
                elif p.idx not in projects:
                    projects.append(p.idx)
            if bad:
                raise ApiError(
                    400,
                    {
                        "detail": {
                            "code": "parameter-validation-error",
                            "message": f"Invalid projects for this release: {', '.join(bad)}",
                            "extra": None,
                        }
                    },
                )
        dep = self.world.create_deploy(rel, env, name, url, started, finished, projects)
        return 201, serialize.deploy(dep)

    # ------------------------------------------------------------------ control API
    def _control(self, h: _Handler, action: str, pairs, body: bytes) -> None:
        try:
            data = json.loads(body) if body else {}
            if not isinstance(data, dict):
                raise ValueError("body must be a JSON object")
            for k, v in pairs:
                data.setdefault(k, v)
            result = self._control_action(action, data)
            status = 200
        except KeyError as exc:
            status, result = 404, {"error": str(exc)}
        except (ValueError, TypeError) as exc:
            status, result = 400, {"error": str(exc)}
        self._send(h, status, result)

    def _control_action(self, action: str, d: dict):
        if action == "info":
            return self.info()
        if action == "ground_truth":
            return self.ground_truth(d["kind"], d.get("projects"), full=bool(d.get("full")))
        if action == "add_events":
            return self.add_events(
                d["project"], int(d.get("n", 1)), issue_id=d.get("issue_id"), late_by=d.get("late_by_seconds")
            )
        if action == "add_issues":
            return self.add_issues(d["project"], int(d.get("n", 1)))
        if action == "resolve_issue":
            return self.resolve_issue(d["issue_id"])
        if action == "set_issue_status":
            return self.set_issue_status(d["issue_id"], d["status"])
        if action == "add_release":
            return self.add_release(d["version"], d.get("projects"))
        if action == "faults":
            self.set_faults(d.get("spec"))
            return {"ok": True}
        if action == "clear_faults":
            self.clear_faults()
            return {"ok": True}
        if action == "make_token":
            return {
                "token": self.make_token(
                    d.get("scopes"), d.get("forbidden_projects", ()), d.get("kind", "user")
                )
            }
        if action == "requests":
            return self.requests
        if action == "reset_log":
            self.reset_log()
            return {"ok": True}
        raise KeyError(f"unknown control action {action!r}")


class _Closed(Exception):
    """The connection was closed without (a complete) response."""


_BAD_VERSION_CHARS = ("/", "\\", "\n", "\r", "\t", "\f")


def version_problem(version: str) -> str | None:
    """Sentry's release version rules; returns the 400 message or None."""
    if version.strip() == "":
        return "This field may not be blank."
    if len(version) > 200:
        return "Ensure this field has no more than 200 characters."
    if version in (".", "..") or version.lower() == "latest" or any(c in version for c in _BAD_VERSION_CHARS):
        return f"Release with name {version} is not allowed"
    return None


def _opt_date(data: dict, key: str):
    raw = data.get(key)
    if raw is None:
        return None
    try:
        us = parse_iso(str(raw))
    except ValueError as exc:
        raise ApiError(
            400,
            {
                key: [
                    "Datetime has wrong format. Use one of these formats instead: "
                    "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
                ]
            },
        ) from exc
    return (us, 6)


def _semver_key(version: str) -> tuple:
    raw = version.rpartition("@")[2].split("+", 1)[0].split("-", 1)[0]
    parts = []
    for x in raw.split("."):
        parts.append(int(x) if x.isdigit() else -1)
    return tuple(parts)


__all__ = ["ALL_SCOPES", "Emulator", "fmt", "version_problem"]
