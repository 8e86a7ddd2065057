"""The packaged connector's cursors: the CDK's own concurrent date cursors, doing their per-record
work cheaper. The Cloud manifest runs the CDK's unchanged.

Per record, a data feed's cursor (events, issues) parsed the record's date three times (to judge
it, then twice to observe it) and rendered the manifest's `settled_end` template once, to compare
the record with the end of the sync's span: a fifth of the CPU of an events sync. Here:

- the date text is parsed once; the three readers get the same parsed value (`SharedDateParse`);
- the span's end is rendered only when a record is dated after the latest end rendered so far
  (`SettledEndCursor`). Every end in this manifest is the clock (`now_utc()`, less a settle time):
  an end rendered later is never earlier, so a record not after an end already rendered is not
  after the end the CDK would render now either. Records of a sync are dated before the end it
  computed when it cut its slices, so the template is rendered about once per partition.

Why not the manifest: a DatetimeBasedCursor cannot name a cursor class of its own (a
CustomIncrementalSync would not be one of the CDK's concurrent cursors), so the factory that builds
the cursors is told to build these (`SentryComponentFactory`).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Final, cast

import requests
from airbyte_cdk.sources.declarative.incremental import ConcurrentPerPartitionCursor
from airbyte_cdk.sources.declarative.parsers.model_to_component_factory import ModelToComponentFactory
from airbyte_cdk.sources.declarative.requesters.http_requester import HttpRequester
from airbyte_cdk.sources.streams.concurrent.cursor import ConcurrentCursor
from airbyte_cdk.sources.streams.concurrent.state_converters.datetime_stream_state_converter import (
    CustomFormatConcurrentStreamStateConverter,
)
from airbyte_cdk.sources.types import Record, StreamSlice

from source_sentry.packaged.pacing import UNLIMITED, ConcurrencyPacedBudget
from source_sentry.packaged.parts import REFUSED, PartPlanner, PartPlans
from source_sentry.packaged.requester import SliceRenderedRequester

# (input formats, date text) -> the CDK's parse of it. The same text is parsed by three readers
# within microseconds, so a small table that is emptied when full serves them all.
_PARSED: dict[tuple[tuple[str, ...], str], datetime] = {}
_PARSED_LIMIT: Final = 4096
# (output format, date) -> the CDK's text of it, for the per-partition cursor, which writes each
# record's date back to text to compare it with its global cursor. Equal instants in other time
# zones compare equal but are written differently: the key holds the zone, fold and type too.
_FORMATTED: dict[tuple[str, type, datetime, Any, int], str] = {}

# The manifest's first cursor format, which Sentry's dates are written in, and the shape of a text
# it reads: ASCII digits, the fraction one to six of them (strptime's `%f`).
_SENTRY_FORMAT: Final = "%Y-%m-%dT%H:%M:%S.%fZ"
_SENTRY_DATE: Final = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})\.([0-9]{1,6})Z"
)


def _remember(table: dict[Any, Any], key: Any, value: Any) -> Any:
    """Keep ``value`` under ``key``, emptying the table first when it is full; returns ``value``."""
    if len(table) >= _PARSED_LIMIT:
        table.clear()
    table[key] = value
    return value


class SharedDateParse(CustomFormatConcurrentStreamStateConverter):
    """The CDK's converter, parsing each date text (and writing each instant back to text) once for
    every converter with the same formats."""

    _formats: tuple[str, ...] | None = None  # the input formats, as a key (set on first parse)

    def parse_timestamp(self, timestamp: str) -> datetime:
        formats = self._formats
        if formats is None:
            formats = self._formats = tuple(self._input_datetime_formats)
        key = (formats, timestamp)
        parsed = _PARSED.get(key)
        if parsed is None:
            parsed = _remember(_PARSED, key, self._first_parse(timestamp))
        return parsed

    def _first_parse(self, timestamp: str) -> datetime:
        """The CDK's parse: its formats tried in order with strptime, a naive result taken as UTC.
        A text in the first format when that is Sentry's is read without strptime (a tenth of its
        cost) into the value strptime gives; any other text, or one the calendar refuses (a 13th
        month, a 60th second), goes the CDK's way, errors included."""
        formats = self._input_datetime_formats
        if formats and formats[0] == _SENTRY_FORMAT and type(timestamp) is str:
            match = _SENTRY_DATE.fullmatch(timestamp)
            if match:
                year, month, day, hour, minute, second, fraction = match.groups()
                try:
                    parsed = datetime(
                        int(year), int(month), int(day), int(hour), int(minute), int(second),
                        int(fraction.ljust(6, "0")), tzinfo=UTC,
                    )  # fmt: skip
                except ValueError:
                    pass
                else:
                    if len(fraction) == 6 and parsed.year >= 1000:
                        # The text is then what strftime writes of this date in Sentry's format
                        # (strftime writes years before 1000 in fewer digits): the per-partition
                        # cursor, which writes each record's date back, finds it written.
                        _remember(_FORMATTED, (_SENTRY_FORMAT, datetime, parsed, UTC, 0), timestamp)
                    return parsed
        return super().parse_timestamp(timestamp)

    def output_format(self, timestamp: datetime) -> str:
        key = (self._datetime_format, type(timestamp), timestamp, timestamp.tzinfo, timestamp.fold)
        text = _FORMATTED.get(key)
        if text is None:
            text = _remember(_FORMATTED, key, super().output_format(timestamp))
        return text


