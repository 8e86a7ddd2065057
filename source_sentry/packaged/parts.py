"""Parts of a long span, so that an interrupted first sync resumes instead of starting over.

Sentry lists a project's events newest first. A project read as one window (sentry.io, one events
request in flight, `num_workers` 1) can only move its state when that window is finished: a sync
stopped at 90% had saved nothing, and its retry read 100% again. Here each project's span is cut,
before it is read, into parts of at most PART_EVENTS events, read oldest first; the state of the
project moves when a part ends and is emitted then (cursors.py), so a retry reads again at most the
part that was in flight.

How the parts are found: one request of one event at offset PART_EVENTS over the span (Sentry's
cursor `0:5000:0`). No event there: the span holds at most PART_EVENTS events and stays one part,
for that one request. Otherwise that event's date is a boundary: the newer side holds PART_EVENTS
events, the older side is asked the same way, until an answer is empty. A project of N events costs
N // PART_EVENTS + 1 such requests, about 2% of its pages, all sent before its first page. (Sentry's
stats endpoints count per day and per organization: one request for all projects, but a busy day
alone can hold more than a part, and it counts events received, of every project, at another
resolution than the list is filtered by; the probe asks the list itself.)

Why 5,000: a part is at most 50 pages of 100, under a minute at sentry.io's 60 events requests a
minute, so an interruption costs at most about a minute of reading, and a part's deepest page
(offset 4,900, plus the events of the hour each window reads past its end) stays under the 10,000
offset that some Sentry versions refuse. A project with more than 5,000 events in one hour cannot
be cut finer than that hour: there the rest of the span stays one part.

Issues (`issues`, by lastSeen) are cut the same way, with what differs in how Sentry pages its
issue search: by score (`sort=date`: lastSeen in milliseconds) with cursors `score:offset`, the
offset counted among the issues scored at most `score`, and a `limit`. The probe asks `limit=1` at
`{score of the span's end}:5000:0`. The search lists an issue with any event in the window, so a
part would also list every newer issue still alive after it: each part but the newest starts its
first page at its own end's score (`part_start`, sent by the stream's requester), and Sentry's
next cursors, whose offsets count only issues of one score, never go deep. The search may answer
a page short, even empty, with more to come: an empty probe answer is asked again at its next
cursor. The status refresh (`issue_status_refresh_hours`) re-reads every issue in scope and is
planned like a first sync: one probe per project a period, an interrupted refresh resumes.

Only the packaged connector plans: the Cloud manifest cannot send a request to cut its windows.
A span of a day or less (an incremental sync) is not planned, and costs what it cost; GlitchTip
ignores `start`/`end` (and `cursor` offsets), so it is never planned.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol

import requests
from airbyte_cdk.sources.types import StreamSlice

from source_sentry.packaged.probes import REFUSED_OFFSET

PART_EVENTS: Final = 5000
# A span this long or shorter is read as it was: an incremental sync costs no extra request.
PLAN_MIN_SPAN: Final = timedelta(days=1)
# At most this many probes per project (5 million events); the rest of the span is then one part.
MAX_PROBES: Final = 1000
# Streams planned, and the record field whose date is a boundary (the stream's cursor field).
PLANNED_STREAMS: Final = {"events": "dateReceived", "issues": "lastSeen"}
# Streams whose list Sentry pages by score (issues sorted by date: lastSeen in milliseconds) with
# cursors `score:offset`, an offset counted among the items scored at most `score`. Their list is
# not narrowed at the top by the request's dates (an issue seen after a part's end is still
# listed), so a part's first page starts at its end's score; the probe asks `limit` items.
SCORE_PAGED: Final = frozenset({"issues"})
REFUSED: Final = "refused"
# `off` in the environment reads every span as before this planner (one window a project where
# windows are not read side by side, state at the CDK's pace): for a server that refuses the
# probe in another way than a 400, and for the benchmark's "before".
SWITCH: Final = "SOURCE_SENTRY_EVENT_PARTS"


def enabled_by_environment() -> bool:
    return os.environ.get(SWITCH, "").strip().lower() != "off"


class Requester(Protocol):
    """What the planner asks of a stream's requester: a request of one window with its own
    parameters, retried as a page is, whose 400 (a server refusing the probe's offset) is an
    answer, not a failure (probes.py)."""

    def send_probe(self, window: StreamSlice, params: Mapping[str, str]) -> requests.Response | None: ...


class PartPlans:
    """The planners of one source's streams, one per planned stream. The component factory keeps
    it and hands a stream's planner to the stream's cursors, which ask it for a project's parts,
    and to the stream's requester, which sends its probes (`PartPlanner.requester`) and asks it
    where a part's first page starts (`PartPlanner.part_start`). The source says whether this run
    is a read (`reading`): only a read plans."""

    def __init__(self) -> None:
        self.reading = False
        self._planners: dict[str, PartPlanner] = {}

    def planner(self, stream: Any, config: Mapping[str, Any] | None) -> PartPlanner | None:
        """`stream`'s planner (the first ask builds it); None for a stream not planned."""
        if stream not in PLANNED_STREAMS:
            return None
        planner = self._planners.get(stream)
        if planner is None:
            planner = self._planners[stream] = PartPlanner(self, stream, config or {})
        return planner


class PartPlanner:
    """The parts of one stream's projects. Built by `PartPlans`; the stream's per-project cursor
    tells it which project is being cut (`current`)."""

    def __init__(self, plans: PartPlans, stream: str, config: Mapping[str, Any]) -> None:
        self._plans = plans
        self._stream = stream
        self._field = PLANNED_STREAMS[stream]
        self._enabled = config.get("server") != "glitchtip"
        # The stream's own requester, which sends the probes; the factory hands it over when it
        # builds it (a resumed sync builds its projects' cursors, and so this, before it).
        self.requester: Requester | None = None
        self.current: StreamSlice | None = None  # the project whose span is being cut
        self.current_key = ""  # its key, as the per-project cursor writes it
        self._in_parts: set[str] = set()  # keys of the projects cut in more than one part
        self._score_paged = stream in SCORE_PAGED
        # (partition, end) of the parts but the newest, of a score-paged stream (`part_start`).
        self._part_ends: set[tuple[str, str]] = set()
        self._end_field = ""
        self._converter: Any = None

    def in_parts(self, key: str) -> bool:
        return key in self._in_parts

    @property
    def active(self) -> bool:
        """Whether this sync plans (a read, not GlitchTip, not switched off)."""
        return self._enabled and self._plans.reading

    def plan(self, cursor: Any, lower: datetime, upper: datetime) -> list[datetime] | str | None:
        """The boundaries inside (lower, upper], oldest first; None when this span is not planned
        (read as before); REFUSED when Sentry refused the project (its skip is logged once, by the
        probe, and no window is read)."""
        project = self.current
        if not self.active or project is None or upper - lower <= PLAN_MIN_SPAN:
            return None
        requester = self.requester
        if requester is None:
            return None
        converter = cursor._connector_state_converter
        start_field, end_field = cursor._slice_boundary_fields_wrapper
        self._converter, self._end_field = converter, end_field
        bounds: list[datetime] = []
        newest = upper
        for _ in range(MAX_PROBES):
            window = StreamSlice(
                partition=project.partition,
                cursor_slice={
                    start_field: converter.output_format(lower),
                    end_field: converter.output_format(newest),
                },
                extra_fields=project.extra_fields,
            )
            response = requester.send_probe(window, self._probe_params(newest))
            if response is None:
                break
            if response.status_code == REFUSED_OFFSET:
                # A server that does not page that deep (an older Sentry with a lower offset limit;
                # the probe's handler logged it): the rest of the span is read as one part.
                break
            if not response.ok:
                # An answer the error handler ignored (403: the token may not read the project; it
                # was logged). The read would be refused the same way: nothing is read.
                return REFUSED
            try:
                page = response.json()
                if not page and self._score_paged:
                    page = self._past_a_short_page(requester, window, response)
                value = page[0][self._field] if page else None
                boundary = converter.parse_timestamp(value) if value else None
            except (ValueError, TypeError, KeyError, IndexError, AttributeError):
                break
            if boundary is None or not lower < boundary < newest:
                break  # the rest is one part (an empty answer, or an hour busier than a part)
            bounds.append(boundary)
            newest = boundary
        bounds.reverse()
        if bounds:
            self._in_parts.add(self.current_key)
            if self._score_paged:
                ends = {converter.output_format(bound) for bound in bounds}
                self._part_ends.update((_partition_key(project.partition), end) for end in ends)
        return bounds

    def _probe_params(self, newest: datetime) -> dict[str, str]:
        """One record at offset PART_EVENTS: of the whole span for offset-paged events; for
        score-paged issues, among those seen at or before `newest` (its score, in milliseconds)."""
        if self._score_paged:
            return {"limit": "1", "cursor": f"{_score(newest)}:{PART_EVENTS}:0"}
        return {"per_page": "1", "cursor": f"0:{PART_EVENTS}:0"}

    def _past_a_short_page(self, requester: Requester, window: StreamSlice, response: Any) -> Any:
        """Sentry's issue search may answer a page short, even empty, while its Link says more
        follow (it filters after paging): an empty answer with a next page is asked again at the
        next cursor, at most SHORT_PAGE_TRIES times. Returns the page found, or []."""
        for _ in range(SHORT_PAGE_TRIES):
            following = (getattr(response, "links", None) or {}).get("next") or {}
            if following.get("results") != "true" or not following.get("cursor"):
                return []
            response = requester.send_probe(window, {"limit": "1", "cursor": following["cursor"]})
            if response is None or not response.ok:
                return []
            page = response.json()
            if page:
                return page
        return []

    def part_start(self, window: Any) -> str | None:
        """The cursor of a part's first page, for a score-paged stream: the part's end's score,
        so that the issues seen after it (every newer part's) are not listed again; None for any
        other window (a span not cut, the newest part, a probe). The stream's requester asks it for
        the first page of each window."""
        if not self._part_ends or not isinstance(window, StreamSlice):
            return None
        end_field = self._end_field
        end = window.cursor_slice.get(end_field) if end_field else None
        if not end or (_partition_key(window.partition), end) not in self._part_ends:
            return None
        converter = self._converter
        if converter is None:
            return None
        return f"{_score(converter.parse_timestamp(end))}:0:0"


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
# Tries past empty answers of a probe of a score-paged stream, before the span is one part.
SHORT_PAGE_TRIES: Final = 3


def _score(when: datetime) -> int:
    """Sentry's score of an issue seen at `when`, sorted by date: its milliseconds since 1970."""
    return (when - _EPOCH) // timedelta(milliseconds=1)


def _partition_key(partition: Any) -> str:
    return json.dumps(partition, sort_keys=True, default=str)
