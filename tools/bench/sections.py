"""The measurements. Each section returns plain data (dicts, lists, numbers); report.py renders it."""

from __future__ import annotations

import json
import math
import os
import subprocess
import time
from pathlib import Path
from typing import Any

from tools.airbyte_run import INCREMENTAL
from tools.bench import clients, measure
from tools.bench.clients import Workdir
from tools.bench.emulator import EmulatorProcess, category
from tools.bench.plan import Plan
from tools.bench.profile import fold

ALL = ["projects", "project_detail", "events", "issues", "releases"]


class Problems(list):
    """Correctness failures of our connector (or of the benchmark): they fail the run."""

    def check(self, ok: bool, what: str) -> bool:
        if not ok:
            self.append(what)
        return ok


def _row(m: measure.Measurement, req: dict, stream: str | None = None) -> dict:
    records = m.counts[stream] if stream else m.records
    return {
        "wall": m.wall,
        "cpu": m.cpu,
        "rss": m.peak_rss_mb,
        "records": records,
        "requests": req["total"],
        "req_429": req["429"],
        "server_cpu": req.get("server_cpu"),
        "rc": m.returncode,
    }


def _fail_text(m: measure.Measurement) -> str:
    return f"exit {m.returncode}; errors {m.errors[:2]}; stderr {m.stderr_tail[-400:]!r}"


# 1, 2, 4, 6 and the profile share the emulators of each size ----------------------------------------
def throughput_and_incremental(plan: Plan, work: Workdir, problems: Problems, log) -> dict[str, Any]:
    out: dict[str, Any] = {"throughput": {}, "incremental": {}, "memory": {}, "profile": None}
    for size in plan.throughput_sizes:
        runs = plan.throughput_runs.get(size, 1)
        with EmulatorProcess(events=size, issues=plan.issues(size), projects=plan.projects) as emu:
            log(f"throughput: {size:,} events (emulator up in {emu.startup_seconds:.1f} s)")
            entry: dict[str, Any] = {"emulator_startup": emu.startup_seconds, "streams": {}}
            states: dict[str, dict] = {}
            for stream in ("events", "issues"):
                expected = emu.expected_count(stream)
                ours, base = [], []
                for _ in range(runs):
                    m, req = clients.read(clients.OURS, emu, work, clients.our_config(emu), [stream])
                    ok = problems.check(
                        m.returncode == 0 and m.counts[stream] == expected,
                        f"{stream} at {size:,}: {m.counts[stream]:,} records, expected {expected:,}; "
                        + _fail_text(m),
                    )
                    ours.append({**_row(m, req, stream), "ok": ok})
                    states.update(m.states)
                    f, freq = clients.floor(emu, [stream])
                    problems.check(
                        f.returncode == 0 and f.counts[stream] == expected,
                        f"floor {stream} at {size:,}: {f.counts[stream]:,} records, expected {expected:,}; "
                        + _fail_text(f),
                    )
                    base.append(_row(f, freq, stream))
                entry["streams"][stream] = {"expected": expected, "ours": ours, "floor": base}
                log(
                    f"  {stream}: ours {measure.median([r['wall'] for r in ours]):.1f} s, "
                    f"floor {measure.median([r['wall'] for r in base]):.1f} s"
                )
            out["throughput"][size] = entry
            if size in plan.memory_sizes:
                out["memory"][size] = [r["rss"] for r in entry["streams"]["events"]["ours"]]
            # The profile before the incremental runs, which add events to this emulator.
            if plan.profile and size == max(plan.throughput_sizes):
                out["profile"] = profile_run(emu, work, log)
                out["profile_declarative"] = profile_run(emu, work, log, declarative=True)
            if size in plan.incremental_history:
                out["incremental"][size] = incremental(plan, emu, work, states, size, problems, log)
    for size in plan.memory_sizes:
        if size in out["memory"]:
            continue
        with EmulatorProcess(events=size, issues=plan.issues(size), projects=plan.projects) as emu:
            log(f"memory: {size:,} events (emulator up in {emu.startup_seconds:.1f} s)")
            m, req = clients.read(
                clients.OURS, emu, work, clients.our_config(emu), ["events"], mode="full_refresh"
            )
            expected = emu.expected_count("events")
            problems.check(
                m.returncode == 0 and m.counts["events"] == expected,
                f"memory run at {size:,}: {m.counts['events']:,} events, expected {expected:,}; "
                + _fail_text(m),
            )
            out["memory"][size] = [m.peak_rss_mb]
            out.setdefault("memory_runs", {})[size] = {
                **_row(m, req, "events"),
                "emulator_startup": emu.startup_seconds,
            }
            log(f"  {m.wall:.0f} s, peak RSS {m.peak_rss_mb:.0f} MB")
    return out


