"""Deterministic, lazily computed data for one emulated Sentry organization.

Nothing proportional to the number of events is kept in memory. For every project the
generated events are a pure function of ``(seed, project, index)``:

* event ``i`` has time ``t(i)``, non-decreasing in ``i`` (index 0 is the oldest), so a
  ``[start, end)`` window is an index range found by binary search;
* issues are laid out over *segments* of the index range: issue ``j`` is born in segment
  ``j``, lives for some segments, and inside a segment the live issues share the local
  indices by the number of trailing one bits of the local index (rank ``r`` owns
  ``x = 2**r - 1 (mod 2**(r+1))``, the last rank owns the rest). Counts, first and last
  index of every issue are therefore closed-form sums over its segments.

Only mutations (added and late events, new issues, status changes, releases and deploys)
are stored.
"""

from __future__ import annotations

import bisect
import hashlib
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .timeutil import US, now_us, quantize

DAY = 86_400 * US
MAX_ACTIVE = 6  # issues sharing one segment
DIGITS = (0, 3, 6)
# Sentry's ingestion keeps an event's own timestamp up to a minute ahead of its arrival; a
# timestamp further ahead is replaced by the arrival time.
MAX_FUTURE_US = 60 * US
ENVIRONMENTS = ("production", "staging", "development")
PLATFORMS = ("python", "javascript", "node", "java", "go", "ruby", "php", "csharp")
PROJECT_WORDS = (
    "backend",
    "frontend",
    "payments",
    "mobile-app",
    "worker",
    "api-gateway",
    "ingest",
    "billing",
    "search",
    "notifications",
    "checkout",
    "auth-service",
    "scheduler",
    "reports",
)
TEAMS = (("2", "Powerful Abolitionist", "powerful-abolitionist"), ("3", "Platform Crew", "platform-crew"))
EXCEPTIONS = (
    ("ValueError", "invalid literal for int() with base 10: '{n}'"),
    ("KeyError", "'user_{n}'"),
    ("TypeError", "'NoneType' object is not subscriptable"),
    ("ZeroDivisionError", "division by zero"),
    ("ConnectionError", "HTTPSConnectionPool(host='svc-{n}.internal', port=443): Max retries exceeded"),
    ("TimeoutError", "operation timed out after {n} ms"),
    ("PermissionError", "[Errno 13] Permission denied: '/var/data/{n}.json'"),
    ("ForbiddenError", "GET /organizations/acme/users/ 403"),
    ("RuntimeError", "dictionary changed size during iteration"),
    ("IndexError", "list index out of range"),
)
MODULES = (
    "app.views",
    "app.models",
    "app.tasks",
    "billing.charge",
    "api.handlers",
    "core.cache",
    "sync.worker",
)
FUNCTIONS = ("handle_request", "process", "charge_card", "load_user", "run", "dispatch", "fetch_page")
BROWSERS = ("Chrome 124.0", "Firefox 125.0", "Safari 17.4", "Edge 124.0")
OSES = ("Mac OS X 14.4", "Windows 10", "Ubuntu 22.04", "iOS 17.4", "Android 14")


def _h(*parts: object) -> int:
    """64-bit deterministic hash of the parts."""
    return int.from_bytes(hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest(), "big")


def _hex32(*parts: object) -> str:
    return hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=16).hexdigest()


def _trailing_ones(x: int) -> int:
    return ((x ^ (x + 1)).bit_length()) - 1


def _prog(rank: int, k: int) -> tuple[int, int]:
    """(first local index, period) of rank ``rank`` among ``k`` issues sharing a segment."""
    if rank < k - 1:
        return (1 << rank) - 1, 1 << (rank + 1)
    return (1 << rank) - 1, 1 << rank


def _prog_count(c: int, period: int, length: int) -> int:
    return 0 if length <= c else (length - 1 - c) // period + 1


