"""The floor: the pages our connector reads, fetched and JSON-decoded by a plain ``requests`` loop
with no connector framework, one request at a time. What this reaches is what the emulator and
the HTTP stack can deliver to a Python client on this machine.

``python -m tools.bench.floor BASE_URL ORG --streams events,issues [--projects a,b]``; the token comes in
``BENCH_TOKEN``. Prints one JSON line: records per stream and requests made.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime, timedelta

import requests


def pages(session: requests.Session, first: str, params: dict) -> tuple[int, int]:
    """Follow ``Link: rel="next"`` while it says results="true"; (records, requests)."""
    records = requests_made = 0
    url: str | None = first
    while url:
        response = session.get(url, params=params, timeout=120)
        response.raise_for_status()
        requests_made += 1
        records += len(response.json())
        nxt = response.links.get("next", {})
        url = nxt.get("url") if nxt.get("results") == "true" else None
        params = {}  # the next link carries the whole query
    return records, requests_made


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.bench.floor")
    ap.add_argument("base_url")
    ap.add_argument("organization")
    ap.add_argument("--streams", default="events,issues")
    ap.add_argument("--projects", default="", help="slugs; default every project")
    args = ap.parse_args(argv)
    session = requests.Session()
    session.headers["Authorization"] = "Bearer " + os.environ["BENCH_TOKEN"]
    api = args.base_url.rstrip("/") + "/api/0/"
    org = args.organization
    now = datetime.now(UTC)
    start = (now - timedelta(days=90)).strftime("%Y-%m-%dT%H:%M:%S.%f")
    end = now.strftime("%Y-%m-%dT%H:%M:%S.%f")
    projects = session.get(f"{api}organizations/{org}/projects/", timeout=60).json()
    wanted = set(filter(None, args.projects.split(",")))
    counts: dict[str, int] = {}
    made = 1
    for project in projects:
        if wanted and project["slug"] not in wanted:
            continue
        for stream in args.streams.split(","):
            if stream == "events":
                url = f"{api}projects/{org}/{project['slug']}/events/"
                params = {"full": "true", "start": start, "end": end, "per_page": 100}
            elif stream == "issues":
                url = f"{api}organizations/{org}/issues/"
                params = {
                    "project": project["id"],
                    "query": f"lastSeen:>={start}",
                    "sort": "date",
                    "start": start,
                    "end": end,
                    "limit": 100,
                }
            else:
                raise SystemExit(f"unknown stream {stream}")
            n, r = pages(session, url, params)
            counts[stream] = counts.get(stream, 0) + n
            made += r
    sys.stdout.write(json.dumps({"records": counts, "requests": made}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