def incremental(
    plan: Plan, emu: EmulatorProcess, work: Workdir, states: dict, size: int, problems: Problems, log
) -> dict[int, list[dict[str, Any]]]:
    """Syncs after N new events in one project, each from the state the one before left."""
    config = clients.our_config(emu)
    state = list(states.values())
    # Bring projects, project_detail and releases to a state too, so every stream is incremental.
    m, _ = clients.read(clients.OURS, emu, work, config, ALL, state=state)
    problems.check(m.returncode == 0, f"incremental warm-up at {size:,}: {_fail_text(m)}")
    current = {**states, **m.states}
    slug = emu.slugs[0]
    result: dict[int, list[dict[str, Any]]] = {}
    for new in plan.incremental_new[size]:
        runs = plan.incremental_runs if new <= 1_000 else 1
        rows = []
        for _ in range(runs):
            emu.add_events(slug, new)
            m, req = clients.read(clients.OURS, emu, work, config, ALL, state=list(current.values()))
            new_issues = math.ceil(new / 1000)  # the emulator opens one issue per add_events call
            ok = problems.check(
                m.returncode == 0 and m.counts["events"] == new and m.counts["issues"] == new_issues,
                f"incremental after {new} new events in {size:,}: {dict(m.counts)}; " + _fail_text(m),
            )
            current.update(m.states)
            rows.append(
                {
                    **_row(m, req),
                    "by_category": req["by_category"],
                    "counts": dict(m.counts),
                    "ok": ok,
                }
            )
        result[new] = rows
        log(
            f"  incremental at {size:,} + {new:,}: {measure.median([r['requests'] for r in rows]):.0f} "
            f"requests, {measure.median([r['wall'] for r in rows]):.1f} s"
        )
    return result


def profile_run(emu: EmulatorProcess, work: Workdir, log, declarative: bool = False) -> dict[str, Any] | None:
    """py-spy over one full events sync: of the packaged connector, or (`declarative`) of the Cloud
    manifest run by the CDK's `source-declarative-manifest`, as Airbyte Cloud runs it: the manifest
    before the packaged connector swaps in its Python components."""
    spy = clients.DEV_BIN / "py-spy"
    if not spy.exists():
        return None
    raw = work.path / ("profile-declarative.txt" if declarative else "profile.txt")
    args = work.read_args(clients.our_config(emu), ["events"], "full_refresh")
    command = [clients.OURS, *args]
    if declarative:
        manifest = Path(__file__).resolve().parents[2] / "cloud" / "manifest.yaml"
        runner = str(clients.DEV_BIN / "source-declarative-manifest")
        command = [runner, *args, "--manifest-path", str(manifest)]
    m = measure.run(
        [str(spy), "record", "--nonblocking", "--gil", "--rate", "100", "--format", "raw",
         "--output", str(raw), "--", *command],
        cwd=work.path,
        env=clients.our_env(),
    )  # fmt: skip
    if m.returncode != 0 or not raw.exists():
        log(f"  profile failed: {m.stderr_tail[-300:]}")
        return None
    folded = fold(raw.read_text())
    folded["wall"] = m.wall
    folded["records"] = m.counts.get("events", 0)
    which = " (Cloud manifest)" if declarative else ""
    log(f"  profiled events sync{which}: {m.wall:.0f} s, {folded['samples']} samples")
    return folded