class SliceMemoCursor(ConcurrentCursor):
    """The CDK's ConcurrentCursor, finding a record's window among its latest values without
    writing the window out. The CDK keys each window's latest cursor value by the window, a
    StreamSlice, whose hash is its JSON (keys sorted) run through SHA-256: computed once or twice
    per record, a twentieth of an events sync's CPU. Records of one window share one slice object,
    and only the thread reading that window writes its entry, so the entry last read or written
    stands while the same object comes again; the mapping is still written on every change, for
    the CDK's readers of it."""

    _last_observed: tuple[Any, Any] | None = None  # (window, its latest value)

    def observe(self, record: Record) -> None:
        window = record.associated_slice
        last = self._last_observed  # one read: another thread may replace it meanwhile
        if last is not None and last[0] is window:
            latest = last[1]
        else:
            latest = self._most_recent_cursor_value_per_partition.get(window)
        try:
            value = self._extract_cursor_value(record)
        except ValueError:
            self._log_for_record_without_cursor_value()
            return
        if latest is None or latest < value:
            self._most_recent_cursor_value_per_partition[window] = value
            latest = value
        elif latest > value:
            self._is_ascending_order = False
        self._last_observed = (window, latest)


class SettledEndCursor(SliceMemoCursor):
    """The CDK's ConcurrentCursor, rendering its end only for a record dated after the latest end
    rendered (see the module's text: the ends are the clock, so they never move back)."""

    _known_end: Any = None

    def should_be_synced(self, record: Record) -> bool:
        try:
            value = self._extract_cursor_value(record)
        except ValueError:
            self._log_for_record_without_cursor_value()
            return True
        # The CDK's order: the lower bound first; the end is asked for only when that holds.
        if not self._lowest_cursor_value_to_sync() <= value:
            return False
        known = self._known_end
        if known is not None and value <= known:
            return True
        end = self._end_provider()
        self._known_end = end
        return bool(value <= end)


# A stream cut in parts writes its state at least this often (seconds) while windows close.
STATE_EVERY: Final = 60.0

# Streams whose windows (the cursor's `step`) only spread a project's pages over workers, so that
# cutting fewer changes which requests are sent, never what is read: the manifest's events.
SPREAD_WINDOW_STREAMS: Final = frozenset({"events"})
# The CDK cuts the window after the one it hands out (to know whether that one is a partition's
# last), so the first window of a sync is sent, and answered, only once the third is being cut.
_WINDOWS_BEFORE_WAITING: Final = 2
# How long the third window waits for the first answer before the windows are kept as they are:
# an answer (any: an error stops the wait too) normally comes within a second; a sync that
# fails before any answer, say to an unreachable server, ends at most this much later.
_WAIT_FOR_ANSWER: Final = 10.0

