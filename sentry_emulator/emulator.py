"""`Emulator`: the emulated organization, its server, and what tests do to both."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from . import aggregates, data, serialize, vcs
from .auth import ALL_SCOPES, Tokens
from .data import Issue, Project, World
from .faults import Faults
from .ratelimit import RateLimiter
from .resources import glitchtip, issue_updates
from .resources.releases import sorted_releases
from .server import Server
from .timeutil import US, now_us
from .webhooks import Webhooks, payloads
from .wire import RequestLog


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
        dialect: str = "sentry",
        page_latency_ms: float = 0.0,
        glitchtip_frontend: str = "absent",
        glitchtip_store_rate: float = 0.0,
    ) -> None:
        if dialect not in ("sentry", "glitchtip"):
            raise ValueError("dialect is 'sentry' or 'glitchtip'")
        if glitchtip_frontend not in ("absent", "built"):
            raise ValueError("glitchtip_frontend is 'absent' or 'built'")
        if glitchtip_store_rate < 0:
            raise ValueError("glitchtip_store_rate is 0 or more")
        self.dialect = dialect
        # GlitchTip's catch-all renders its frontend's index.html: a 500 where it is not built.
        self.glitchtip_frontend = glitchtip_frontend
        # GlitchTip stores events in a worker queue, so many a second; 0: stored at once.
        self.glitchtip_store_rate = glitchtip_store_rate
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
        if page_latency_ms < 0:
            raise ValueError("page_latency_ms is 0 or more")
        # Real servers take 0.2-2 s to build a page of full events: every page of a list (a GET
        # answered 200 with a JSON list) waits this long before it is sent.
        self.page_latency_ms = page_latency_ms
        self.tokens = Tokens(seed)
        self.token = self.make_token()
        self.log = RequestLog()
        self.served_empty: set[str] = set()  # issue pages already served empty once
        self.webhooks = Webhooks(self.world, seed)
        self._server: Server | None = None
        self.ca_cert: str | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Emulator:
        self._server = Server(self, self.host, self.port, self.tls)
        self.port = self._server.port
        self.ca_cert = self._server.ca_cert
        self.world.web_url = self.base_url
        self._server.serve_in_thread()
        self.webhooks.start()
        return self

    def stop(self) -> None:
        self.webhooks.stop()
        if self._server is not None:
            self._server.close()
            self._server = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ public API
    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

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
            "dialect": self.dialect,
        }

    def config(self, **overrides: Any) -> dict[str, Any]:
        """A connector config for this emulator; ``overrides`` add or replace fields."""
        return connector_config(self.info(), **overrides)

    def make_token(
        self,
        scopes: Iterable[str] | None = None,
        forbidden_projects: Iterable[str | int] = (),
        kind: str = "user",
    ) -> str:
        """A new token. ``kind="user"``: ``sntryu_`` + 64 hex, default scopes ALL_SCOPES;
        ``kind="org"``: ``sntrys_`` + base64(JSON url/region_url/org) + ``_`` + secret, default
        scopes ``["org:ci"]``. ``forbidden_projects`` (slugs or ids) answer 403 to this token."""
        if kind not in ("user", "org"):
            raise ValueError("kind is 'user' or 'org'")
        forbidden = set()
        for ref in forbidden_projects:
            p = self.world.project(str(ref))
            if p is None:
                raise ValueError(f"unknown project {ref!r}")
            forbidden.add(p.idx)
        return self.tokens.mint(scopes, forbidden, kind, base_url=self.base_url, org=self.organization)

    def _project_arg(self, ref: str | int) -> Project:
        p = self.world.project(str(ref))
        if p is None:
            raise KeyError(f"unknown project {ref!r}")
        return p

    def ground_truth(
        self, kind: str, projects: Iterable[str | int] | None = None, *, full: bool = False
    ) -> list[dict]:
        """What a complete, correct sync returns now. ``kind``: a stream name (events, issues,
        projects, project_detail, releases, deploys, release_commits, organization, teams, members,
        repositories, environments, project_keys, monitors, detectors, workflows, monitor_checkins,
        user_feedback, replays, sessions, usage_stats; replays: those started over an hour ago, as a
        sync reads them).
        ``projects``: slugs or ids (default all). ``full`` (events): the ``full=`` body instead of the list
        body. Records are in the emulator's dialect."""
        if self.dialect == "glitchtip" and kind not in glitchtip.HAS_KINDS:
            return []  # GlitchTip lacks the endpoint (its dialect answers 404)
        items = self._ground_truth(kind, projects, full=full)
        if self.dialect == "glitchtip":
            items = [glitchtip.shape(kind, item, self.world) for item in items]
        return items

    def _ground_truth(
        self, kind: str, projects: Iterable[str | int] | None = None, *, full: bool = False
    ) -> list[dict]:
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
            rels = [r for r in sorted_releases(w) if r.status == "open" and idx & set(r.projects)]
            if kind == "releases":
                return [serialize.release(w, r) for r in rels]
            if kind == "deploys":
                return [
                    serialize.deploy(d) | {"release": r.version} for r in rels for d in w.latest_deploys(r)
                ]
            if kind == "release_commits":
                return [
                    serialize.commit(c) | {"release": r.version} for r in rels for c in data.commits(w, r)
                ]
            if kind == "environments":
                return [
                    serialize.environment(w, p, name) | {"id": f"{p.id}:{data.environment_id(w, name)}"}
                    for p in chosen
                    for name in data.environments(p)
                ]
            if kind == "monitors":
                return [serialize.monitor(w, m) for m in data.monitors(w) if m["project"].idx in idx]
            if kind == "detectors":
                links = serialize.detector_workflow_ids(data.workflows(w))
                return [
                    serialize.detector(w, d, links.get(d["id"], []))
                    for d in data.detectors(w)
                    if d["project"].idx in idx
                ]
            if kind == "monitor_checkins":
                return [
                    serialize.checkin(w, m, c) | {"monitorId": m["id"], "monitorSlug": m["slug"]}
                    for m in data.monitors(w)
                    if m["project"].idx in idx
                    for c in data.checkins(w, m)
                ]
            if kind == "user_feedback":
                return [
                    serialize.user_feedback(w, f) | {"projectId": p.id, "projectSlug": p.slug}
                    for p in chosen
                    for f in data.feedback(w, p)
                ]
            if kind == "replays":
                return [
                    serialize.replay(r)
                    for p in chosen
                    for r in data.replays(w, p)
                    if r["started"] <= now_us() - data.REPLAY_MAX_US
                ]
            # The organization's own lists are not narrowed by projects.
            if kind == "organization":
                return [serialize.organization(w)]
            if kind == "teams":
                return [serialize.team(w, t) for t in data.teams(w)]
            if kind == "members":
                return [serialize.member(w, m) for m in data.members(w)]
            if kind == "repositories":
                return [serialize.repository(r) for r in data.repositories(w)]
            if kind == "project_keys":
                return [serialize.project_key(w, k) for k in data.project_keys(w)]
            if kind == "workflows":
                return [serialize.workflow(w, wf) for wf in data.workflows(w)]
            # One row per day and group, as the connector flattens Sentry's aggregates.
            days = sorted(set(aggregates.days(w)) | aggregates.late_days(w))
            if kind == "sessions":
                return [
                    serialize.session_row(r)
                    for p in chosen
                    for d in days
                    for r in aggregates.sessions(w, p, d)
                ]
            if kind == "usage_stats":
                return [
                    serialize.outcome_row(r)
                    for p in chosen
                    for d in days
                    for r in aggregates.outcomes(w, p, d)
                ]
        raise ValueError(f"unknown ground truth kind {kind!r}")

    def add_events(
        self,
        project_slug: str,
        n: int,
        *,
        issue_id: str | None = None,
        late_by: timedelta | float | None = None,
        ahead_by: timedelta | float | None = None,
        visible_after: timedelta | float | None = None,
    ) -> list[dict]:
        """``n`` new events (full form), received now. ``issue_id=None`` makes one new issue for
        them; otherwise they join that issue (moving its lastSeen if newer; a resolved issue
        regresses). ``late_by`` backdates dateCreated (an offline client); ``ahead_by`` dates it
        in the future (a client clock ahead; Sentry keeps up to a minute of that); with
        ``visible_after`` no list shows them until that long after they were received (Sentry's
        processing delay; `release_pending` ends it early). Durations: timedeltas or seconds."""
        p = self._project_arg(project_slug)
        issue = None
        if issue_id is not None:
            issue = self.world.issues_by_id.get(str(issue_id))
            if issue is None or issue.project is not p:
                raise KeyError(f"issue {issue_id!r} not in project {project_slug!r}")
        rate = self.glitchtip_store_rate if self.dialect == "glitchtip" else 0.0
        with self.world.lock:
            evs = self.world.add_events(
                p,
                n,
                issue=issue,
                late_by_us=_us(late_by),
                ahead_by_us=_us(ahead_by),
                visible_after_us=_us(visible_after),
                store_every_us=int(US / rate) if rate else None,
            )
            return [serialize.event_full(self.world, ev) for ev in evs]

    def add_checkin(self, monitor_slug: str, status: str = "ok") -> dict:
        """A check-in of that monitor, received now."""
        with self.world.lock:
            m = next((m for m in data.monitors(self.world) if m["slug"] == monitor_slug), None)
            if m is None:
                raise KeyError(f"unknown monitor {monitor_slug!r}")
            return serialize.checkin(self.world, m, data.add_checkin(self.world, m, status))

    def add_user_feedback(self, issue_id: str, comments: str) -> dict:
        """A user report on that issue, received now."""
        with self.world.lock:
            return serialize.user_feedback(
                self.world, data.add_feedback(self.world, self._issue(issue_id), comments)
            )

    def add_replay(self, project_slug: str, started_ago: timedelta | float) -> dict:
        """A replay of that project that started ``started_ago`` (a timedelta or seconds) before
        now, ingested and listed at once."""
        with self.world.lock:
            p = self._project_arg(project_slug)
            return serialize.replay(data.add_replay(self.world, p, _us(started_ago) or 0))

    def release_pending(self) -> int:
        """Make every event still in its processing delay visible now; returns how many."""
        return self.world.release_pending()

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

    def set_issue_status(self, issue_id: str, status: str, *, automatic: bool = False) -> dict:
        """Change status; like Sentry this does not move lastSeen. A change sends the issue
        webhook as a member's change in Sentry's UI does (``automatic``: as Sentry's own, such
        as an auto-resolve, does)."""
        if status not in ("resolved", "unresolved", "ignored"):
            raise ValueError(f"bad status {status!r}")
        actor = payloads.SENTRY_ACTOR if automatic else payloads.user_actor(self.world)
        with self.world.lock:
            issue_updates.set_status(self, self._issue(issue_id), status, actor)
        return self.issue(issue_id)

    def resolve_issue(self, issue_id: str) -> dict:
        return self.set_issue_status(issue_id, "resolved")

    def add_release(self, version: str, projects: Iterable[str | int] | None = None) -> dict:
        idx = [self._project_arg(r).idx for r in (projects or [self.world.projects[0].slug])]
        with self.world.lock:
            rel, _ = self.world.create_release(version, idx)
            return serialize.release(self.world, rel)

    def add_repository(
        self, name: str, *, url: str | None = None, provider: str | None = "github", path: str | None = None
    ) -> dict:
        """A repository connected through an integration (``provider``, e.g. ``github``), listed
        by ``repos/``; ``path``: a local git repository whose history answers ``refs``."""
        return serialize.repository(
            vcs.add_repository(self.world, name, url=url, provider=provider, path=path)
        )

    def add_sessions(
        self,
        project_slug: str,
        n: int,
        *,
        days_ago: int = 0,
        crashed: int = 0,
        users: int | None = None,
        release: str | None = None,
        environment: str | None = None,
    ) -> None:
        """``n`` sessions that reached Sentry now but started ``days_ago`` UTC days ago (``crashed``
        of them crashed; ``users`` distinct users, default ``n``). Sentry counts a session on the
        day it started and drops one started more than five days before it arrives. Default
        release and environment: the project's newest release with sessions that day, its first
        environment."""
        if not 0 <= days_ago <= aggregates.SESSION_MAX_AGE_DAYS:
            raise ValueError(f"Sentry drops sessions older than {aggregates.SESSION_MAX_AGE_DAYS} days")
        p = self._project_arg(project_slug)
        day = aggregates.day_start(now_us()) - days_ago * data.DAY
        with self.world.lock:
            if release is None:
                releases = aggregates.session_releases(self.world, p, day)
                if not releases:
                    raise ValueError(f"project {project_slug!r} has no release on that day")
                release = releases[0]
            env = environment or data.environments(p)[0]
            aggregates.add_sessions(
                self.world, p, day, release, env, n, crashed, n if users is None else users
            )

    def add_outcomes(
        self,
        project_slug: str,
        quantity: int,
        *,
        category: str = "error",
        outcome: str = "accepted",
        days_ago: int = 0,
        times_seen: int | None = None,
    ) -> None:
        """Usage Sentry recorded late for ``days_ago`` (0 or 1: an outcome is dated when Sentry
        decides it, so only today's and, just after midnight, yesterday's totals still move)."""
        if days_ago not in (0, 1):
            raise ValueError("outcomes are dated when Sentry records them: days_ago is 0 or 1")
        p = self._project_arg(project_slug)
        day = aggregates.day_start(now_us()) - days_ago * data.DAY
        seen = quantity if times_seen is None else times_seen
        with self.world.lock:
            aggregates.add_outcomes(self.world, p, day, category, outcome, quantity, seen)

    def set_faults(self, spec: str | None) -> None:
        self.faults.set(spec)

    def clear_faults(self) -> None:
        self.faults.clear()

    @property
    def requests(self) -> list[dict]:
        return self.log.entries()

    def reset_log(self) -> None:
        self.log.clear()


def connector_config(info: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """The connector config for an emulator described by its start-up JSON (``info``).

    The emulator makes an event visible the moment it is added unless told otherwise
    (``visible_after``), so no settling time is needed; a test of processing delays sets one.
    An emulator speaking GlitchTip's dialect is configured as the GlitchTip server it is."""
    dialect = {"server": info["dialect"]} if info.get("dialect", "sentry") != "sentry" else {}
    return {
        "auth_token": info["token"],
        "organization": info["organization"],
        "hostname": info["base_url"],
        "settle_seconds": 0,
        **dialect,
        **overrides,
    }


def _us(duration: timedelta | float | None) -> int | None:
    """A duration given as a timedelta or seconds, in microseconds (None stays None)."""
    if duration is None:
        return None
    return int((duration.total_seconds() if isinstance(duration, timedelta) else float(duration)) * US)