# 3. Airbyte's own connector ---------------------------------------------------------------------
def official(plan: Plan, work: Workdir, problems: Problems, log) -> dict[str, Any]:
    clients.ensure_venv(clients.OFFICIAL_VENV, clients.OFFICIAL_PACKAGE)
    versions = clients.package_versions(clients.OFFICIAL_VENV, clients.OFFICIAL_PACKAGE, "airbyte-cdk")
    out: dict[str, Any] = {"versions": versions, "sizes": {}}
    theirs_cmd = clients.official_command()
    for size, runs in plan.official_sizes.items():
        with EmulatorProcess(events=size, issues=plan.issues(size), projects=plan.projects, tls=True) as emu:
            log(f"official connector: {size:,} events over https")
            clients.trust_ca_in_official_venv(emu.tls_ca_cert)
            env = dict(os.environ, REQUESTS_CA_BUNDLE=emu.tls_ca_cert)
            truth = _all_streams_truth(emu)
            ours_rows, theirs_rows = [], []
            ours_state, theirs_states = None, {}
            config = clients.our_config(emu, bare_host=True)
            for _ in range(runs):
                m, req = clients.read(clients.OURS, emu, work, config, ALL, env=env, collect_ids=True)
                problems.check(
                    m.returncode == 0 and all(m.counts[s] == truth[s] for s in truth),
                    f"ours over https at {size:,}: {dict(m.counts)} vs {truth}; " + _fail_text(m),
                )
                ours_rows.append(_org_row([(m, req)]))
                ours_state = m.state_file_content()
                per_project = []
                for slug in emu.slugs:
                    tm, treq = clients.read(
                        theirs_cmd,
                        emu,
                        work,
                        clients.official_config(emu, slug),
                        ALL,
                        env=env,
                        collect_ids=True,
                    )
                    per_project.append((tm, treq))
                    theirs_states[slug] = tm.state_file_content()
                theirs_rows.append(_org_row(per_project))
            # An incremental sync right after, with nothing new: what each emits again.
            m, req = clients.read(clients.OURS, emu, work, config, ALL, env=env, state=ours_state)
            ours_again = _org_row([(m, req)])
            per_project = []
            for slug in emu.slugs:
                per_project.append(
                    clients.read(
                        theirs_cmd, emu, work, clients.official_config(emu, slug), ALL, env=env,
                        state=theirs_states[slug],
                    )
                )  # fmt: skip
            theirs_again = _org_row(per_project)
            out["sizes"][size] = {
                "truth": truth,
                "ours": ours_rows,
                "theirs": theirs_rows,
                "ours_again": ours_again,
                "theirs_again": theirs_again,
                "projects": len(emu.slugs),
            }
            log(
                f"  ours {measure.median([r['wall'] for r in ours_rows]):.1f} s, theirs (all projects) "
                f"{measure.median([r['wall'] for r in theirs_rows]):.1f} s"
            )
    if plan.official_sizes:
        out["one_project"] = _official_one_project(plan, work, problems, log, theirs_cmd)
    return out


def _official_one_project(plan: Plan, work: Workdir, problems: Problems, log, theirs_cmd: str) -> dict:
    """Both connectors on an organization of one project, where each needs one connection: the
    throughput comparison of issue 13 (all five streams, first sync, runs interleaved)."""
    size = max(plan.official_sizes)
    with EmulatorProcess(events=size, issues=plan.issues(size), projects=1, tls=True) as emu:
        log(f"official connector: one project of {size:,} events over https")
        clients.trust_ca_in_official_venv(emu.tls_ca_cert)
        env = dict(os.environ, REQUESTS_CA_BUNDLE=emu.tls_ca_cert)
        truth = _all_streams_truth(emu)
        ours_rows, theirs_rows = [], []
        for _ in range(plan.official_sizes[size]):
            m, req = clients.read(
                clients.OURS, emu, work, clients.our_config(emu, bare_host=True), ALL, env=env
            )
            problems.check(
                m.returncode == 0 and all(m.counts[s] == truth[s] for s in truth),
                f"ours over https, one project of {size:,}: {dict(m.counts)} vs {truth}; " + _fail_text(m),
            )
            ours_rows.append(_org_row([(m, req)]))
            config = clients.official_config(emu, emu.slugs[0])
            tm, treq = clients.read(theirs_cmd, emu, work, config, ALL, env=env)
            problems.check(
                tm.returncode == 0 and all(tm.counts[s] == truth[s] for s in truth),
                f"Airbyte's, one project of {size:,}: {dict(tm.counts)} vs {truth}; " + _fail_text(tm),
            )
            theirs_rows.append(_org_row([(tm, treq)]))
        log(
            f"  ours {measure.median([r['wall'] for r in ours_rows]):.1f} s, theirs "
            f"{measure.median([r['wall'] for r in theirs_rows]):.1f} s"
        )
    return {"events": size, "truth": truth, "ours": ours_rows, "theirs": theirs_rows}


def _all_streams_truth(emu: EmulatorProcess) -> dict[str, int]:
    """The records a first sync of the five streams in ALL must emit, from the emulator's data."""
    truth = {s: emu.expected_count(s) for s in ("events", "issues", "projects", "releases")}
    truth["project_detail"] = len(emu.slugs)
    return truth


