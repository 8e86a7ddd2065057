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

from datetime import datetime
from typing import Any, Final

from airbyte_cdk.sources.declarative.incremental import ConcurrentPerPartitionCursor
from airbyte_cdk.sources.declarative.parsers.model_to_component_factory import ModelToComponentFactory
from airbyte_cdk.sources.streams.concurrent.cursor import ConcurrentCursor
from airbyte_cdk.sources.streams.concurrent.state_converters.datetime_stream_state_converter import (
    CustomFormatConcurrentStreamStateConverter,
)
from airbyte_cdk.sources.types import Record

# (input formats, date text) -> the CDK's parse of it. The same text is parsed by three readers
# within microseconds, so a small table that is emptied when full serves them all.
_PARSED: dict[tuple[tuple[str, ...], str], datetime] = {}
_PARSED_LIMIT: Final = 4096
# (output format, date) -> the CDK's text of it, for the per-partition cursor, which writes each
# record's date back to text to compare it with its global cursor. Equal instants in other time
# zones compare equal but are written differently: the key holds the zone, fold and type too.
_FORMATTED: dict[tuple[str, type, datetime, Any, int], str] = {}



def _remember(table: dict[Any, Any], key: Any, value: Any) -> Any:
    """Keep ``value`` under ``key``, emptying the table first when it is full; returns ``value``."""
    if len(table) >= _PARSED_LIMIT:
        table.clear()
    table[key] = value
    return value

class SharedDateParse(CustomFormatConcurrentStreamStateConverter):
    """The CDK's converter, parsing each date text (and writing each instant back to text) once for
    every converter with the same formats."""

    def parse_timestamp(self, timestamp: str) -> datetime:
        key = (tuple(self._input_datetime_formats), timestamp)
        parsed = _PARSED.get(key)
        if parsed is None:
            parsed = _remember(_PARSED, key, super().parse_timestamp(timestamp))
        return parsed

    def output_format(self, timestamp: datetime) -> str:
        key = (self._datetime_format, type(timestamp), timestamp, timestamp.tzinfo, timestamp.fold)
        text = _FORMATTED.get(key)
        if text is None:
            text = _remember(_FORMATTED, key, super().output_format(timestamp))
        return text


class SettledEndCursor(ConcurrentCursor):
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
    """The CDK's factory, building the cursors above in place of the CDK's (same state, same
    arguments; only their class differs)."""

    def create_concurrent_cursor_from_datetime_based_cursor(
        self, *args: Any, **kwargs: Any
    ) -> ConcurrentCursor:
        cursor = super().create_concurrent_cursor_from_datetime_based_cursor(*args, **kwargs)
        definition = kwargs.get("component_definition", args[1] if len(args) > 1 else {})
        _share_parse(cursor)
        if type(cursor) is ConcurrentCursor and _is_clock(definition.get("end_datetime")):
            cursor.__class__ = SettledEndCursor
        return cursor

    def create_concurrent_cursor_from_perpartition_cursor(
        self, *args: Any, **kwargs: Any
    ) -> ConcurrentPerPartitionCursor:
        cursor = super().create_concurrent_cursor_from_perpartition_cursor(*args, **kwargs)
        _share_parse(cursor)
        return cursor


def _share_parse(cursor: Any) -> None:
    converter = getattr(cursor, "_connector_state_converter", None)
    if type(converter) is CustomFormatConcurrentStreamStateConverter:
        converter.__class__ = SharedDateParse
