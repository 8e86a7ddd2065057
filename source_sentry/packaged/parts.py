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

Only the packaged connector plans: the Cloud manifest cannot send a request to cut its windows.
A span of a day or less (an incremental sync) is not planned, and costs what it cost; GlitchTip
ignores `start`/`end` (and `cursor` offsets), so it is never planned.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from airbyte_cdk.sources.types import StreamSlice

logger = logging.getLogger("airbyte")

PART_EVENTS: Final = 5000
# A span this long or shorter is read as it was: an incremental sync costs no extra request.
PLAN_MIN_SPAN: Final = timedelta(days=1)
# At most this many probes per project (5 million events); the rest of the span is then one part.
MAX_PROBES: Final = 1000
# Streams planned, and the record field whose date is a boundary (the stream's cursor field).
PLANNED_STREAMS: Final = {"events": "dateReceived"}
REFUSED: Final = "refused"
# `off` in the environment reads every span as before this planner (one window a project where
# windows are not read side by side, state at the CDK's pace): for a server that refuses the
# probe in another way than a 400, and for the benchmark's "before".
SWITCH: Final = "SOURCE_SENTRY_EVENT_PARTS"


def enabled_by_environment() -> bool:
    return os.environ.get(SWITCH, "").strip().lower() != "off"


class PartPlanner:
    """The parts of one stream's projects. Built per stream by the component factory; the stream's
    per-project cursor tells it which project is being cut (`current`)."""

    def __init__(self, factory: Any, stream: str, config: Mapping[str, Any]) -> None:
        self._factory = factory
        self._stream = stream
        self._field = PLANNED_STREAMS[stream]
        self._enabled = config.get("server") != "glitchtip"
        self.current: StreamSlice | None = None  # the project whose span is being cut
        self.current_key = ""  # its key, as the per-project cursor writes it
        self._in_parts: set[str] = set()  # keys of the projects cut in more than one part

    def in_parts(self, key: str) -> bool:
        return key in self._in_parts

    @property
    def active(self) -> bool:
        """Whether this sync plans (a read, not GlitchTip, not switched off)."""
        return self._enabled and bool(getattr(self._factory, "_plan_parts", False))

    def plan(self, cursor: Any, lower: datetime, upper: datetime) -> list[datetime] | str | None:
        """The boundaries inside (lower, upper], oldest first; None when this span is not planned
        (read as before); REFUSED when Sentry refused the project (its skip is logged once, by the
        probe, and no window is read)."""
        project = self.current
        if not self.active or project is None or upper - lower <= PLAN_MIN_SPAN:
            return None
        requester = self._factory.__dict__.get("_requesters", {}).get(self._stream)
        if requester is None:
            return None
        converter = cursor._connector_state_converter
        start_field, end_field = cursor._slice_boundary_fields_wrapper
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
            try:
                response = requester.send_request(
                    stream_state={},
                    stream_slice=window,
                    request_params={"per_page": "1", "cursor": f"0:{PART_EVENTS}:0"},
                )
            except Exception as error:
                # A server refusing the probe's own parameters (400: an older Sentry with a lower
                # offset limit) is read as before; any other failure is the read's too.
                if "status code '400'" not in str(getattr(error, "internal_message", "")):
                    raise
                logger.info(
                    f"{self._stream}: Sentry refused a probe of one event at offset {PART_EVENTS}; "
                    "the rest of the project's span is read as one part."
                )
                break
            if response is None:
                break
            if not response.ok:
                # An answer the error handler ignored (403: the token may not read the project; it
                # was logged). The read would be refused the same way: nothing is read.
                return REFUSED
            try:
                page = response.json()
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
        return bounds