def _org_row(runs: list[tuple[measure.Measurement, dict]]) -> dict[str, Any]:
    """One organization's sync: the sum over its connections (one per project for theirs)."""
    counts: dict[str, int] = {}
    unique: dict[str, set] = {}
    for m, _ in runs:
        for stream, n in m.counts.items():
            counts[stream] = counts.get(stream, 0) + n
        for stream, ids in m.ids.items():
            unique.setdefault(stream, set()).update(ids)
    return {
        "wall": sum(m.wall for m, _ in runs),
        "cpu": sum(m.cpu for m, _ in runs),
        "rss": max(m.peak_rss_mb for m, _ in runs),
        "requests": sum(r["total"] for _, r in runs),
        "records": sum(counts.values()),
        "counts": counts,
        "unique": {s: len(v) for s, v in unique.items()},
        "connections": len(runs),
        "rc": [m.returncode for m, _ in runs],
        "errors": [e[:200] for m, _ in runs for e in m.errors][:3],
    }


# 5. Rate limits --------------------------------------------------------------------------------
def rate_limited(plan: Plan, work: Workdir, problems: Problems, log) -> dict[str, Any]:
    from sentry_emulator.ratelimit import SENTRY_LIMITS

    limits = dict(SENTRY_LIMITS)
    for cat, spec in plan.rate_overrides.items():
        parts = spec.split("/")
        limits[cat] = (int(parts[0]), float(parts[1]), int(parts[2]) if len(parts) > 2 else limits[cat][2])
    size = plan.rate_limited_events
    runs: list[dict[str, Any]] = []
    with EmulatorProcess(
        events=size, issues=plan.issues(size), projects=plan.projects, rate_limits="sentry",
        overrides=plan.rate_overrides,
    ) as emu:  # fmt: skip
        expected = {s: emu.expected_count(s) for s in ("events", "issues")}
        for workers in plan.rate_limited_workers:
            log(
                f"rate-limited: {size:,} events, events limit "
                f"{limits['events'][0]}/{limits['events'][1]:g} s/{limits['events'][2]} in flight, "
                f"num_workers {workers}"
            )
            run = _rate_limited_run(emu, work, limits, workers)
            problems.check(
                run["rc"] == 0 and all(run["records"].get(s) == n for s, n in expected.items()),
                f"rate-limited sync, num_workers {workers}: {run['records']} vs {expected}; {run['fail']}",
            )
            runs.append(run)
            log(f"  {run['wall']:.1f} s, least {run['least']:.1f} s, {run['req_429']} answered 429")
    return {
        "events": size,
        "limits": {c: list(v) for c, v in limits.items()},
        "runs": runs,
        "overridden": bool(plan.rate_overrides),
    }


