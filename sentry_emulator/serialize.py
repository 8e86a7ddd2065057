"""Turn the emulator's records into the JSON bodies Sentry returns (shapes per the OpenAPI subset)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from . import aggregates, data
from .data import BROWSERS, OSES, Deploy, Issue, Project, Release, World, _h, _hex32
from .timeutil import US, fmt


def _d(stamp: tuple[int, int] | None) -> str | None:
    return None if stamp is None else fmt(*stamp)


def organization(w: World) -> dict:
    return {
        "avatar": {"avatarType": "letter_avatar", "avatarUuid": None, "avatarUrl": None},
        "dateCreated": fmt(w.org_created, 3),
        "hasAuthProvider": False,
        "id": w.org_id,
        "isEarlyAdopter": False,
        "allowMemberInvite": True,
        "allowMemberProjectCreation": True,
        "allowSuperuserAccess": False,
        "links": {"organizationUrl": w.web_url, "regionUrl": w.web_url},
        "name": w.org_name,
        "require2FA": False,
        "slug": w.org_slug,
        "status": {"id": "active", "name": "active"},
        "features": ["discover-basic", "incidents", "monitors"],
    }


def _latest_release(w: World, p: Project) -> dict | None:
    if not p.releases:
        return None
    rid = p.releases[-1][1]
    rel = next((r for r in w.releases if r.id == rid), None)
    return {"version": rel.version} if rel else None


def _first_event(w: World, p: Project) -> str | None:
    stamps = []
    if p.n_events:
        stamps.append(w.event_time(p, 0))
    if p.added_keys:
        ev = p.added[p.added_keys[0][1]]
        stamps.append((ev["t"], ev["digits"]))
    return fmt(*min(stamps)) if stamps else None


def project_summary(w: World, p: Project, scopes: list[str], access: bool) -> dict:
    team = {"id": p.team[0], "name": p.team[1], "slug": p.team[2]}
    return {
        "id": p.id,
        "slug": p.slug,
        "name": p.name,
        "platform": p.platform,
        "dateCreated": fmt(p.date_created, 6 if p.idx % 2 else 3),
        "isBookmarked": False,
        "isMember": access,
        "features": ["alert-filters", "releases", "servicehooks"],
        "firstEvent": _first_event(w, p),
        "firstTransactionEvent": False,
        "access": scopes if access else [],
        "hasAccess": access,
        "hasFeedbacks": False,
        "hasFlags": False,
        "hasMinifiedStackTrace": False,
        "hasMonitors": False,
        "hasNewFeedbacks": False,
        "hasProfiles": False,
        "hasReplays": False,
        "hasSessions": False,
        "hasInsightsHttp": False,
        "hasInsightsDb": False,
        "hasInsightsAssets": False,
        "hasInsightsAppStart": False,
        "hasInsightsScreenLoad": False,
        "hasInsightsVitals": False,
        "hasInsightsCaches": False,
        "hasInsightsQueues": False,
        "hasInsightsAgentMonitoring": False,
        "hasInsightsMCP": False,
        "hasLogs": False,
        "hasTraceMetrics": False,
        "team": team,
        "teams": [team],
        "platforms": [p.platform],
        "hasUserReports": False,
        "environments": ["production", "staging", "development"],
        "latestRelease": _latest_release(w, p),
    }


def project_detail(w: World, p: Project, scopes: list[str], access: bool) -> dict:
    d = project_summary(w, p, scopes, access)
    for k in ("hasUserReports", "environments"):
        d.pop(k)
    token = _hex32(w.seed, "ptoken", p.idx)
    d.update(
        {
            "isInternal": False,
            "isPublic": False,
            "avatar": {"avatarType": "letter_avatar", "avatarUuid": None},
            "color": "#%06x" % (_h(w.seed, "color", p.idx) % 0xFFFFFF),
            "status": "active",
            "options": {
                "sentry:resolve_age": 0,
                "sentry:scrub_data": True,
                "sentry:scrub_defaults": True,
                "sentry:token": token,
                "sentry:grouping_config": "newstyle:2023-01-11",
                "sentry:default_environment": "production",
                "sentry:verify_ssl": False,
                "filters:blacklisted_ips": "",
                "filters:releases": "",
                "filters:error_messages": "",
            },
            "digestsMinDelay": 300,
            "digestsMaxDelay": 1800,
            "subjectPrefix": "",
            "allowedDomains": ["*"],
            "resolveAge": 0,
            "dataScrubber": True,
            "dataScrubberDefaults": True,
            "safeFields": [],
            "storeCrashReports": None,
            "sensitiveFields": [],
            "subjectTemplate": "$shortID - $title",
            "securityToken": token,
            "securityTokenHeader": None,
            "verifySSL": False,
            "scrubIPAddresses": False,
            "scrapeJavaScript": True,
            "highlightTags": [],
            "highlightContext": {},
            "highlightPreset": {"tags": [], "context": {}},
            "groupingConfig": "newstyle:2023-01-11",
            "derivedGroupingEnhancements": "",
            "groupingEnhancements": "",
            "secondaryGroupingExpiry": 0,
            "secondaryGroupingConfig": None,
            "fingerprintingRules": "",
            "organization": organization(w),
            "plugins": [],
            "processingIssues": 0,
            "defaultEnvironment": "production",
            "relayPiiConfig": None,
            "builtinSymbolSources": ["ios", "microsoft", "android"],
            "dynamicSamplingBiases": [{"id": "boostEnvironments", "active": True}],
            "symbolSources": "[]",
            "isDynamicallySampled": False,
            "tempestFetchScreenshots": False,
            "autofixAutomationTuning": "off",
            "seerScannerAutomation": False,
            "debugFilesRole": None,
        }
    )
    return d


# ---------------------------------------------------------------------- events
def _user(w: World, ev: dict) -> dict | None:
    issue: Issue = ev["issue"]
    if issue.users == 0:
        return None
    n = ev["k"] % issue.users
    uid = _h(w.seed, "user", issue.gid, n) % 900_000 + 100_000
    return {
        "id": str(uid),
        "email": f"user{uid}@example.com",
        "username": f"user{uid}",
        "ip_address": f"10.{uid % 250}.{(uid >> 8) % 250}.{uid % 199 + 1}",
        "name": f"User {uid}",
        "geo": None,
        "data": None,
    }


def _env(ev: dict) -> str:
    envs = ev["issue"].envs
    return envs[ev["hv"] % len(envs)]


def _tags(w: World, ev: dict) -> list[dict]:
    issue: Issue = ev["issue"]
    hv = ev["hv"]
    tags = {
        "browser": BROWSERS[(hv >> 8) % len(BROWSERS)],
        "environment": _env(ev),
        "handled": "no" if issue.unhandled else "yes",
        "level": issue.level,
        "os": OSES[(hv >> 12) % len(OSES)],
        "runtime": "CPython 3.11.9",
        "server_name": f"web{(hv >> 16) % 4 + 1}.example.com",
    }
    release = w.release_for(ev["project"], ev["t"])
    if release is not None:
        tags["release"] = release
    return [{"key": k, "value": v} for k, v in sorted(tags.items())]


def _metadata(issue: Issue) -> dict:
    return {
        "type": issue.exc_type,
        "value": issue.exc_value,
        "filename": issue.module.replace(".", "/") + ".py",
        "function": issue.function,
        "in_app_frame_mix": "in-app-only",
    }


def event_simple(w: World, ev: dict) -> dict:
    issue: Issue = ev["issue"]
    return {
        "id": ev["id"],
        "event.type": "error",
        "groupID": issue.id,
        "eventID": ev["id"],
        "projectID": ev["project"].id,
        "message": "",
        "title": issue.title,
        "location": issue.module.replace(".", "/") + ".py",
        "culprit": issue.culprit,
        "user": _user(w, ev),
        "tags": _tags(w, ev),
        "platform": ev["project"].platform,
        "dateCreated": fmt(ev["t"], ev["digits"]),
        "crashFile": None,
        "metadata": _metadata(issue),
    }


def event_full(w: World, ev: dict) -> dict:
    """``full=`` form: Sentry's EventSerializer (``type`` instead of ``event.type``)."""
    issue: Issue = ev["issue"]
    hv = ev["hv"]
    filename = issue.module.replace(".", "/") + ".py"
    frames = [
        {
            "filename": "app/main.py",
            "absPath": "/srv/app/main.py",
            "module": "app.main",
            "function": "main",
            "lineNo": 42,
            "colNo": None,
            "inApp": True,
            "context": [[42, "    run()"]],
            "vars": None,
            "package": None,
            "platform": None,
            "instructionAddr": None,
            "symbolAddr": None,
            "trust": None,
            "symbol": None,
            "errors": None,
        },
        {
            "filename": filename,
            "absPath": "/srv/" + filename,
            "module": issue.module,
            "function": issue.function,
            "lineNo": issue.lineno,
            "colNo": None,
            "inApp": True,
            "context": [[issue.lineno, f"    raise {issue.exc_type}(...)"]],
            "vars": {"attempt": str(ev["k"] % 5)},
            "package": None,
            "platform": None,
            "instructionAddr": None,
            "symbolAddr": None,
            "trust": None,
            "symbol": None,
            "errors": None,
        },
    ]
    t_str = fmt(ev["t"], ev["digits"])
    entries = [
        {
            "type": "exception",
            "data": {
                "values": [
                    {
                        "type": issue.exc_type,
                        "value": issue.exc_value,
                        "module": None,
                        "threadId": None,
                        "mechanism": {"type": "generic", "handled": not issue.unhandled},
                        "stacktrace": {
                            "frames": frames,
                            "framesOmitted": None,
                            "registers": None,
                            "hasSystemFrames": False,
                        },
                        "rawStacktrace": None,
                    }
                ],
                "excOmitted": None,
                "hasSystemFrames": False,
            },
        },
        {
            "type": "breadcrumbs",
            "data": {
                "values": [
                    {
                        "type": "http",
                        "category": "httplib",
                        "level": "info",
                        "event_id": None,
                        "timestamp": fmt(max(0, ev["t"] - 1_500_000), 6),
                        "message": None,
                        "data": {"url": "https://svc.internal/api", "method": "GET", "status_code": 200},
                    }
                ]
            },
        },
        {
            "type": "request",
            "data": {
                "url": f"https://app.example.com/{issue.function.replace('_', '-')}/",
                "method": "GET",
                "query": [],
                "fragment": None,
                "data": None,
                "cookies": [],
                "headers": [["User-Agent", "Mozilla/5.0"]],
                "env": None,
                "inferredContentType": None,
            },
        },
    ]
    return {
        "id": ev["id"],
        "groupID": issue.id,
        "eventID": ev["id"],
        "projectID": ev["project"].id,
        "size": 4000 + hv % 60_000,
        "entries": entries,
        "dist": None,
        "message": "",
        "title": issue.title,
        "location": filename,
        "user": _user(w, ev),
        "contexts": {
            "browser": {"name": BROWSERS[(hv >> 8) % len(BROWSERS)].split()[0], "type": "browser"},
            "os": {"name": OSES[(hv >> 12) % len(OSES)].rsplit(" ", 1)[0], "type": "os"},
            "runtime": {"name": "CPython", "version": "3.11.9", "type": "runtime"},
            "trace": {
                "trace_id": _hex32(w.seed, "trace", ev["id"]),
                "span_id": ev["id"][:16],
                "type": "trace",
            },
        },
        "sdk": {"name": "sentry.python", "version": "2.3.1"},
        "context": {},
        "packages": {},
        "type": "error",
        "metadata": _metadata(issue),
        "tags": _tags(w, ev),
        "platform": ev["project"].platform,
        "dateReceived": fmt(ev["received"], 6),
        "errors": [],
        "occurrence": None,
        "_meta": {
            "entries": {},
            "message": None,
            "user": None,
            "contexts": None,
            "sdk": None,
            "context": None,
            "packages": None,
            "tags": {},
        },
        "crashFile": None,
        "culprit": issue.culprit,
        "dateCreated": t_str,
        "fingerprints": [_hex32(w.seed, "fp", issue.gid)],
        "groupingConfig": {
            "id": "newstyle:2023-01-11",
            "enhancements": "eJybzDRxY3J-bm5-npWRgaGlroGxrpEJAC3eBKs",
        },
    }


