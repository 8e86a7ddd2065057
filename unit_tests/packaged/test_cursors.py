"""The packaged connector's cursors (cursors.py) decide and parse exactly as the CDK's own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from airbyte_cdk.sources.declarative.models import DatetimeBasedCursor as DatetimeBasedCursorModel
from airbyte_cdk.sources.declarative.parsers.model_to_component_factory import ModelToComponentFactory
from airbyte_cdk.sources.streams.concurrent.cursor import ConcurrentCursor
from airbyte_cdk.sources.streams.concurrent.state_converters.datetime_stream_state_converter import (
    CustomFormatConcurrentStreamStateConverter,
)
from airbyte_cdk.sources.types import Record, StreamSlice
from freezegun import freeze_time

from source_sentry.manifest import load_manifest
from source_sentry.packaged.cursors import (
    SentryComponentFactory,
    SettledEndCursor,
    SharedDateParse,
    SliceMemoCursor,
    SlicePartitionKeyCursor,
    SpreadWindowsSettledEndCursor,
)
from source_sentry.packaged.source import PackagedSource
from source_sentry.source import SourceSentry

DEFINITIONS = load_manifest()["definitions"]
CONFIG = {
    "auth_token": "t",
    "organization": "org",
    "settle_seconds": 300,
    "start_date": "2026-01-01T00:00:00Z",
}


def cursor_definition(end: Any) -> dict[str, Any]:
    definition = {**DEFINITIONS["cursor"], "cursor_field": "dateReceived"}
    if end is not None:
        definition["end_datetime"] = end
    return definition


def build(factory: ModelToComponentFactory, definition: dict[str, Any], state: dict[str, Any]) -> Any:
    return factory.create_concurrent_cursor_from_datetime_based_cursor(
        model_type=DatetimeBasedCursorModel,
        component_definition=dict(definition),
        stream_name="events",
        stream_namespace=None,
        stream_state=dict(state),
        config=CONFIG,
    )


def record(value: Any) -> Record:
    data = {"id": "1"} if value is None else {"id": "1", "dateReceived": value}
    window = StreamSlice(partition={}, cursor_slice={})
    return Record(data=data, stream_name="events", associated_slice=window)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


NOW = datetime.now(UTC)
DATES = [
    None,  # no cursor field: kept, as the CDK keeps it
    "2025-12-31T23:59:59.999999Z",  # before the start date
    "2026-01-01T00:00:00.000000Z",  # at the start date
    "2026-03-02T10:00:00Z",  # another of the manifest's formats
    iso(NOW - timedelta(seconds=600)),  # settled
    iso(NOW - timedelta(seconds=200)),  # not settled yet: after the end
    iso(NOW + timedelta(days=1)),  # a client clock ahead
]


@pytest.mark.parametrize(
    "state", [{}, {"dateReceived": "2026-02-01T00:00:00.000000Z"}], ids=["first", "state"]
)
def test_given_records_when_judged_then_the_settled_end_cursor_keeps_what_the_cdk_cursor_keeps(
    state: dict[str, Any],
) -> None:
    definition = cursor_definition(DEFINITIONS["settled_end"])
    original = build(ModelToComponentFactory(), definition, state)
    swapped = build(SentryComponentFactory(), definition, state)
    assert type(original) is ConcurrentCursor
    # An events cursor: the twin that also cuts parts and windows (parts.py), judging as this one.
    assert isinstance(swapped, SettledEndCursor)

    # Twice over: the second pass judges with the ends the first pass rendered.
    for _ in range(2):
        assert [swapped.should_be_synced(record(d)) for d in DATES] == [
            original.should_be_synced(record(d)) for d in DATES
        ]


def test_given_records_before_an_end_rendered_when_judged_then_the_end_is_not_rendered_again() -> None:
    cursor = build(SentryComponentFactory(), cursor_definition(DEFINITIONS["settled_end"]), {})
    rendered = []
    provider = cursor._end_provider

    def counting_end() -> Any:
        rendered.append(1)
        return provider()

    cursor._end_provider = counting_end
    settled = [record(iso(NOW - timedelta(seconds=900 - i))) for i in range(50)]
    assert all(cursor.should_be_synced(r) for r in settled)
    assert len(rendered) == 1
    assert not cursor.should_be_synced(record(iso(NOW + timedelta(days=1))))
    assert len(rendered) == 2


@pytest.mark.parametrize(
    "end",
    [
        {
            "type": "MinMaxDatetime",
            "datetime": "2026-06-01T00:00:00Z",
            "datetime_format": "%Y-%m-%dT%H:%M:%SZ",
        },
        {
            "type": "MinMaxDatetime",
            "datetime": "{{ now_utc().strftime('%Y-%m-%dT%H:%M:%SZ') }}",
            "datetime_format": "%Y-%m-%dT%H:%M:%SZ",
            "max_datetime": "{{ config['start_date'] }}",
        },
    ],
    ids=["fixed-end", "bounded-clock"],
)
def test_given_an_end_not_the_clock_when_built_then_the_end_is_rendered_as_the_cdk_does(
    end: dict[str, Any],
) -> None:
    cursor = build(SentryComponentFactory(), cursor_definition(end), {})
    assert isinstance(cursor, SliceMemoCursor)
    assert not isinstance(cursor, SettledEndCursor)  # should_be_synced is the CDK's
    assert type(cursor._connector_state_converter) is SharedDateParse


def converters() -> tuple[CustomFormatConcurrentStreamStateConverter, SharedDateParse]:
    """The CDK's converter and ours, with the manifest's cursor formats."""
    formats = list(DEFINITIONS["cursor"]["cursor_datetime_formats"])
    original = CustomFormatConcurrentStreamStateConverter("%Y-%m-%dT%H:%M:%S.%fZ", list(formats))
    return original, SharedDateParse("%Y-%m-%dT%H:%M:%S.%fZ", list(formats))


@pytest.mark.parametrize(
    "text",
    [
        "2026-03-02T10:00:00.123456Z",
        "2026-03-02T10:00:00Z",
        "2026-03-02T10:00:00.123Z",
        "2026-03-02T10:00:00.5Z",
        "2026-03-02T10:00:00.000000Z",
        "2026-03-02T10:00:00.1234567Z",  # seven fraction digits: no format takes it
        "2026-03-02T10:00:00.123+02:00",
        "2026-03-02T10:00:00+02:00",
        "2026-13-02T10:00:00.123Z",  # the 13th month
        "2026-02-30T10:00:00.123Z",
        "2026-03-02T24:00:00.123Z",
        "2026-03-02T10:00:60.123Z",  # a leap second
        "2026-3-02T10:00:00.123Z",  # a one-digit month, which strptime takes
        "2026-03-02T10:00:00.123z",
        "2026-03-02t10:00:00.123Z",
        "\u0662026-03-02T10:00:00.123Z",  # an Arabic-Indic digit, which strptime takes
        " 2026-03-02T10:00:00.123Z",
        "2026-03-02T10:00:00.123Z\n",
        "0001-01-01T00:00:00.000001Z",
        "2026-03-02",
        "not a date",
    ],
)
def test_given_a_date_when_parsed_twice_then_both_equal_the_cdk_parse(text: str) -> None:
    original, shared = converters()
    try:
        expected: Any = original.parse_timestamp(text)
    except ValueError as error:
        expected = str(error)
    for _ in range(2):
        try:
            got: Any = shared.parse_timestamp(text)
        except ValueError as error:
            got = str(error)
        assert got == expected
        assert type(got) is type(expected)
        assert repr(got) == repr(expected)  # the zone too


def streams_cursors(packaged: bool, config: dict[str, Any] = CONFIG) -> dict[str, Any]:
    source = (PackagedSource if packaged else SourceSentry)(config=config)
    return {s.name: s.cursor for s in source.streams(config)}


def test_given_the_packaged_source_when_built_then_date_cursors_are_the_faster_kinds() -> None:
    cursors = streams_cursors(packaged=True)
    events = cursors["events"]
    partition = events._cursor_factory.create({}, None)
    # events: the settled end, cutting windows only while they can be read side by side
    assert type(partition) is SpreadWindowsSettledEndCursor
    assert partition._side_by_side is not None
    assert type(events._connector_state_converter) is SharedDateParse
    assert type(cursors["releases"]) is SettledEndCursor


def test_given_the_declarative_source_when_built_then_the_cdk_cursors_are_kept() -> None:
    cursors = streams_cursors(packaged=False)
    events = cursors["events"]
    assert type(events._cursor_factory.create({}, None)) is ConcurrentCursor
    assert type(events._connector_state_converter) is CustomFormatConcurrentStreamStateConverter
    assert type(cursors["releases"]) is ConcurrentCursor


@pytest.mark.parametrize(
    "moments",
    [
        [
            datetime(2026, 3, 2, 10, 0, tzinfo=UTC),
            datetime(2026, 3, 2, 12, 0, tzinfo=timezone(timedelta(hours=2))),
        ],
        [datetime(2026, 3, 2, 10, 0, 0, 5, tzinfo=UTC), datetime(2026, 3, 2, 10, 0, 0, 5)],
    ],
    ids=["same-instant-other-zone", "aware-and-naive"],
)
def test_given_dates_when_written_twice_then_each_is_the_cdk_text_of_that_date(
    moments: list[datetime],
) -> None:
    original = CustomFormatConcurrentStreamStateConverter("%Y-%m-%dT%H:%M:%S.%fZ")
    shared = SharedDateParse("%Y-%m-%dT%H:%M:%S.%fZ")
    for _ in range(2):
        assert [shared.output_format(m) for m in moments] == [original.output_format(m) for m in moments]


def _windows(slices: list[StreamSlice]) -> list[tuple[str, str]]:
    return [(s.cursor_slice["start_time"], s.cursor_slice["end_time"]) for s in slices]


@pytest.mark.parametrize(
    ("told", "kept"),
    [
        ([True], None),  # side by side allowed: every window the CDK cuts
        ([False], 0),  # known before the first window: the span in one
        ([None, None, False], 2),  # not known until the third: two windows, then the rest in one
    ],
    ids=["allowed", "one-in-flight-known", "one-in-flight-told-later"],
)
@freeze_time("2026-03-01T12:00:00Z")
def test_given_what_the_endpoint_allows_when_events_windows_are_cut_then_the_span_is_the_cdks(
    told: list[bool | None], kept: int | None
) -> None:
    config = {**CONFIG, "hostname": "sentry.example.com", "num_workers": 4}
    cdk_partition = streams_cursors(False, config)["events"]._cursor_factory.create({}, None)
    cdk = _windows(list(cdk_partition.stream_slices()))
    partition = streams_cursors(True, config)["events"]._cursor_factory.create({}, None)
    asked: list[bool] = []

    def side_by_side(wait: bool) -> bool | None:
        asked.append(wait)
        answer = told[min(len(asked), len(told)) - 1]
        return None if answer is None and not wait else (answer if answer is not None else False)

    partition._side_by_side = side_by_side
    ours = _windows(list(partition.stream_slices()))

    assert len(cdk) > 3
    if kept is None:
        assert ours == cdk
    else:
        # the windows handed out before the answer, then one from the next start to the span's end
        assert ours == cdk[:kept] + [(cdk[kept][0], cdk[-1][1])]


def test_given_partitions_when_keyed_in_turn_and_again_then_each_key_is_the_cdks() -> None:
    events = streams_cursors(packaged=True)["events"]
    assert type(events) is SlicePartitionKeyCursor
    cdk = streams_cursors(packaged=False)["events"]
    partitions = [
        {"project_id": "11", "parent_slice": {}},
        {"parent_slice": {}, "project_id": "12"},
        {"project_id": "13", "parent_slice": {"organization": "acme"}},
    ]
    asked = [*partitions, partitions[0], partitions[0], *reversed(partitions), dict(partitions[1])]

    assert [events._to_partition_key(p) for p in asked] == [cdk._to_partition_key(p) for p in asked]


def _observed(cursor: ConcurrentCursor, records: list[Record]) -> tuple[dict[Any, Any], bool]:
    for each in records:
        cursor.observe(each)
    return dict(cursor._most_recent_cursor_value_per_partition), cursor._is_ascending_order


@pytest.mark.parametrize("order", ["ascending", "descending", "interleaved"])
def test_given_records_of_windows_when_observed_then_the_latest_values_are_the_cdks(order: str) -> None:
    windows = [
        StreamSlice(
            partition={"project_id": "11"}, cursor_slice={"start_time": str(i), "end_time": str(i + 1)}
        )
        for i in range(3)
    ]
    twin = StreamSlice(partition={"project_id": "11"}, cursor_slice={"start_time": "0", "end_time": "1"})
    dates = [iso(datetime(2026, 3, 2, tzinfo=UTC) + timedelta(minutes=m)) for m in (5, 1, 9, 3, 9, 7)]
    if order == "descending":
        dates = sorted(dates, reverse=True)
    elif order == "ascending":
        dates = sorted(dates)
    records = []
    for number, date in enumerate(dates):
        # runs of one window, a window met again after another, an equal slice object, no date
        window = [windows[0], windows[0], windows[1], windows[0], twin, windows[2]][number]
        records.append(
            Record(
                data={"id": str(number), "dateReceived": date}, stream_name="events", associated_slice=window
            )
        )
    records.insert(3, Record(data={"id": "x"}, stream_name="events", associated_slice=windows[1]))

    cdk = build(ModelToComponentFactory(), cursor_definition(None), {})
    ours = build(SentryComponentFactory(), cursor_definition(None), {})
    assert type(cdk) is ConcurrentCursor
    assert isinstance(ours, SliceMemoCursor)

    assert _observed(ours, records) == _observed(cdk, records)


@pytest.mark.parametrize(
    "text",
    [
        "2026-03-02T10:00:00.123456Z",
        "2026-03-02T10:00:00.000000Z",
        "2026-03-02T10:00:00.123Z",  # a shorter fraction: written back with six digits
        "0999-03-02T10:00:00.123456Z",  # strftime writes this year in three digits
        "1000-01-01T00:00:00.000001Z",
        "2026-03-02T10:00:00Z",
    ],
)
def test_given_a_date_when_parsed_then_written_back_it_is_the_cdks_text(text: str) -> None:
    original, shared = converters()
    expected = original.output_format(original.parse_timestamp(text))
    for _ in range(2):
        assert shared.output_format(shared.parse_timestamp(text)) == expected