def _rate_limited_run(emu: EmulatorProcess, work: Workdir, limits: dict, workers: int) -> dict[str, Any]:
    # Start just after an events window opens, so the least possible time is the same each run.
    window = limits["events"][1]
    time.sleep((window - time.time() % window) % window + 0.05)
    config = {**clients.our_config(emu), "num_workers": workers}
    m, _ = clients.read(clients.OURS, emu, work, config, ALL)
    entries = emu.request_log()
    t0 = m.started
    by_cat: dict[str, dict[str, int]] = {}
    per_window: dict[int, int] = {}
    concurrency_429 = 0
    for e in entries:
        cat = category(e["path"])
        slot = by_cat.setdefault(cat, {"ok": 0, "rejected": 0})
        if e["status"] == 429:
            slot["rejected"] += 1
            headers = e.get("response_headers") or {}
            concurrency_429 += headers.get("X-Sentry-Rate-Limit-ConcurrentRemaining") == "0"
        else:
            slot["ok"] += 1
            if cat == "events":
                bucket = int(e["time"] // window)
                per_window[bucket] = per_window.get(bucket, 0) + 1
    least = 0.0
    for cat, counts in by_cat.items():
        limit, win, _conc = limits[cat]
        later_windows = math.ceil(counts["ok"] / limit) - 1
        if later_windows > 0:
            least = max(least, (math.floor(t0 / win) + later_windows) * win - t0)
    first = min(per_window) if per_window else 0
    return {
        "num_workers": workers,
        "wall": m.wall,
        "least": least,
        "by_category": by_cat,
        "req_429": sum(c["rejected"] for c in by_cat.values()),
        "concurrency_429": concurrency_429,
        "requests": sum(c["ok"] + c["rejected"] for c in by_cat.values()),
        "events_per_window": [per_window[k] for k in sorted(per_window)],
        "first_window_offset": t0 - first * window if per_window else None,
        "records": dict(m.counts),
        "rc": m.returncode,
        "fail": _fail_text(m) if m.returncode else "",
    }


# 6. Injected faults ---------------------------------------------------------------------------------
def faults(plan: Plan, work: Workdir, problems: Problems, log) -> dict[str, Any]:
    """Every stream of one organization through each fault mix, ours against Airbyte's connector
    (one connection per project, as it needs), each from a freshly seeded mix."""
    external = plan.external
    if external:
        clients.ensure_venv(clients.OFFICIAL_VENV, clients.OFFICIAL_PACKAGE)
    size = plan.fault_events
    out: dict[str, Any] = {"events": size, "mixes": {}, "runs": plan.fault_runs}
    with EmulatorProcess(
        events=size, issues=plan.issues(size), projects=plan.projects, tls=external
    ) as emu:  # fmt: skip
        env = dict(os.environ)
        if external:
            clients.trust_ca_in_official_venv(emu.tls_ca_cert)
            env["REQUESTS_CA_BUNDLE"] = emu.tls_ca_cert
        truth = _all_streams_truth(emu)
        out["truth_records"] = sum(truth.values())
        for name, spec in plan.fault_mixes.items():
            log(f"faults: {name} ({spec})")
            ours, theirs = [], []
            for _ in range(plan.fault_runs):
                emu.control("faults", spec=spec)
                m, req = clients.read(
                    clients.OURS, emu, work, clients.our_config(emu, bare_host=external), ALL, env=env,
                    collect_ids=True,
                )  # fmt: skip
                duplicates = {s: sum(n - 1 for n in ids.values() if n > 1) for s, ids in m.ids.items()}
                problems.check(
                    m.returncode == 0 and all(m.counts[s] == truth[s] for s in truth)
                    and not any(duplicates.values()),
                    f"ours under {name}: {dict(m.counts)} vs {truth}, duplicates {duplicates}; "
                    + _fail_text(m),
                )  # fmt: skip
                ours.append({**_row(m, req), "faults": _faults_hit(emu)})
                if external:
                    per_project = []
                    hit = 0
                    emu.control("faults", spec=spec)
                    for slug in emu.slugs:
                        per_project.append(
                            clients.read(
                                clients.official_command(), emu, work, clients.official_config(emu, slug),
                                ALL, env=env,
                            )
                        )  # fmt: skip
                        hit += _faults_hit(emu)
                    theirs.append({**_org_row(per_project), "faults": hit})
            emu.control("clear_faults")
            out["mixes"][name] = {"spec": spec, "ours": ours, "theirs": theirs}
            log(
                f"  ours {measure.median([r['wall'] for r in ours]):.1f} s"
                + (f", theirs {measure.median([r['wall'] for r in theirs]):.1f} s" if theirs else "")
            )
    return out


def _faults_hit(emu: EmulatorProcess) -> int:
    return sum(1 for e in emu.request_log() if e.get("fault"))


# 10. A server slow to build pages: windows read side by side -----------------------------------------
PARALLEL_WORKERS = 4


def parallel(plan: Plan, work: Workdir, problems: Problems, log) -> dict[str, Any]:
    """Whole-organization events from a server that takes ``page_latency_ms`` per page: ours with
    4 workers (windows of `event_window_days`, and without windows), against the floor reading the
    same pages one after another. Events span the 90 days a first sync reads."""
    size = plan.parallel_events
    out: dict[str, Any] = {"events": size, "latency_ms": plan.page_latency_ms, "workers": PARALLEL_WORKERS}
    with EmulatorProcess(
        events=size, issues=plan.issues(size), projects=plan.projects, span_days=89,
        page_latency_ms=plan.page_latency_ms,
    ) as emu:  # fmt: skip
        log(f"parallel: {size:,} events, {plan.page_latency_ms:g} ms a page")
        expected = emu.expected_count("events")
        runs = {
            "windows": {"num_workers": PARALLEL_WORKERS},
            "one_window": {"num_workers": PARALLEL_WORKERS, "event_window_days": 0},
        }
        for name, extra in runs.items():
            config = {**clients.our_config(emu), **extra}
            m, req = clients.read(clients.OURS, emu, work, config, ["events"], collect_ids=True)
            problems.check(
                m.returncode == 0 and m.counts["events"] == expected and m.duplicates("events") == 0,
                f"parallel {name}: {m.counts['events']:,} events, expected {expected:,} once each; "
                + _fail_text(m),
            )
            out[name] = _row(m, req, "events")
        f, freq = clients.floor(emu, ["events"])
        problems.check(
            f.returncode == 0 and f.counts["events"] == expected,
            f"parallel floor: {f.counts['events']:,} events, expected {expected:,}; " + _fail_text(f),
        )
        out["floor"] = _row(f, freq, "events")
    out["expected"] = expected
    log(
        f"  ours {out['windows']['wall']:.1f} s, one window a project {out['one_window']['wall']:.1f} s, "
        f"floor {out['floor']['wall']:.1f} s"
    )
    return out


# 7. Start-up and the notifier -------------------------------------------------------------------------
def startup(plan: Plan, work: Workdir, problems: Problems, log) -> dict[str, Any]:
    out: dict[str, Any] = {}
    clients.compile_ours()
    with EmulatorProcess(events=100, issues=5, projects=plan.projects) as emu:
        log("start-up: spec, notify --dry-run, notify, sentry-cli")
        slug = emu.slugs[0]
        env = dict(
            os.environ, SENTRY_AUTH_TOKEN=emu.token, SENTRY_ORG=emu.organization, SENTRY_URL=emu.base_url
        )
        rows: dict[str, list[dict]] = {
            "spec": [],
            "notify --dry-run": [],
            "notify": [],
            COMMITS_AUTO: [],
            COMMITS_LOCAL: [],
            "sentry-cli": [],
        }

        for i in range(plan.startup_runs):
            m = measure.run([clients.OURS, "spec"], cwd=work.path, env=clients.our_env())
            problems.check(m.returncode == 0 and '"SPEC"' in m.stdout_tail, f"spec: {_fail_text(m)}")
            rows["spec"].append({"wall": m.wall, "cpu": m.cpu, "rss": m.peak_rss_mb, "requests": 0})
            version = f"bench-{int(time.time())}-{i}"
            notify = [clients.OURS, "notify", "--release", version, "--env", "production", "--project", slug]
            for label, argv in (("notify --dry-run", [*notify, "--dry-run"]), ("notify", notify)):
                emu.reset_log()
                m = measure.run(argv, env=clients.our_env(env), cwd=work.path, parse=False)
                req = emu.request_counts()
                out.setdefault("sent", {})[label] = _sent(emu, version)
                problems.check(m.returncode == 0, f"{label}: {_fail_text(m)}")
                if label == "notify":
                    problems.check(
                        _wrote_deploy(emu, version), f"notify did not create a deploy of {version}"
                    )
                rows[label].append(
                    {"wall": m.wall, "cpu": m.cpu, "rss": m.peak_rss_mb, "requests": req["total"]}
                )
            if plan.external:
                rows["sentry-cli"].append(_sentry_cli(emu, slug, f"{version}-cli", work, problems))
                out.setdefault("sent", {})["sentry-cli"] = rows["sentry-cli"][-1]["sent"]
        _notify_with_commits(plan, work, rows, out, problems)
        out["rows"] = {k: v for k, v in rows.items() if v}
    if plan.external:
        version = subprocess.run([clients.sentry_cli(), "--version"], capture_output=True, text=True).stdout
        out["sentry_cli_version"] = version.strip()
    return out


COMMITS_AUTO = "notify, commits auto (refs)"
COMMITS_LOCAL = "notify, commits local"
_GIT_ENV = {
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, env={**os.environ, **_GIT_ENV}, check=True, capture_output=True)


def _checkout(repo: Path) -> Path:
    """A work tree whose remote Sentry knows (the emulator reads its history for refs)."""
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "remote", "add", "origin", "https://github.com/acme/bench.git")
    for k in range(30):
        _git(repo, "commit", "-q", "--allow-empty", "-m", f"Change {k}")
    return repo