# ---------------------------------------------------------------------- issues
def _stats(w: World, issue: Issue) -> dict:
    hour = 3600 * US
    end = w.anchor - w.anchor % hour
    counts = _hourly_counts(w.seed, issue.gid) if issue.count else (0,) * 24
    return {"24h": [[(end - (23 - b) * hour) // US, counts[b]] for b in range(24)]}


@lru_cache(maxsize=1 << 17)
def _hourly_counts(seed: int, gid: int) -> tuple[int, ...]:
    """An issue's 24 hourly counts, a pure function of the seed and the issue: 24 hashes an issue,
    worked out once rather than on every page that lists it (a project of 15,000 issues is listed
    in some 150 pages, each filtering and sorting them all)."""
    return tuple(_h(seed, "stat", gid, b) % 50 for b in range(24))


def issue(w: World, iss: Issue, *, org_endpoint: bool) -> dict:
    p = iss.project
    first, last = _d(iss.first_seen), _d(iss.last_seen)
    d: dict[str, Any] = {
        "annotations": [],
        "assignedTo": iss.assignee,
        "count": str(iss.count),
        "culprit": iss.culprit,
        "firstSeen": first,
        "hasSeen": False,
        "id": iss.id,
        "isBookmarked": False,
        "isPublic": False,
        "isSubscribed": False,
        "lastSeen": last,
        "level": iss.level,
        "logger": None,
        "metadata": _metadata(iss),
        "numComments": len(iss.notes),
        "permalink": f"{w.web_url}/organizations/{w.org_slug}/issues/{iss.id}/",
        "project": {"id": p.id, "name": p.name, "slug": p.slug},
        "shareId": None,
        "shortId": iss.short_id,
        "stats": _stats(w, iss),
        "status": iss.status,
        "statusDetails": {},
        "subscriptionDetails": None,
        "title": iss.title,
        "type": "error",
        "userCount": iss.user_count,
    }
    if org_endpoint:
        d["project"]["platform"] = p.platform
        d.update(
            {
                "filtered": None,
                "inbox": {"reason": 0, "reason_details": None, "date_added": first},
                "integrationIssues": [],
                "isUnhandled": iss.unhandled,
                "issueCategory": "error",
                "issueType": "error",
                "latestEventHasAttachments": False,
                "lifetime": {
                    "count": str(iss.count),
                    "userCount": iss.user_count,
                    "firstSeen": first,
                    "lastSeen": last,
                    "stats": None,
                },
                "owners": None,
                "platform": p.platform,
                "pluginActions": [],
                "pluginIssues": [],
                "priority": iss.priority,
                "priorityLockedAt": None,
                "seerAutofixLastTriggered": None,
                "seerFixabilityScore": None,
                "sentryAppIssues": [],
                "sessionCount": 0,
                "substatus": iss.substatus,
            }
        )
    return d


# ---------------------------------------------------------------------- releases
def _short_version(version: str) -> str:
    ver = version.split("@", 1)[1] if "@" in version else version
    if len(ver) == 40 and all(c in "0123456789abcdef" for c in ver):
        return ver[:7]
    return ver


def _version_info(version: str) -> dict | None:
    package, _, raw = version.rpartition("@")
    build = raw.split("+", 1)[1] if "+" in raw else None
    is_hash = len(raw) == 40 and all(c in "0123456789abcdef" for c in raw)
    return {
        "package": package or None,
        "version": {"raw": raw},
        "description": raw[:7] if is_hash else raw,
        "buildHash": raw if is_hash else build,
    }


def deploy(dep: Deploy) -> dict:
    return {
        "id": dep.id,
        "environment": dep.environment,
        "dateStarted": _d(dep.date_started),
        "dateFinished": fmt(*dep.date_finished),
        "name": dep.name,
        "url": dep.url,
    }


def release(w: World, rel: Release) -> dict:
    last = max(rel.deploys, key=lambda d: (d.date_finished, int(d.id)), default=None)
    projects = []
    for k in rel.projects:
        p = w.projects[k]
        projects.append(
            {
                "id": int(p.id),
                "slug": p.slug,
                "name": p.name,
                "newGroups": 0,
                "platform": p.platform,
                "platforms": [p.platform],
                "hasHealthData": False,
            }
        )
    return {
        "id": rel.id,
        "version": rel.version,
        "status": rel.status,
        "shortVersion": _short_version(rel.version),
        "versionInfo": _version_info(rel.version),
        "ref": rel.ref,
        "url": rel.url,
        "dateReleased": _d(rel.date_released),
        "dateCreated": fmt(*rel.date_created),
        "data": {},
        "newGroups": 0,
        "owner": None,
        "commitCount": rel.commit_count,
        "lastCommit": next((commit(c) for c in data.commits(w, rel)), None),
        "deployCount": len(rel.deploys),
        "lastDeploy": deploy(last) if last else None,
        "authors": [],
        "projects": projects,
        "firstEvent": None,
        "lastEvent": None,
        "currentProjectMeta": {},
        "userAgent": None,
        "adoptionStages": {},
    }


# ---------------------------------------------------------------------- organization settings
def _project_ref(p: Project) -> dict:
    return {"id": p.id, "slug": p.slug, "name": p.name, "platform": p.platform}


def team(w: World, t: dict) -> dict:
    return {
        "id": t["id"],
        "slug": t["slug"],
        "name": t["name"],
        "dateCreated": fmt(t["created"], 6),
        "isMember": True,
        "teamRole": "contributor",
        "flags": {"idp:provisioned": False},
        "access": ["event:read", "project:read", "team:read"],
        "hasAccess": True,
        "isPending": False,
        "memberCount": sum(1 for m in data.members(w) if t["slug"] in m["teams"]),
        "avatar": {"avatarType": "letter_avatar", "avatarUuid": None},
    }


def member(w: World, m: dict) -> dict:
    user = None
    if not m["pending"]:
        user = {
            "id": m["user_id"],
            "name": m["name"],
            "username": m["email"],
            "email": m["email"],
            "avatarUrl": None,
            "isActive": True,
            "hasPasswordAuth": True,
            "isManaged": False,
            "dateJoined": fmt(m["created"], 6),
            "lastLogin": None,
            "has2fa": False,
            "lastActive": None,
            "isSuperuser": False,
            "isStaff": False,
            "emails": [{"id": m["user_id"], "email": m["email"], "is_verified": True}],
            "avatar": {"avatarType": "letter_avatar", "avatarUuid": None},
        }
    return {
        "id": m["id"],
        "email": m["email"],
        "name": m["name"] if user else m["email"],
        "user": user,
        "orgRole": m["role"],
        "role": m["role"],
        "roleName": m["role"].title(),
        "pending": m["pending"],
        "expired": False,
        "flags": {"idp:provisioned": False, "sso:linked": False, "member-limit:restricted": False},
        "dateCreated": fmt(m["created"], 6),
        "inviteStatus": "requested_to_be_invited" if m["pending"] else "approved",
        "inviterName": None,
        "teams": m["teams"],
        "teamRoles": [{"teamSlug": slug, "role": None} for slug in m["teams"]],
    }


def repository(r: dict) -> dict:
    host = "github.com" if r["provider"] == "github" else "gitlab.com"
    # One a commit named without an integration has no provider and no URL (Sentry's
    # "Unknown Provider").
    provider = (
        {"id": f"integrations:{r['provider']}", "name": r["provider"].title()}
        if r["provider"]
        else {"id": "unknown", "name": "Unknown Provider"}
    )
    return {
        "id": r["id"],
        "name": r["name"],
        "url": r["url"] if "url" in r else f"https://{host}/{r['name']}",
        "provider": provider,
        "status": "active",
        "dateCreated": fmt(r["created"], 6),
        "integrationId": "24" if r["provider"] else None,
        "externalSlug": r["name"] if r["provider"] else None,
        "externalId": r["id"],
    }


def environment(w: World, p: Project, name: str) -> dict:
    return {"id": data.environment_id(w, name), "name": name, "isHidden": False}


def project_key(w: World, k: dict) -> dict:
    p = k["project"]
    host = f"o{w.org_id}.ingest.{w.web_url.split('://', 1)[-1]}"
    return {
        "id": k["id"],
        "name": k["name"],
        "label": k["name"],
        "public": k["id"],
        "secret": k["secret"],
        "projectId": int(p.id),
        "isActive": k["active"],
        "rateLimit": None,
        "dsn": {
            "secret": f"https://{k['id']}:{k['secret']}@{host}/{p.id}",
            "public": f"https://{k['id']}@{host}/{p.id}",
            "csp": f"https://{host}/api/{p.id}/csp-report/?sentry_key={k['id']}",
            "security": f"https://{host}/api/{p.id}/security/?sentry_key={k['id']}",
            "minidump": f"https://{host}/api/{p.id}/minidump/?sentry_key={k['id']}",
            "nel": f"https://{host}/api/{p.id}/nel/?sentry_key={k['id']}",
            "unreal": f"https://{host}/api/{p.id}/unreal/{k['id']}/",
            "cdn": f"https://js.sentry-cdn.example/{k['id']}.min.js",
            "crons": f"https://{host}/api/{p.id}/cron/___MONITOR_SLUG___/{k['id']}/",
        },
        "browserSdkVersion": "8.x",
        "browserSdk": {"choices": [["latest", "latest"], ["8.x", "8.x"]]},
        "dateCreated": fmt(k["created"], 6),
        "dynamicSdkLoaderOptions": {"hasReplay": True, "hasPerformance": True, "hasDebug": False},
    }


def monitor(w: World, m: dict) -> dict:
    p = m["project"]
    return {
        "id": m["id"],
        "slug": m["slug"],
        "name": m["name"],
        "status": "active",
        "isMuted": m["muted"],
        "isUpserting": False,
        "config": {
            "schedule_type": "crontab",
            "schedule": m["schedule"],
            "checkin_margin": 5,
            "max_runtime": 30,
            "timezone": "UTC",
            "failure_issue_threshold": 1,
            "recovery_threshold": 1,
            "alert_rule_id": None,
        },
        "dateCreated": fmt(m["created"], 6),
        "project": _project_ref(p),
        "environments": [
            {
                "name": env,
                "status": "ok",
                "isMuted": m["muted"],
                "dateCreated": fmt(m["created"], 6),
                "lastCheckIn": None,
                "nextCheckIn": None,
                "nextCheckInLatest": None,
                "activeIncident": None,
            }
            for env in data.environments(p)
        ],
        "owner": None,
    }


def _commit_author(c: dict) -> dict | None:
    name, email = c["author"], c.get("author_email")
    if email is None and name is not None and "author_email" not in c:  # generated commits
        email = name.split()[0].lower() + "@example.com"
    return {"name": name, "email": email} if name or email else None


def commit(c: dict) -> dict:
    return {
        "id": c["id"],
        "message": c["message"],
        "dateCreated": fmt(c["created"], 0),
        "pullRequest": None,
        "suspectCommitType": "",
        "author": _commit_author(c),
        "repository": repository(c["repository"]),
    }


def _condition_group(w: World, key: object, logic: str, conditions: list[dict], actions: list[dict]) -> dict:
    return {
        "id": str(80_000 + _h(w.seed, "dcg", key) % 900_000),
        "organizationId": w.org_id,
        "logicType": logic,
        "conditions": conditions,
        "actions": actions,
    }


def detector(w: World, d: dict, workflow_ids: list[str]) -> dict:
    p, kind, key = d["project"], d["type"], (d["id"],)
    data_sources = None
    condition_group = None
    config: dict = {}
    if kind == "metric_issue":
        aggregate = d["name"].split(": ", 1)[1]
        data_sources = [
            {
                "id": str(60_000 + _h(w.seed, "ds", key) % 900_000),
                "organizationId": w.org_id,
                "type": "snuba_query_subscription",
                "sourceId": str(40_000 + _h(w.seed, "sub", key) % 900_000),
                "queryObj": {
                    "id": str(20_000 + _h(w.seed, "qs", key) % 900_000),
                    "status": 0,
                    "subscription": f"{p.idx}/{_hex32(w.seed, 'sub', key)[:16]}",
                    "snubaQuery": {
                        "id": str(10_000 + _h(w.seed, "sq", key) % 900_000),
                        "dataset": "events_analytics_platform" if "span" in aggregate else "events",
                        "query": "",
                        "aggregate": aggregate,
                        "timeWindow": 3600,
                        "environment": None,
                        "eventTypes": ["trace_item_span"] if "span" in aggregate else ["error", "default"],
                        "extrapolationMode": "unknown",
                    },
                },
            }
        ]
        threshold = 100 + _h(w.seed, "threshold", key) % 900
        condition_group = _condition_group(
            w,
            key,
            "any",
            [
                {
                    "id": str(_h(w.seed, "c1", key) % 900_000),
                    "type": "gt",
                    "comparison": threshold,
                    "conditionResult": 75,
                },
                {
                    "id": str(_h(w.seed, "c2", key) % 900_000),
                    "type": "lte",
                    "comparison": threshold,
                    "conditionResult": 0,
                },
            ],
            [],
        )
        config = {"detectionType": "static", "comparisonDelta": None}
    elif kind == "uptime_domain_failure":
        data_sources = [
            {
                "id": str(60_000 + _h(w.seed, "ds", key) % 900_000),
                "organizationId": w.org_id,
                "type": "uptime_subscription",
                "sourceId": str(40_000 + _h(w.seed, "sub", key) % 900_000),
                "queryObj": {
                    "url": f"https://{p.slug}.example/health",
                    "method": "GET",
                    "body": None,
                    "headers": [],
                    "intervalSeconds": 60,
                    "timeoutMs": 5000,
                    "traceSampling": False,
                },
            }
        ]
        config = {
            "mode": 1,
            "environment": data.ENVIRONMENTS[0],
            "downtimeThreshold": 3,
            "recoveryThreshold": 1,
        }
    created = fmt(d["created"], 6)
    return {
        "id": d["id"],
        "projectId": p.id,
        "name": d["name"],
        "description": None,
        "type": kind,
        "workflowIds": workflow_ids,
        "owner": None if kind == "error" else {"type": "team", "id": p.team[0], "name": p.team[2]},
        "createdBy": None,
        "dateCreated": created,
        "dateUpdated": created,
        "dataSources": data_sources,
        "conditionGroup": condition_group,
        "config": config,
        "enabled": d["enabled"],
        "alertRuleId": None,
        "ruleId": None,
        "latestGroup": None,
        "openIssues": 0,
    }


WORKFLOW_ACTIONS = {
    "email": ("email", None, {"targetType": "issue_owners", "targetIdentifier": None, "targetDisplay": None}),
    "pagerduty": (
        "pagerduty",
        "31",
        {"targetType": "specific", "targetIdentifier": "123", "targetDisplay": "on-call"},
    ),
    "slack": (
        "slack",
        "32",
        {"targetType": "specific", "targetIdentifier": "C0ALERTS", "targetDisplay": "#alerts"},
    ),
}


def workflow(w: World, wf: dict) -> dict:
    key = (wf["id"],)
    kind, integration, config = WORKFLOW_ACTIONS[wf["action"]]
    created = fmt(wf["created"], 6)
    triggers = (
        ["new_high_priority_issue", "existing_high_priority_issue"]
        if kind == "email"
        else ["first_seen_event"]
    )
    return {
        "id": wf["id"],
        "name": wf["name"],
        "organizationId": w.org_id,
        "createdBy": None,
        "dateCreated": created,
        "dateUpdated": created,
        "triggers": _condition_group(
            w,
            ("when",) + key,
            "any-short",
            [
                {
                    "id": str(_h(w.seed, "t", key, t) % 900_000),
                    "type": t,
                    "comparison": True,
                    "conditionResult": True,
                }
                for t in triggers
            ],
            [],
        ),
        "actionFilters": [
            _condition_group(
                w,
                ("if",) + key,
                "all",
                [],
                [
                    {
                        "id": str(_h(w.seed, "action", key) % 900_000),
                        "type": kind,
                        "integrationId": integration,
                        "data": {},
                        "config": config,
                        "status": "active",
                    }
                ],
            )
        ],
        "environment": wf["environment"],
        "config": {"frequency": 30},
        "detectorIds": [d["id"] for d in wf["detectors"]],
        "enabled": wf["enabled"],
        "lastTriggered": None,
    }


def detector_workflow_ids(workflows: list[dict]) -> dict[str, list[str]]:
    """Each detector's workflows, by detector id."""
    out: dict[str, list[str]] = {}
    for wf in workflows:
        for d in wf["detectors"]:
            out.setdefault(d["id"], []).append(wf["id"])
    return out


# ---------------------------------------------------------------------- check-ins, feedback, replays
def checkin(w: World, m: dict, c: dict) -> dict:
    """A cron check-in as the monitor's check-in list serializes it."""
    return {
        "id": c["id"],
        "environment": c["environment"],
        "status": c["status"],
        "duration": c["duration"],
        "dateCreated": fmt(c["created"], 6),
        "dateAdded": fmt(c["created"], 6),
        "dateUpdated": fmt(c["created"] + (c["duration"] or 0) * 1_000, 6),
        "dateClock": fmt(c["created"], 6),
        "dateInProgress": None,
        "expectedTime": fmt(c["expected"], 6),
        "monitorConfig": monitor(w, m)["config"],
    }


def user_feedback(w: World, f: dict) -> dict:
    """A user report with its issue, as the project's user-feedback list serializes it."""
    return {
        "id": f["id"],
        "eventID": f["event_id"],
        "name": f["name"],
        "email": f["email"],
        "comments": f["comments"],
        "dateCreated": fmt(f["created"], 3),
        "user": None,
        "event": {"id": f["event_id"], "eventID": f["event_id"]},
        "issue": issue(w, f["issue"], org_endpoint=True),
    }


def replay(r: dict) -> dict:
    """A replay as the organization's replay index serializes it (snake_case, unlike the rest)."""
    browser, _, browser_version = r["browser"].partition(" ")
    os_name, _, os_version = r["os"].rpartition(" ")
    login = r["user"].split()[0].lower()
    return {
        "activity": min(10, 1 + r["errors"] * 2 + len(r["urls"])),
        "browser": {"name": browser, "version": browser_version},
        "count_dead_clicks": r["segments"] % 3,
        "count_rage_clicks": r["segments"] % 2,
        "count_errors": r["errors"],
        "count_segments": r["segments"],
        "count_urls": len(r["urls"]),
        "device": {"brand": None, "family": "Other", "model": None, "name": None},
        "dist": None,
        "duration": (r["finished"] - r["started"]) // 1_000_000,
        "environment": r["environment"],
        "error_ids": [_hex32("replay-error", r["id"], k) for k in range(r["errors"])],
        "finished_at": fmt(r["finished"], 0),
        "has_viewed": False,
        "id": r["id"],
        "is_archived": False,
        "os": {"name": os_name, "version": os_version},
        "platform": "javascript",
        "project_id": r["project"].id,
        "releases": [],
        "sdk": {"name": "sentry.javascript.browser", "version": "8.33.0"},
        "started_at": fmt(r["started"], 0),
        "tags": {"environment": [r["environment"]]},
        "trace_ids": [_hex32("replay-trace", r["id"])],
        "urls": r["urls"],
        "user": {
            "display_name": r["user"],
            "email": f"{login}@customer.example",
            "id": str(_h("replay-user", r["user"]) % 100_000),
            "ip": None,
            "username": login,
        },
    }


# ---------------------------------------------------------------------- daily aggregates
# Not Sentry's answers but the records the connector makes of them: one per day and group, keyed
# by the day and the group's values joined with `/` (which no version or environment may hold).
def _day(us: int) -> str:
    return fmt(us, 0)[:10]


def session_row(r: aggregates.SessionRow) -> dict:
    return {
        "id": f"{_day(r.day)}/{r.project.id}/{r.release}/{r.environment}",
        "day": fmt(r.day, 0),
        "projectId": r.project.id,
        "release": r.release,
        "environment": r.environment,
        "sessions": r.sessions,
        "users": r.users,
        "crashFreeSessionRate": r.crash_free_rate,
        "crashFreeUserRate": r.crash_free_user_rate,
    }


def outcome_row(r: aggregates.OutcomeRow) -> dict:
    return {
        "id": f"{_day(r.day)}/{r.project.id}/{r.category}/{r.outcome}",
        "day": fmt(r.day, 0),
        "projectId": r.project.id,
        "category": r.category,
        "outcome": r.outcome,
        "quantity": r.quantity,
        "timesSeen": r.times_seen,
    }