# Whether windows can be read side by side: (wait for the endpoint's first answer?) -> yes, no,
# or None when that is not known yet and `wait` was false.
SideBySide = Callable[[bool], "bool | None"]


def _split_in_parts(
    cursor: ConcurrentCursor, lower: Any, upper: Any, upper_is_end: bool
) -> Iterable[StreamSlice]:
    """The span cut at the boundaries of its parts (parts.py), oldest first, each part cut into
    windows as before; the span as before when it is not planned; nothing when Sentry refused the
    project (the probe's answer was its one request)."""
    planner: PartPlanner | None = getattr(cursor, "_planner", None)
    plan = planner.plan(cursor, lower, upper) if planner is not None and upper_is_end else None
    if plan == REFUSED:
        return
    if not isinstance(plan, list) or not plan:
        yield from _split_while_side_by_side(cursor, lower, upper, upper_is_end)
        return
    edges = [lower, *plan, upper]
    for index in range(len(plan) + 1):
        last = index == len(plan)
        yield from _split_while_side_by_side(cursor, edges[index], edges[index + 1], upper_is_end and last)


def _split_while_side_by_side(
    cursor: ConcurrentCursor, lower: Any, upper: Any, upper_is_end: bool
) -> Iterable[StreamSlice]:
    """A spread-windows stream's span cut into windows only while the endpoint lets them be read
    side by side. Where it allows one request in flight (sentry.io's events: one per user), windows
    are read one after another anyway and each costs requests of its own (the partial last page,
    the hour each reads past its end), which at sentry.io's 60 events requests a minute can cost a
    minute: from the first window not yet handed out, the rest of the span is one window.

    What each window keeps, (start, end], is unchanged, so the records and the state are those of
    the windows the CDK would have cut. Before the endpoint has answered, windows are cut as the
    manifest says (two at most, in the sync's first project), then the cutting waits for that answer.
    """
    windows = ConcurrentCursor._split_per_slice_range(cursor, lower, upper, upper_is_end)
    ask: SideBySide | None = getattr(cursor, "_side_by_side", None)
    if ask is None or not cursor._slice_range:
        yield from windows
        return
    for index, window in enumerate(windows):
        allowed = ask(False)
        if allowed is None and index >= _WINDOWS_BEFORE_WAITING:
            allowed = ask(True)
        if allowed is False:
            start_field = cursor._slice_boundary_fields_wrapper[cursor._START_BOUNDARY]
            start = cursor._connector_state_converter.parse_value(window.cursor_slice[start_field])
            step, cursor._slice_range = cursor._slice_range, None
            try:
                yield from ConcurrentCursor._split_per_slice_range(cursor, start, upper, upper_is_end)
            finally:
                cursor._slice_range = step
            return
        yield window


# The cursors cutting windows so: the classes above with `_split_while_side_by_side`. (Not a mixin:
# a built cursor becomes one of these, which needs the very layout of the class it was.)
class SpreadWindowsCursor(SliceMemoCursor):
    _side_by_side: SideBySide | None = None
    _planner: PartPlanner | None = None
    _split_per_slice_range = _split_in_parts


class SpreadWindowsSettledEndCursor(SettledEndCursor):
    _side_by_side: SideBySide | None = None
    _planner: PartPlanner | None = None
    _split_per_slice_range = _split_in_parts