def _notify_with_commits(plan: Plan, work: Workdir, rows: dict, out: dict, problems: Problems) -> None:
    """``notify`` in a work tree after 3 new commits, through the repository Sentry knows (one
    project) and from local history (the other, so each finds its own previous release); each
    release must end up with exactly those 3. An emulator of its own, with no generated releases
    (their commits are in no history here), and one unmeasured round first, so that every
    measured release has a previous one."""
    checkout = _checkout(work.path / "checkout")
    with EmulatorProcess(events=10, issues=1, projects=2, releases=0) as emu:
        emu.control(
            "add_repository", name="acme/bench", url="https://github.com/acme/bench", path=str(checkout)
        )
        env = dict(
            os.environ, SENTRY_AUTH_TOKEN=emu.token, SENTRY_ORG=emu.organization, SENTRY_URL=emu.base_url
        )
        for i in range(plan.startup_runs + 1):
            for k in range(3):
                _git(checkout, "commit", "-q", "--allow-empty", "-m", f"Round {i} change {k}")
            for label, slug, mode in (
                (COMMITS_AUTO, emu.slugs[0], "auto"),
                (COMMITS_LOCAL, emu.slugs[1], "local"),
            ):
                release = f"bench-{i}-{mode}"
                argv = [
                    clients.OURS,
                    "notify",
                    "--release",
                    release,
                    "--env",
                    "production",
                    "--project",
                    slug,
                ]
                emu.reset_log()
                m = measure.run(
                    [*argv, "--commits", mode], env=clients.our_env(env), cwd=checkout, parse=False
                )
                req = emu.request_counts()
                problems.check(m.returncode == 0, f"{label}: {_fail_text(m)}")
                if i == 0:
                    continue
                out.setdefault("sent", {})[label] = _sent(emu, release)
                linked = [
                    c for c in emu.control("ground_truth", kind="release_commits") if c["release"] == release
                ]
                problems.check(len(linked) == 3, f"{label}: the release has {len(linked)} commits, not 3")
                rows[label].append(
                    {"wall": m.wall, "cpu": m.cpu, "rss": m.peak_rss_mb, "requests": req["total"]}
                )