def _split(total: int, n: int, seed: int, salt: str) -> list[int]:
    """Split ``total`` into ``n`` deterministic, unequal, non-negative parts."""
    if n <= 0:
        return []
    weights = [50 + _h(seed, salt, k) % 100 for k in range(n)]
    wsum = sum(weights)
    parts = [total * w // wsum for w in weights]
    for k in range(total - sum(parts)):
        parts[k % n] += 1
    return parts


def _earliest(a: tuple[int, int] | None, b: tuple[int, int] | None) -> tuple[int, int]:
    if a is None or b is None:
        return _one_of(a, b)
    return min(a, b)


def _latest(a: tuple[int, int] | None, b: tuple[int, int] | None) -> tuple[int, int]:
    if a is None or b is None:
        return _one_of(a, b)
    return max(a, b)


def _one_of(a: tuple[int, int] | None, b: tuple[int, int] | None) -> tuple[int, int]:
    found = a if a is not None else b
    if found is None:
        raise ValueError("an issue with no event has no first or last seen")
    return found


@dataclass(eq=False)
class Issue:
    gid: int
    id: str
    project: Project
    local: int
    short_id: str
    exc_type: str
    exc_value: str
    module: str
    function: str
    lineno: int
    level: str
    users: int
    envs: tuple[str, ...]
    weight: int
    life: int
    priority: str
    unhandled: bool
    status: str = "unresolved"
    substatus: str | None = "ongoing"
    gen_count: int = 0
    gen_first: tuple[int, int] | None = None  # (us, digits)
    gen_last: tuple[int, int] | None = None
    added_count: int = 0
    added_first: tuple[int, int] | None = None
    added_last: tuple[int, int] | None = None
    assignee: dict | None = None  # the API's assignedTo
    notes: list[dict] = field(default_factory=list)  # comments, oldest first
    notes_made: int = 0

    @property
    def title(self) -> str:
        return f"{self.exc_type}: {self.exc_value}"

    @property
    def culprit(self) -> str:
        return f"{self.module} in {self.function}"

    @property
    def count(self) -> int:
        return self.gen_count + self.added_count

    @property
    def user_count(self) -> int:
        return min(self.count, self.users)

    # Both read for every issue on every page of an issue list (filter and sort): no list built.
    @property
    def first_seen(self) -> tuple[int, int]:
        return _earliest(self.gen_first, self.added_first)

    @property
    def last_seen(self) -> tuple[int, int]:
        return _latest(self.gen_last, self.added_last)


@dataclass(eq=False)
class Project:
    idx: int
    id: str
    slug: str
    name: str
    platform: str
    team: tuple[str, str, str]
    date_created: int
    n_events: int
    start: int
    span: int
    jit: int
    bounds: list[int] = field(default_factory=list)  # segment starts, len m+1
    active: list[tuple[int, ...]] = field(default_factory=list)  # ranked local issue numbers
    cum: list[tuple[int, ...]] = field(default_factory=list)  # occurrences before segment
    issues: list[Issue] = field(default_factory=list)  # generated issues (local index)
    added_keys: list[tuple[int, int]] = field(default_factory=list)  # sorted (t, seq)
    added: dict[int, dict] = field(default_factory=dict)  # seq -> event record
    releases: list[tuple[int, int]] = field(default_factory=list)  # sorted (dateCreated, release id)


@dataclass(eq=False)
class Deploy:
    id: str
    release: Release
    environment: str
    name: str | None
    url: str | None
    date_started: tuple[int, int] | None
    date_finished: tuple[int, int]
    projects: tuple[int, ...]


@dataclass(eq=False)
class Release:
    id: int
    version: str
    projects: list[int]
    date_created: tuple[int, int]
    date_released: tuple[int, int] | None = None
    ref: str | None = None
    url: str | None = None
    status: str = "open"
    commit_count: int = 0
    deploys: list[Deploy] = field(default_factory=list)
    commit_list: list[dict] | None = None  # set through the API (vcs.py); else generated
    head_commits: dict[str, str] = field(default_factory=dict)  # repository name -> sha


class World:
    """All data of the emulated organization; thread-safe through ``self.lock``."""

    def __init__(
        self,
        *,
        seed: int = 0,
        org: str = "acme",
        projects: int = 3,
        events: int = 500,
        issues: int = 40,
        releases: int = 30,
        span_days: float = 30.0,
        anchor_us: int | None = None,
    ) -> None:
        self.lock = threading.RLock()
        self.seed = seed
        self.org_slug = org
        self.org_id = str(1 + _h(seed, "org") % 9000)
        self.org_name = org.replace("-", " ").title()
        self.web_url = "http://127.0.0.1"
        # Told of each event made visible: (event, its issue's first, it regressed its issue).
        self.on_ingest: Callable[[dict, bool, bool], None] | None = None
        self.anchor = quantize(anchor_us if anchor_us is not None else now_us(), 0)
        self.span = max(int(span_days * DAY), US)
        self.org_created = self.anchor - self.span - 400 * DAY
        self.projects: list[Project] = []
        self.issues_by_id: dict[str, Issue] = {}
        self.releases: list[Release] = []
        self.releases_by_version: dict[str, Release] = {}
        self._next_gid = 0
        self._next_seq = 0
        # Added events still in Sentry's processing pipeline: (visible at, seq, event, new issue).
        self._pending: list[tuple[int, int, dict, bool]] = []
        # When a server that stores events one after another (GlitchTip's worker) is next free.
        self._stored_until = 0
        self._next_release_id = 1000 + _h(seed, "rid") % 1000
        self._next_deploy_id = 50_000 + _h(seed, "did") % 10_000
        self._after_cache: dict[tuple[int, int], int] = {}
        # Check-ins, user feedback and replays received after start-up (see data.add_*).
        self.added_checkins: list[dict] = []
        self.added_feedback: list[dict] = []
        self.added_replays: list[dict] = []
        self.added_repositories: list[dict] = []  # vcs.add_repository, or named by commits
        self._build_projects(projects, events, issues)
        self._build_releases(releases)

    # ------------------------------------------------------------------ generation
    def _build_projects(self, n_projects: int, n_events: int, n_issues: int) -> None:
        ev_split = _split(n_events, n_projects, self.seed, "events")
        is_split = _split(n_issues, n_projects, self.seed, "issues")
        used: set[str] = set()
        for k in range(n_projects):
            word = PROJECT_WORDS[(_h(self.seed, "slug", k) + k) % len(PROJECT_WORDS)]
            slug = word
            n = 2
            while slug in used:
                slug = f"{word}-{n}"
                n += 1
            used.add(slug)
            n_ev = ev_split[k]
            span = self.span
            step = span // n_ev if n_ev else span
            p = Project(
                idx=k,
                id=str(4_505_278_000 + k * 17 + _h(self.seed, "pid", k) % 7),
                slug=slug,
                name=slug.replace("-", " ").title(),
                platform=PLATFORMS[_h(self.seed, "plat", k) % len(PLATFORMS)],
                team=TEAMS[k % len(TEAMS)],
                date_created=quantize(self.org_created + (k + 1) * DAY + _h(self.seed, "pc", k) % DAY, 6),
                n_events=n_ev,
                start=self.anchor - span,
                span=span,
                jit=max(1, step // 2),
            )
            self.projects.append(p)
            self._layout_issues(p, min(is_split[k], n_ev) if n_ev else 0)

    def _new_issue(self, p: Project, local: int, *, register: bool = True) -> Issue:
        gid = self._next_gid
        self._next_gid += 1
        hv = _h(self.seed, "issue", p.idx, local, gid)
        exc_type, value = EXCEPTIONS[hv % len(EXCEPTIONS)]
        short = p.slug.upper() + "-" + _base36(gid + 1)
        users = 0 if hv % 7 == 0 else 1 + (hv >> 8) % 40
        n_env = 1 + (hv >> 16) % 3
        issue = Issue(
            gid=gid,
            id=str(5_000_000_000 + gid * 3 + (hv >> 20) % 3),
            project=p,
            local=local,
            short_id=short,
            exc_type=exc_type,
            exc_value=value.format(n=(hv >> 24) % 10_000),
            module=MODULES[(hv >> 28) % len(MODULES)],
            function=FUNCTIONS[(hv >> 32) % len(FUNCTIONS)],
            lineno=10 + (hv >> 36) % 400,
            level=("error", "error", "error", "fatal", "warning")[(hv >> 40) % 5],
            users=users,
            envs=ENVIRONMENTS[:n_env],
            weight=(hv >> 44) % 1000,
            life=1,
            priority=("high", "medium", "low")[(hv >> 50) % 3],
            unhandled=(hv >> 52) % 3 == 0,
        )
        r = (hv >> 54) % 10
        if r < 2:
            issue.status, issue.substatus = "resolved", None
        elif r == 2:
            issue.status, issue.substatus = "ignored", "archived_until_escalating"
        if register:
            self.issues_by_id[issue.id] = issue
        return issue

    def _layout_issues(self, p: Project, m: int) -> None:
        n = p.n_events
        if m == 0:
            return
        p.issues = [self._new_issue(p, j) for j in range(m)]
        for j, iss in enumerate(p.issues):
            hv = _h(self.seed, "life", p.idx, j)
            iss.life = m - j if hv % 4 == 0 else 1 + (hv >> 8) % max(1, m // 3)
        p.bounds = [(s * n) // m for s in range(m + 1)]
        alive: list[tuple[int, int]] = []  # sorted (-weight, j)
        ends: dict[int, list[int]] = {}
        running = [0] * m
        for s in range(m):
            for j in ends.pop(s, []):
                key = (-p.issues[j].weight, j)
                alive.pop(bisect.bisect_left(alive, key))
            ranked = [s] + [j for _, j in alive[: MAX_ACTIVE - 1]]
            bisect.insort(alive, (-p.issues[s].weight, s))
            ends.setdefault(s + p.issues[s].life, []).append(s)
            k = len(ranked)
            length = p.bounds[s + 1] - p.bounds[s]
            cum = []
            for r, j in enumerate(ranked):
                cum.append(running[j])
                c, per = _prog(r, k)
                cnt = _prog_count(c, per, length)
                if cnt:
                    running[j] += cnt
                    iss = p.issues[j]
                    first_i = p.bounds[s] + c
                    last_i = first_i + per * (cnt - 1)
                    if iss.gen_first is None:
                        iss.gen_first = self.event_time(p, first_i)
                    iss.gen_last = self.event_time(p, last_i)
            p.active.append(tuple(ranked))
            p.cum.append(tuple(cum))
        for j, iss in enumerate(p.issues):
            iss.gen_count = running[j]

    def _build_releases(self, n: int) -> None:
        if not self.projects:
            return
        np_ = len(self.projects)
        for r in range(n):
            hv = _h(self.seed, "release", r)
            t = (
                self.anchor
                - self.span
                + (r + 1) * self.span // (n + 1)
                + hv % (self.span // (4 * (n + 1)) + 1)
            )
            digits = 6 if hv % 4 else 3
            projs = [r % np_]
            if np_ > 1 and (hv >> 8) % 3 == 0:
                projs.append((r * 7 + 3) % np_ if (r * 7 + 3) % np_ != r % np_ else (r + 1) % np_)
            major, minor, patch = 1 + r // 20, (r // 5) % 4, r % 5
            pkg = self.projects[projs[0]].slug
            kind = r % 4
            if kind == 0:
                version = f"{pkg}@{major}.{minor}.{patch}"
            elif kind == 1:
                version = _hex32(self.seed, "sha", r) + _hex32(self.seed, "sha2", r)[:8]
            elif kind == 2:
                version = f"{major}.{minor}.{patch}+build.{r}"
            else:
                version = f"{pkg}@{major}.{minor}.{patch}-rc.1#{hv % 97}"
            rel = self._insert_release(version, projs, (quantize(t, digits), digits))
            rel.ref = _hex32(self.seed, "ref", r) + "abcdef01" if hv % 3 else None
            rel.commit_count = (hv >> 12) % 12
            if r < n - max(1, n // 5):  # the newest fifth stays unfinalized
                released = quantize(t + (5 + (hv >> 16) % 120) * 60 * US, 6)
                rel.date_released = (released, 6)
                for d in range((hv >> 24) % 3 + 1):
                    env = ("staging", "production", "production")[d]
                    fin = released + d * 20 * 60 * US + (hv >> 28) % (60 * US)
                    started = (fin - 3 * 60 * US, 6) if d % 2 == 0 else None
                    self._insert_deploy(rel, env, None, None, started, (fin, 6), tuple(projs))

    # ------------------------------------------------------------------ events
    def _base(self, p: Project, i: int) -> tuple[int, int]:
        hv = _h(self.seed, "e", p.idx, i)
        return p.start + (i * p.span) // p.n_events + hv % p.jit, hv

    def event_time(self, p: Project, i: int) -> tuple[int, int]:
        """(microseconds, digits) of generated event ``i``; non-decreasing in ``i``."""
        g, hv = self._base(p, i)
        digits = DIGITS[(hv >> 32) % 3]
        cand = quantize(g, digits)
        if i > 0 and cand < self._base(p, i - 1)[0]:
            return g, 6
        return cand, digits

    def first_index_at_or_after(self, p: Project, t: int) -> int:
        lo, hi = 0, p.n_events
        while lo < hi:
            mid = (lo + hi) // 2
            if self.event_time(p, mid)[0] < t:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def first_index_after(self, p: Project, t: int) -> int:
        # Every events page ranks each added event in its window against the generated ones:
        # remember the answers (generated events never change) so that a page costs one lookup
        # per added event rather than a binary search of hashes.
        key = (p.idx, t)
        found = self._after_cache.get(key)
        if found is None:
            found = self._first_index_after(p, t)
            if len(self._after_cache) > 1_000_000:
                self._after_cache.clear()
            self._after_cache[key] = found
        return found

    def _first_index_after(self, p: Project, t: int) -> int:
        lo, hi = 0, p.n_events
        while lo < hi:
            mid = (lo + hi) // 2
            if self.event_time(p, mid)[0] <= t:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def generated_event(self, p: Project, i: int) -> dict:
        t, digits = self.event_time(p, i)
        s = bisect.bisect_right(p.bounds, i) - 1
        x = i - p.bounds[s]
        ranked = p.active[s]
        r = min(_trailing_ones(x), len(ranked) - 1)
        c, per = _prog(r, len(ranked))
        issue = p.issues[ranked[r]]
        k = p.cum[s][r] + (x - c) // per
        hv = _h(self.seed, "ev", p.idx, i)
        return {
            "id": _hex32(self.seed, "eid", p.idx, i),
            "project": p,
            "issue": issue,
            "t": t,
            "digits": digits,
            "received": t + 20_000 + hv % 900_000,
            "k": k,
            "hv": hv,
        }

    def window(self, p: Project, start: int | None, end: int | None) -> tuple[int, int, list[dict]]:
        """Generated index range [lo, hi) and added events (newest first) in [start, end)."""
        self.release_due()
        lo = 0 if start is None else self.first_index_at_or_after(p, start)
        hi = p.n_events if end is None else self.first_index_at_or_after(p, end)
        hi = max(lo, hi)
        a_lo = 0 if start is None else bisect.bisect_left(p.added_keys, (start, -1))
        a_hi = len(p.added_keys) if end is None else bisect.bisect_left(p.added_keys, (end, -1))
        added = [p.added[seq] for _, seq in reversed(p.added_keys[a_lo:a_hi])]
        return lo, hi, added

    def events_slice(
        self, p: Project, start: int | None, end: int | None, offset: int, limit: int, sample: bool = False
    ) -> tuple[list[dict], int]:
        """Events newest first (or deterministic pseudo-random order) in the window."""
        lo, hi, added = self.window(p, start, end)
        n_gen = hi - lo
        total = n_gen + len(added)
        # merged rank of each added event: added events win ties (they were ingested later)
        ranks = []
        for pos, ev in enumerate(added):
            newer_gen = hi - max(lo, self.first_index_after(p, ev["t"]))
            ranks.append(pos + newer_gen)

        def at(rank: int) -> dict:
            j = bisect.bisect_left(ranks, rank)
            if j < len(ranks) and ranks[j] == rank:
                return added[j]
            return self.generated_event(p, hi - 1 - (rank - j))

        if sample and total:
            a = 1_000_003 if total % 1_000_003 else 999_983
            b = _h(self.seed, "sample", p.idx) % total
            order = [(a * k + b) % total for k in range(offset, min(total, offset + limit))]
        else:
            order = list(range(offset, min(total, offset + limit)))
        return [at(r) for r in order], total

    def all_events(self, p: Project) -> list[dict]:
        items, _ = self.events_slice(p, None, None, 0, p.n_events + len(p.added_keys))
        return items

    def release_for(self, p: Project, t: int) -> str | None:
        j = bisect.bisect_right(p.releases, (t, 1 << 62)) - 1
        if j < 0:
            return None
        rid = p.releases[j][1]
        for rel in self.releases:
            if rel.id == rid:
                return rel.version
        return None

    # ------------------------------------------------------------------ mutations
    def add_events(
        self,
        p: Project,
        n: int,
        *,
        issue: Issue | None = None,
        late_by_us: int | None = None,
        ahead_by_us: int | None = None,
        visible_after_us: int | None = None,
        store_every_us: int | None = None,
    ) -> list[dict]:
        """``n`` events received now. ``late_by_us`` dates them in the past (an offline client),
        ``ahead_by_us`` in the future (a client clock ahead: kept up to MAX_FUTURE_US, beyond
        that dated when received, as Sentry's ingestion does). ``visible_after_us`` keeps them
        out of every list (and a new issue of theirs out of the issue lists) until that long
        after they were received, as Sentry's processing pipeline does. ``store_every_us``: the
        server stores events one at a time, this long each, after those still queued (GlitchTip's
        asynchronous storage): a burst becomes visible over time, in the order received."""
        with self.lock:
            new_issue = issue is None
            if issue is None:
                issue = self._new_issue(p, -1, register=not (visible_after_us or store_every_us))
                issue.status, issue.substatus = "unresolved", "new"
            out = []
            for _ in range(n):
                now = now_us()
                t_raw = now
                if late_by_us:
                    t_raw = now - late_by_us
                elif ahead_by_us and ahead_by_us <= MAX_FUTURE_US:
                    t_raw = now + ahead_by_us
                digits = DIGITS[self._next_seq % 3]
                t = quantize(t_raw, digits)
                seq = self._next_seq
                self._next_seq += 1
                ev = {
                    "id": _hex32(self.seed, "added", seq),
                    "seq": seq,
                    "project": p,
                    "issue": issue,
                    "t": t,
                    "digits": digits,
                    "received": now + 1,
                    "k": issue.count,
                    "hv": _h(self.seed, "added-ev", seq),
                }
                due = now + visible_after_us if visible_after_us else 0
                if store_every_us:
                    self._stored_until = max(self._stored_until, now) + store_every_us
                    due = max(due, self._stored_until)
                if due:
                    self._pending.append((due, seq, ev, new_issue))
                    self._pending.sort(key=lambda item: (item[0], item[1]))
                else:
                    self._ingest(ev)
                out.append(ev)
            return out

    def _ingest(self, ev: dict) -> None:
        """Make an added event visible: in its project's event lists and its issue's stats."""
        p, issue, t, digits = ev["project"], ev["issue"], ev["t"], ev["digits"]
        first, regressed = issue.count == 0, issue.status == "resolved"
        self.issues_by_id.setdefault(issue.id, issue)
        p.added[ev["seq"]] = ev
        bisect.insort(p.added_keys, (t, ev["seq"]))
        ev["k"] = issue.count
        issue.added_count += 1
        stamp = (t, digits)
        if issue.added_first is None or stamp < issue.added_first:
            issue.added_first = stamp
        if issue.added_last is None or stamp > issue.added_last:
            issue.added_last = stamp
        if regressed:  # a new event on a resolved issue is a regression
            issue.status, issue.substatus = "unresolved", "regressed"
        if self.on_ingest is not None:
            self.on_ingest(ev, first, regressed)

    def release_due(self) -> None:
        """Make visible every pending event whose processing delay is over."""
        if not self._pending:
            return
        with self.lock:
            now = now_us()
            while self._pending and self._pending[0][0] <= now:
                _, _, ev, _ = self._pending.pop(0)
                self._ingest(ev)

    def release_pending(self) -> int:
        """End the processing delay of every pending event now; returns how many became visible."""
        with self.lock:
            released = len(self._pending)
            for _, _, ev, _ in self._pending:
                self._ingest(ev)
            self._pending.clear()
            return released

    @property
    def pending_events(self) -> list[dict]:
        with self.lock:
            return [ev for _, _, ev, _ in self._pending]

    def set_status(self, issue: Issue, status: str) -> None:
        if status not in ("resolved", "unresolved", "ignored"):
            raise ValueError(f"bad status {status!r}")
        with self.lock:
            issue.status = status
            issue.substatus = {"resolved": None, "unresolved": "ongoing", "ignored": "archived_forever"}[
                status
            ]

    def _insert_release(self, version: str, projects: list[int], created: tuple[int, int]) -> Release:
        rel = Release(
            id=self._next_release_id, version=version, projects=list(projects), date_created=created
        )
        self._next_release_id += 1 + _h(self.seed, "rstep", rel.id) % 3
        self.releases.append(rel)
        self.releases_by_version[version] = rel
        for k in projects:
            bisect.insort(self.projects[k].releases, (created[0], rel.id))
        return rel

    def create_release(
        self,
        version: str,
        projects: list[int],
        *,
        ref: str | None = None,
        url: str | None = None,
        date_released: tuple[int, int] | None = None,
    ) -> tuple[Release, bool]:
        """Returns (release, created_or_linked)."""
        with self.lock:
            rel = self.releases_by_version.get(version)
            if rel is None:
                rel = self._insert_release(version, projects, (now_us(), 6))
                rel.ref, rel.url, rel.date_released = ref, url, date_released
                return rel, True
            linked = False
            for k in projects:
                if k not in rel.projects:
                    rel.projects.append(k)
                    bisect.insort(self.projects[k].releases, (rel.date_created[0], rel.id))
                    linked = True
            return rel, linked

    def _insert_deploy(
        self,
        rel: Release,
        env: str,
        name: str | None,
        url: str | None,
        started: tuple[int, int] | None,
        finished: tuple[int, int],
        projects: Iterable[int],
    ) -> Deploy:
        dep = Deploy(
            id=str(self._next_deploy_id),
            release=rel,
            environment=env,
            name=name,
            url=url,
            date_started=started,
            date_finished=finished,
            projects=tuple(projects),
        )
        self._next_deploy_id += 1 + _h(self.seed, "dstep", dep.id) % 5
        rel.deploys.append(dep)
        return dep

    def create_deploy(
        self,
        rel: Release,
        env: str,
        name: str | None,
        url: str | None,
        started: tuple[int, int] | None,
        finished: tuple[int, int],
        projects: Iterable[int],
    ) -> Deploy:
        with self.lock:
            return self._insert_deploy(rel, env, name, url, started, finished, projects)

    def latest_deploys(self, rel: Release) -> list[Deploy]:
        """Newest deploy per (project, environment), deduplicated, newest first."""
        latest: dict[tuple[int, str], Deploy] = {}
        for dep in rel.deploys:  # insertion order = creation order
            for k in dep.projects:
                cur = latest.get((k, dep.environment))
                if cur is None or dep.date_finished >= cur.date_finished:
                    latest[(k, dep.environment)] = dep
        uniq = {id(d): d for d in latest.values()}.values()
        return sorted(uniq, key=lambda d: (d.date_finished, int(d.id)), reverse=True)

    # ------------------------------------------------------------------ lookups
    def project(self, id_or_slug: str) -> Project | None:
        for p in self.projects:
            if p.slug == id_or_slug or p.id == id_or_slug:
                return p
        return None

    def all_issues(self) -> list[Issue]:
        self.release_due()
        return list(self.issues_by_id.values())


def _base36(n: int) -> str:
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


# ---------------------------------------------------------------------- organization settings
# Small, fixed lists (teams, members, repositories, client keys, cron monitors, release commits):
# each a pure function of the seed, so every read and the ground truth agree.
MEMBER_NAMES = ("Ada Lovelace", "Grace Hopper", "Alan Turing", "Edsger Dijkstra", "Barbara Liskov")
ROLES = ("owner", "manager", "admin", "member", "member")
REPOSITORIES = (("getsentry", "github"), ("acme-web", "github"), ("infra", "gitlab"))
MONITOR_SCHEDULES = ("0 * * * *", "*/15 * * * *", "0 3 * * *", "30 2 * * 1")


def teams(w: World) -> list[dict]:
    return [
        {"id": tid, "slug": slug, "name": name, "created": w.org_created + (k + 1) * DAY}
        for k, (tid, name, slug) in enumerate(TEAMS)
    ]


def members(w: World) -> list[dict]:
    out = []
    for k, name in enumerate(MEMBER_NAMES):
        login = name.split()[0].lower()
        out.append(
            {
                "id": str(100 + _h(w.seed, "member", k) % 900 * 10 + k),
                "user_id": str(1000 + _h(w.seed, "user", k) % 9000 * 10 + k),
                "name": name,
                "email": f"{login}@{w.org_slug}.example",
                "role": ROLES[k],
                "pending": k == len(MEMBER_NAMES) - 1,
                "created": w.org_created + (2 + 3 * k) * DAY,
                "teams": [TEAMS[k % len(TEAMS)][2]],
            }
        )
    return out


def repositories(w: World) -> list[dict]:
    return [
        {
            "id": str(7000 + _h(w.seed, "repo", k) % 1000 * 10 + k),
            "name": f"{w.org_slug}/{name}",
            "provider": provider,
            "created": w.org_created + (5 + k) * DAY,
        }
        for k, (name, provider) in enumerate(REPOSITORIES)
    ] + list(w.added_repositories)


def environments(p: Project) -> tuple[str, ...]:
    return ENVIRONMENTS[: 1 + p.idx % len(ENVIRONMENTS)]


def environment_id(w: World, name: str) -> str:
    """Environments belong to the organization: one id per name, shared by its projects."""
    return str(1 + _h(w.seed, "env", name) % 90_000)


def project_keys(w: World) -> list[dict]:
    out = []
    for p in w.projects:
        for k in range(1 + p.idx % 2):
            out.append(
                {
                    "id": _hex32(w.seed, "key", p.idx, k),
                    "secret": _hex32(w.seed, "key-secret", p.idx, k),
                    "name": "Default" if k == 0 else f"{p.name} backend",
                    "project": p,
                    "active": k == 0 or p.idx % 3 != 0,
                    "created": p.date_created + k * DAY,
                }
            )
    return out


def monitors(w: World) -> list[dict]:
    out = []
    for k, schedule in enumerate(MONITOR_SCHEDULES):
        if not w.projects:
            break
        p = w.projects[k % len(w.projects)]
        hv = _h(w.seed, "monitor", k)
        out.append(
            {
                "id": "-".join(
                    (_hex32(w.seed, "mon", k)[:8], "4a1b", "8c2d", "9e3f", _hex32(w.seed, "mon", k)[8:20])
                ),
                "slug": f"{p.slug}-job-{k + 1}",
                "name": f"{p.name} job {k + 1}",
                "project": p,
                "schedule": schedule,
                "muted": hv % 5 == 0,
                "created": w.anchor - w.span + k * DAY,
            }
        )
    return out


def commits(w: World, rel: Release) -> list[dict]:
    """The release's commits, newest first; a SHA is unique to its release."""
    if rel.commit_list is not None:
        return list(rel.commit_list)
    repos = repositories(w)[: len(REPOSITORIES)]
    return [
        {
            "id": _hex32(w.seed, "commit", rel.id, k) + _hex32(w.seed, "commit2", rel.id, k)[:8],
            "message": f"Fix {FUNCTIONS[k % len(FUNCTIONS)]} in {MODULES[(rel.id + k) % len(MODULES)]}",
            "created": rel.date_created[0] - (k + 1) * 3_600 * US,
            "author": MEMBER_NAMES[(rel.id + k) % len(MEMBER_NAMES)],
            "repository": repos[(rel.id + k) % len(repos)],
        }
        for k in range(rel.commit_count)
    ]


# ---------------------------------------------------------------------- alerting (workflow engine)
# Sentry's alerting now lives in detectors (what watches a project: its error detector, metric and
# uptime monitors) and workflows (what acts on the issues they open: the alerts). Every project
# has its error detector and, as Sentry migrates a project's default rule, one workflow that
# emails issue owners about high-priority issues; the organization adds a paging workflow for its
# metric detectors and a disabled one connected to nothing.
METRIC_AGGREGATES = ("count()", "count_unique(tags[sentry:user])", "p95(span.duration)")


def detectors(w: World) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for p in w.projects:
        kinds = ["error"] + ["metric_issue"] * (p.idx % 3) + (["uptime_domain_failure"] if p.idx % 2 else [])
        for k, kind in enumerate(kinds):
            out.append(
                {
                    "id": str(300_000 + _h(w.seed, "detector", p.idx, k) % 90_000 * 10 + k),
                    "project": p,
                    "type": kind,
                    "k": k,
                    "name": {
                        "error": "Error Monitor",
                        "metric_issue": f"{p.name}: {METRIC_AGGREGATES[(p.idx + k) % 3]}",
                        "uptime_domain_failure": f"Uptime check for {p.slug}.example",
                    }[kind],
                    "enabled": kind == "error" or _h(w.seed, "detector-on", p.idx, k) % 4 != 0,
                    "created": max(p.date_created, w.anchor - w.span) + k * DAY,
                }
            )
    out.sort(key=lambda d: int(d["id"]))  # Sentry's default order
    return out


def workflows(w: World) -> list[dict[str, Any]]:
    """Each with the ids of the detectors it is connected to."""
    dets = detectors(w)
    out: list[dict[str, Any]] = [
        {
            "id": str(500_000 + _h(w.seed, "workflow", p.idx) % 90_000 * 10),
            "name": "Send a notification for high priority issues",
            "detectors": [d for d in dets if d["project"] is p and d["type"] == "error"],
            "environment": None,
            "enabled": True,
            "action": "email",
            "created": max(p.date_created, w.anchor - w.span),
        }
        for p in w.projects
    ]
    out.append(
        {
            "id": str(500_000 + _h(w.seed, "workflow", "page") % 90_000 * 10 + 1),
            "name": "Page the on-call engineer",
            "detectors": [d for d in dets if d["type"] == "metric_issue"],
            "environment": ENVIRONMENTS[0],
            "enabled": True,
            "action": "pagerduty",
            "created": w.anchor - w.span + 2 * DAY,
        }
    )
    out.append(
        {
            "id": str(500_000 + _h(w.seed, "workflow", "draft") % 90_000 * 10 + 2),
            "name": "Draft: notify #alerts on regressions",
            "detectors": [],
            "environment": None,
            "enabled": False,
            "action": "slack",
            "created": w.anchor - w.span + 3 * DAY,
        }
    )
    out.sort(key=lambda wf: int(wf["id"]))
    return out


# ---------------------------------------------------------------------- check-ins, feedback, replays
# Generated ones are pure functions of the seed, dated before the world's anchor; ones added by a
# test are stored. Each list is served newest first, as Sentry's endpoints order them.
CHECKIN_COUNTS = (130, 40, 24, 10)  # per monitor; the first needs two pages
CHECKIN_EVERY_HOURS = (1, 6, 12, 24)
CHECKIN_STATUSES = ("ok", "ok", "ok", "ok", "ok", "ok", "ok", "error", "missed", "timeout")
FEEDBACK_COMMENTS = (
    "The page froze after I pressed Save.",
    "Checkout spun forever, then showed an error.",
    "I lost my draft when the app crashed.",
    "Nothing happens when I click Export.",
)
REPLAY_MAX_US = 3_600 * US  # Sentry ends a replay after an hour
REPLAY_RECENT_US = 2 * 3_600 * US  # generated replays started at least this long before the anchor


def _uuid(*parts: object) -> str:
    h = _hex32(*parts)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:32]}"


def checkins(w: World, monitor: dict) -> list[dict]:
    """A monitor's check-ins, newest first."""
    k = int(monitor["slug"].rsplit("-", 1)[1]) - 1
    every = CHECKIN_EVERY_HOURS[k % len(CHECKIN_EVERY_HOURS)] * 3_600 * US
    out = [c for c in w.added_checkins if c["monitor"] == monitor["id"]]
    for i in range(CHECKIN_COUNTS[k % len(CHECKIN_COUNTS)]):
        hv = _h(w.seed, "checkin", k, i)
        expected = w.anchor - (i + 1) * every
        out.append(
            {
                "id": _uuid(w.seed, "checkin", k, i),
                "monitor": monitor["id"],
                "environment": data_env(monitor),
                "status": CHECKIN_STATUSES[hv % len(CHECKIN_STATUSES)],
                "created": expected + (hv >> 8) % (20 * US),
                "expected": expected,
                "duration": None
                if CHECKIN_STATUSES[hv % len(CHECKIN_STATUSES)] == "missed"
                else 200 + hv % 40_000,
            }
        )
    out.sort(key=lambda c: (c["created"], c["id"]), reverse=True)
    return out


def data_env(monitor: dict) -> str:
    return environments(monitor["project"])[0]


def add_checkin(w: World, monitor: dict, status: str = "ok") -> dict:
    with w.lock:
        n = len(w.added_checkins)
        c = {
            "id": _uuid(w.seed, "added-checkin", n),
            "monitor": monitor["id"],
            "environment": data_env(monitor),
            "status": status,
            "created": now_us(),
            "expected": quantize(now_us(), 0),
            "duration": None if status == "missed" else 1_000 + n,
        }
        w.added_checkins.append(c)
        return c


def feedback(w: World, p: Project) -> list[dict]:
    """A project's user reports (feedback sent through an event's crash-report dialog), newest first."""
    issues = [i for i in p.issues if i.count]
    out = [f for f in w.added_feedback if f["project"] is p]
    for k in range(4 + 3 * p.idx if issues else 0):
        hv = _h(w.seed, "feedback", p.idx, k)
        who = MEMBER_NAMES[hv % len(MEMBER_NAMES)]
        out.append(
            {
                "id": str(100_000 + _h(w.seed, "feedback-id") % 100_000 * 100 + p.idx * 20 + k),
                "project": p,
                "issue": issues[hv % len(issues)],
                "event_id": _hex32(w.seed, "feedback-event", p.idx, k),
                "name": who,
                "email": f"{who.split()[0].lower()}@customer.example",
                "comments": FEEDBACK_COMMENTS[k % len(FEEDBACK_COMMENTS)],
                "created": w.anchor - w.span + (hv >> 8) % (w.span - DAY),
            }
        )
    out.sort(key=lambda f: (f["created"], f["id"]), reverse=True)
    return out


def add_feedback(w: World, issue: Issue, comments: str) -> dict:
    with w.lock:
        n = len(w.added_feedback)
        f = {
            "id": str(900_000_000 + n),
            "project": issue.project,
            "issue": issue,
            "event_id": _hex32(w.seed, "added-feedback-event", n),
            "name": "Late Reporter",
            "email": "late@customer.example",
            "comments": comments,
            "created": quantize(now_us(), 3),
        }
        w.added_feedback.append(f)
        return f


def replays(w: World, p: Project) -> list[dict]:
    """A project's session replays, newest first (by started_at)."""
    out = [r for r in w.added_replays if r["project"] is p]
    room = w.span - REPLAY_RECENT_US
    for k in range(25 + 40 * p.idx):
        hv = _h(w.seed, "replay", p.idx, k)
        started = quantize(w.anchor - REPLAY_RECENT_US - (hv >> 8) % room, 0)
        out.append(_replay(w, p, _hex32(w.seed, "replay", p.idx, k), started, hv))
    out.sort(key=lambda r: (r["started"], r["id"]), reverse=True)
    return out


def _replay(w: World, p: Project, rid: str, started: int, hv: int) -> dict:
    return {
        "id": rid,
        "project": p,
        "started": started,
        "finished": started + (5 + hv % (REPLAY_MAX_US // US - 5)) * US,
        "errors": hv % 4,
        "segments": 1 + hv % 30,
        "urls": [f"/{PROJECT_WORDS[(hv >> s) % len(PROJECT_WORDS)]}/" for s in range(1 + hv % 3)],
        "browser": BROWSERS[hv % len(BROWSERS)],
        "os": OSES[(hv >> 4) % len(OSES)],
        "environment": environments(p)[hv % len(environments(p))],
        "user": MEMBER_NAMES[(hv >> 12) % len(MEMBER_NAMES)],
    }


def add_replay(w: World, p: Project, started_ago_us: int) -> dict:
    """A replay that started ``started_ago_us`` before now (and is visible at once)."""
    with w.lock:
        n = len(w.added_replays)
        r = _replay(w, p, _hex32(w.seed, "added-replay", n), quantize(now_us() - started_ago_us, 0), n)
        w.added_replays.append(r)
        return r