class SlicePartitionKeyCursor(ConcurrentPerPartitionCursor):
    """The CDK's per-partition cursor, writing a partition's key (its JSON, keys sorted) once for a
    run of records of the same slice: it wrote it twice per record, to find the record's cursor and
    again to observe it. The partition is the slice's own mapping, built once by the partition
    router and never changed (records of a slice share it), so the key of the last one asked
    stands while the same object is asked again."""

    _last_key: tuple[Any, str] | None = None
    # A stream cut in parts (parts.py) emits its state when a project cut in parts moves its saved
    # position (a part ends with none unread before it), and otherwise at most every STATE_EVERY
    # seconds, where the CDK waits ten minutes between state messages of a per-partition cursor:
    # a sync stopped before then saved nothing. (Each message holds every project's position:
    # one per small project would write the organization's state once per project.)
    _planner: PartPlanner | None = None
    _closing: threading.local | None = None
    _saved_positions: dict[str, Any] | None = None

    def _to_partition_key(self, partition: Any) -> str:
        last = self._last_key  # one read: other threads may replace it meanwhile
        if last is not None and last[0] is partition:
            return last[1]
        key = super()._to_partition_key(partition)
        self._last_key = (partition, key)  # holding the mapping: its id cannot be reused
        return key

    def _generate_slices_from_partition(
        self, partition: StreamSlice, parent_state: Any
    ) -> Iterable[StreamSlice]:
        planner = self._planner
        if planner is not None:
            # Slices are cut on one thread, a project after another: the project's cursor asks
            # the planner while this project's windows are being cut.
            planner.current = partition
            planner.current_key = self._to_partition_key(partition.partition)
        yield from super()._generate_slices_from_partition(partition, parent_state)

    def close_partition(self, partition: Any) -> None:
        if self._planner is not None:
            if self._closing is None:
                self._closing = threading.local()
            window = partition.to_slice()
            self._closing.key = None if window is None else self._to_partition_key(window.partition)
        super().close_partition(partition)

    def _throttle_state_message(self) -> float | None:
        planner = self._planner
        if planner is None or not planner.active:
            return super()._throttle_state_message()
        # Called under the cursor's lock, once a window is closed, on the thread that closed it.
        now = time.time()
        key: str | None = getattr(self._closing, "key", None)
        cursor = self._cursor_per_partition.get(key) if key is not None else None
        if key is not None and cursor is not None and planner.in_parts(key):
            saved = self._saved_positions
            if saved is None:
                saved = self._saved_positions = {}
            # A copy: the CDK's cursor hands out the same mapping, changed in place, each time.
            position = dict(cursor.state)
            if saved.get(key) != position:
                saved[key] = position
                return now
        if now - self._last_emission_time >= STATE_EVERY:
            return now
        return None


def _is_clock(end_datetime: Any) -> bool:
    """Whether a cursor's end is the clock: none (the CDK then ends at now) or a template on
    `now_utc()` and the config alone, without a min or max. The definition holds the manifest's
    mapping or the CDK's model of it."""
    if not end_datetime:
        return True
    if isinstance(end_datetime, str):
        text, bounded = end_datetime, False
    else:

        def field(name: str) -> Any:
            if isinstance(end_datetime, dict):
                return end_datetime.get(name)
            return getattr(end_datetime, name, None)

        text = str(field("datetime") or "")
        bounded = bool(field("min_datetime") or field("max_datetime"))
    return not bounded and "now_utc()" in text and "stream_" not in text and "record" not in text