def _wrote_deploy(emu: EmulatorProcess, version: str) -> bool:
    return any(
        e["method"] == "POST" and e["path"].endswith("/deploys/") and e["status"] == 201
        and version in e["path"]
        for e in emu.request_log()
    )  # fmt: skip


def _sentry_cli(emu: EmulatorProcess, slug: str, version: str, work: Workdir, problems: Problems) -> dict:
    clients.ensure_venv(clients.CLI_VENV, "sentry-cli")
    env = dict(
        os.environ,
        SENTRY_URL=emu.base_url,
        SENTRY_AUTH_TOKEN=emu.token,
        SENTRY_ORG=emu.organization,
        SENTRY_PROJECT=slug,
        SENTRY_LOAD_DOTENV="0",
        SENTRYCLI_SKIP_DOWNLOAD="1",
    )
    emu.reset_log()
    wall = cpu = rss = 0.0
    for argv in (
        [clients.sentry_cli(), "releases", "new", version],
        [clients.sentry_cli(), "deploys", "new", "--release", version, "-e", "production"],
    ):
        m = measure.run(argv, env=env, cwd=work.path, parse=False)
        problems.check(m.returncode == 0, f"sentry-cli {argv[1:3]}: {_fail_text(m)} {m.stdout_tail[-300:]}")
        wall, cpu, rss = wall + m.wall, cpu + m.cpu, max(rss, m.peak_rss_mb)
    requests_seen = emu.request_counts()["total"]
    problems.check(_wrote_deploy(emu, version), f"sentry-cli did not create a deploy of {version}")
    return {"wall": wall, "cpu": cpu, "rss": rss, "requests": requests_seen, "sent": _sent(emu, version)}


def _sent(emu: EmulatorProcess, version: str) -> list[str]:
    """What a run sent, as `METHOD path status`, the version written `{version}`."""
    return [
        f"{e['method']} {e['path'].replace(version, '{version}')} {e['status']}" for e in emu.request_log()
    ]


# 7. Issue status refresh ------------------------------------------------------------------------
def _previous_period(state: dict) -> dict:
    """The issues state as the next status period finds it: every cursor of an older period."""
    blob = state["stream"]["stream_state"]
    states = [
        {**entry, "partition": {**entry["partition"], "status_period": "2000-01-01T00:00:00Z"}}
        for entry in blob.get("states", [])
    ]
    return {**state, "stream": {**state["stream"], "stream_state": {**blob, "states": states}}}


def status_refresh(plan: Plan, work: Workdir, problems: Problems, log) -> dict[int, dict[str, Any]]:
    """What keeping issue statuses fresh costs: the first sync of a status period re-reads every
    issue in scope, the others in the period only what moved."""
    out: dict[int, dict[str, Any]] = {}
    for issues in plan.status_refresh_issues:
        with EmulatorProcess(events=issues * 2, issues=issues, projects=plan.projects) as emu:
            config = clients.our_config(emu)
            first, first_req = clients.read(clients.OURS, emu, work, config, ["issues"])
            same, same_req = clients.read(
                clients.OURS, emu, work, config, ["issues"], state=first.state_file_content()
            )
            swept, swept_req = clients.read(
                clients.OURS, emu, work, config, ["issues"], state=[_previous_period(first.states["issues"])]
            )
            # Issues with no event in the emulator's window are not in scope of any sync.
            expected = len(emu.ground_truth("issues"))
            problems.check(
                (first.counts["issues"], same.counts["issues"], swept.counts["issues"])
                == (expected, 0, expected),
                f"status refresh at {issues:,} issues: first {first.counts['issues']}, same period "
                f"{same.counts['issues']}, next period {swept.counts['issues']}",
            )
            out[issues] = {
                "in_scope": expected,
                "first": _row(first, first_req, "issues"),
                "same_period": _row(same, same_req, "issues"),
                "next_period": _row(swept, swept_req, "issues"),
                "issues_requests": {
                    "first": first_req["by_category"].get("issues", 0),
                    "same_period": same_req["by_category"].get("issues", 0),
                    "next_period": swept_req["by_category"].get("issues", 0),
                },
            }
            counted = out[issues]["issues_requests"]
            log(
                f"  status refresh at {issues:,} issues: {counted['next_period']} issues requests for "
                f"the refresh, {counted['same_period']} for a sync in the period"
            )
    return out


def _rereading_streams() -> set[str]:
    """Streams whose cursor reaches back (a positive `lookback_window`) to read recent days again."""
    from source_sentry.manifest import load_manifest

    streams = load_manifest()["definitions"]["streams"]
    rereading = set()
    for name, stream in streams.items():
        window = str((stream.get("incremental_sync") or {}).get("lookback_window") or "")
        if window and not window.startswith("-"):
            rereading.add(stream.get("name", name))
    return rereading


# 10. Requests per stream ------------------------------------------------------------------------
def requests_per_stream(plan: Plan, work: Workdir, problems: Problems, log) -> dict[str, Any]:
    """A first sync of every stream discover lists, then an unchanged incremental sync from its
    state, on the organization `make sync` loads; each request is put on the stream(s) whose
    manifest path it matches."""
    from tools.bench.streams import endpoints, requests_by_endpoint
    from tools.local_sync import Sample

    sample = Sample(events=plan.per_stream_events)
    known = endpoints()
    kwargs = sample.emulator_kwargs()
    with EmulatorProcess(
        events=kwargs["events"], issues=kwargs["issues"], projects=kwargs["projects"],
        releases=kwargs["releases"], seed=kwargs["seed"],
    ) as emu:  # fmt: skip
        config = clients.our_config(emu)
        streams = _discovered_streams(emu, work, config)
        log(f"requests per stream: {len(streams)} streams, {sample.events:,} events")
        first, _ = clients.read(clients.OURS, emu, work, config, streams)
        first_log = emu.request_log()
        again, _ = clients.read(clients.OURS, emu, work, config, streams, state=first.state_file_content())
        again_log = emu.request_log()
    problems.check(first.returncode == 0, f"requests per stream, first sync: {_fail_text(first)}")
    problems.check(again.returncode == 0, f"requests per stream, unchanged sync: {_fail_text(again)}")
    rereading = _rereading_streams()
    for stream in streams:
        # sessions and usage_stats read their last days again on purpose (counts of a recent day
        # still grow): their rows come again under the same key, and only those days' rows.
        if stream in INCREMENTAL and stream not in rereading:
            problems.check(
                again.counts[stream] == 0,
                f"unchanged incremental sync sent {again.counts[stream]} {stream} records again",
            )
    return {
        "sample": {"events": sample.events, "issues": sample.issues, "projects": sample.projects,
                   "releases": sample.releases, "seed": sample.seed},
        "streams": streams,
        "incremental": [s for s in streams if s in INCREMENTAL],
        "rereading": [s for s in streams if s in rereading],
        "endpoints": [{"template": e.template, "shown": e.shown, "streams": list(e.streams)} for e in known],
        "first": {"requests": dict(requests_by_endpoint(first_log, known)), "records": dict(first.counts),
                  "total": len(first_log), "wall": first.wall},
        "again": {"requests": dict(requests_by_endpoint(again_log, known)), "records": dict(again.counts),
                  "total": len(again_log), "wall": again.wall},
    }  # fmt: skip


def _discovered_streams(emu: EmulatorProcess, work: Workdir, config: dict) -> list[str]:
    path = work.path / "discover.config.json"
    path.write_text(json.dumps(config))
    done = subprocess.run(
        [clients.OURS, "discover", "--config", str(path)], capture_output=True, text=True,
        env=clients.our_env(),
        timeout=300,
    )  # fmt: skip
    for line in done.stdout.splitlines():
        if line.startswith("{") and '"CATALOG"' in line:
            return [s["name"] for s in json.loads(line)["catalog"]["streams"]]
    raise RuntimeError(f"discover gave no catalog: {done.stderr[-300:]}")