class SentryComponentFactory(ModelToComponentFactory):
    """The CDK's factory, building the cursors above and the requester of requester.py in place
    of the CDK's (same state, same arguments; only their class differs). It keeps the planners of
    parts (`part_plans`, parts.py) and hands each planned stream's planner to the stream's cursors
    and requester."""

    part_plans: PartPlans

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.part_plans = PartPlans()

    @classmethod
    def adopt(cls, factory: ModelToComponentFactory) -> None:
        """Make the CDK's `factory` one of these. Its table of model -> method holds methods bound
        when it was built, the CDK's own: it is built again, so that the overrides below are used
        whichever way the CDK reaches them."""
        factory.__class__ = cls
        factory._init_mappings()
        cast(SentryComponentFactory, factory).part_plans = PartPlans()

    def create_concurrent_cursor_from_datetime_based_cursor(
        self, *args: Any, **kwargs: Any
    ) -> ConcurrentCursor:
        cursor = super().create_concurrent_cursor_from_datetime_based_cursor(*args, **kwargs)
        definition = kwargs.get("component_definition", args[1] if len(args) > 1 else {})
        _share_parse(cursor)
        if type(cursor) is not ConcurrentCursor:
            return cursor
        cursor.__class__ = SliceMemoCursor
        settled = _is_clock(definition.get("end_datetime"))
        if settled:
            cursor.__class__ = SettledEndCursor
        stream = kwargs.get("stream_name", args[2] if len(args) > 2 else None)
        ask = self._side_by_side_for(stream) if stream in SPREAD_WINDOW_STREAMS else None
        # A resumed sync builds its projects' cursors from the state before any requester: the
        # requester is handed to the planner when it is built.
        planner = self.part_plans.planner(stream, kwargs.get("config", args[5] if len(args) > 5 else {}))
        if ask is not None or planner is not None:
            cursor.__class__ = SpreadWindowsSettledEndCursor if settled else SpreadWindowsCursor
            cursor._side_by_side = ask  # type: ignore[attr-defined]
            cursor._planner = planner  # type: ignore[attr-defined]
        return cursor

    def create_http_requester(self, model: Any, config: Any, *args: Any, name: str, **kwargs: Any) -> Any:
        # The path each stream's requester asks, for `_side_by_side_for` (the first one built
        # under a name is the stream's own; a parent stream's requester has its stream's name).
        self.__dict__.setdefault("_requester_paths", {}).setdefault(name, model.path)
        requester = super().create_http_requester(model, config, *args, name=name, **kwargs)
        if type(requester) is HttpRequester:
            SliceRenderedRequester.adopt(requester)
            # A planned stream's own requester (the first built under its name) sends the probes
            # of parts.py and asks its planner where a part's first page starts.
            planner = self.part_plans.planner(name, config)
            if planner is not None and planner.requester is None:
                adopted = cast(SliceRenderedRequester, requester)
                planner.requester = adopted
                adopted.planner = planner
        return requester

    def _side_by_side_for(self, stream: str) -> SideBySide | None:
        """Whether `stream`'s endpoint lets requests run side by side, from the budget's pacing
        (pacing.py), which learns it from the endpoint's first answer. One per stream, shared by
        its partitions' cursors: a wait in vain is waited once a sync."""
        known = self.__dict__.setdefault("_side_by_side_asks", {})
        if stream not in known:
            known[stream] = self._ask_side_by_side(stream)
        return known[stream]  # type: ignore[no-any-return]

    def _ask_side_by_side(self, stream: str) -> SideBySide | None:
        path = self.__dict__.get("_requester_paths", {}).get(stream)
        if not isinstance(path, str):
            return None
        # The budget's policies match the path alone: any value in its templated parts will do.
        url = "http://probe.invalid/" + re.sub(r"{{.*?}}", "x", path).lstrip("/")
        probe = requests.Request("GET", url).prepare()

        answer: list[bool] = []  # once known (or waited for in vain: windows as the manifest says)

        def side_by_side(wait: bool) -> bool | None:
            if answer:
                return answer[0]
            budget = getattr(self, "_api_budget", None)
            limit = None
            if isinstance(budget, ConcurrencyPacedBudget):
                limit = budget.wait_for_limit(probe, _WAIT_FOR_ANSWER if wait else 0.0)
                if limit is None and not wait:
                    return None
            answer.append(limit is None or limit == UNLIMITED or limit > 1)
            return answer[0]

        return side_by_side

    def create_concurrent_cursor_from_perpartition_cursor(
        self, *args: Any, **kwargs: Any
    ) -> ConcurrentPerPartitionCursor:
        cursor = super().create_concurrent_cursor_from_perpartition_cursor(*args, **kwargs)
        _share_parse(cursor)
        if type(cursor) is ConcurrentPerPartitionCursor:
            cursor.__class__ = SlicePartitionKeyCursor
            stream = kwargs.get("stream_name", args[3] if len(args) > 3 else None)
            config = kwargs.get("config", args[5] if len(args) > 5 else {})
            cursor._planner = self.part_plans.planner(stream, config)  # type: ignore[attr-defined]
        return cursor


def _share_parse(cursor: Any) -> None:
    converter = getattr(cursor, "_connector_state_converter", None)
    if type(converter) is CustomFormatConcurrentStreamStateConverter:
        converter.__class__ = SharedDateParse
