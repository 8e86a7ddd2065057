from __future__ import annotations

from unittest import TestCase
from urllib.parse import parse_qs, urlsplit

import requests_mock
from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.mock_http import HttpMocker
from freezegun import freeze_time

from unit_tests.conftest import read_stream
from unit_tests.sentry import (
    BASE,
    config,
    error,
    events_request,
    events_url,
    link_header,
    page,
    projects_request,
    projects_url,
    record,
    request,
)

NOW = "2024-06-01T12:00:00Z"
# The window ends settle_seconds (300 by default) before now; the request reaches an hour further,
# for events dated by a client clock ahead of Sentry's.
END = "2024-06-01T12:55:00.000000"
START = "2024-05-01T00:00:00.000000"
# A month in one window: the tests about paging, cursors and scope read each project in one
# request window; EventsWindowsTest covers the windows.
ONE_WINDOW = {"event_window_days": 0}


def project(slug: str, pid: str) -> dict:
    return record("projects", slug=slug, id=pid)


def event(eid: str, created: str, received: str | None = None) -> dict:
    return record("events", id=eid, eventID=eid, dateCreated=created, dateReceived=received or created)


@freeze_time(NOW)
class EventsTest(TestCase):
    @HttpMocker()
    def test_given_two_pages_when_full_refresh_then_follows_link_cursor_and_reads_all(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(projects_request(), page(projects_url(), [project("backend", "11")]))
        http_mocker.get(
            events_request("backend", START, END),
            page(events_url("backend"), [event("a" * 32, "2024-05-30T10:00:00Z")], next_cursor="0:100:0"),
        )
        http_mocker.get(
            events_request("backend", START, END, cursor="0:100:0"),
            page(events_url("backend"), [event("b" * 32, "2024-05-20T10:00:00.123Z")]),
        )

        output = read_stream(
            "events", config(start_date="2024-05-01T00:00:00Z", **ONE_WINDOW), sync_mode=SyncMode.full_refresh
        )

        assert [r.record.data["id"] for r in output.records] == ["a" * 32, "b" * 32]


STATE_AT = "2024-05-30T10:00:00.000000Z"


def partition_state(*entries: tuple[str, str]) -> dict:
    return {
        "states": [
            {"partition": {"parent_slice": {}, "project_id": pid}, "cursor": {"dateReceived": value}}
            for pid, value in entries
        ]
    }


@freeze_time(NOW)
class EventsIncrementalTest(TestCase):
    @HttpMocker()
    def test_given_state_when_read_then_window_reaches_back_by_lookback_and_only_newer_events_are_emitted(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(projects_request(), page(projects_url(), [project("backend", "11")]))
        # state 10:00, lookback 30 minutes: the server is asked for dateCreated >= 09:30.
        http_mocker.get(
            events_request("backend", "2024-05-30T09:30:00.000000", END),
            page(
                events_url("backend"),
                [
                    event("new" + "0" * 29, "2024-05-31T08:00:00Z", "2024-05-31T08:00:00.2Z"),
                    # late: happened before the state, reached Sentry after it
                    event("late" + "0" * 28, "2024-05-30T09:45:00Z", "2024-05-30T11:00:00.000Z"),
                    # the boundary event the state points at: already sent
                    event("edge" + "0" * 28, "2024-05-30T09:59:59Z", "2024-05-30T10:00:00Z"),
                    event("old" + "0" * 29, "2024-05-30T09:40:00Z", "2024-05-30T09:40:00.5Z"),
                ],
            ),
        )

        output = read_stream(
            "events",
            config(start_date="2024-05-01T00:00:00Z", lookback_minutes=30),
            state=partition_state(("11", STATE_AT)),
        )

        assert [r.record.data["id"][:4] for r in output.records] == ["new0", "late"]
        final = output.most_recent_state.stream_state.__dict__
        assert final["states"] == [
            {
                "partition": {"parent_slice": {}, "project_id": "11"},
                "cursor": {"dateReceived": "2024-05-31T08:00:00.200000Z"},
            }
        ]

    @HttpMocker()
    def test_given_state_and_nothing_new_when_read_then_no_record_and_state_unchanged(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(projects_request(), page(projects_url(), [project("backend", "11")]))
        http_mocker.get(
            events_request("backend", "2024-05-30T09:00:00.000000", END),
            page(
                events_url("backend"),
                [event("edge" + "0" * 28, "2024-05-30T10:00:00Z", "2024-05-30T10:00:00.000Z")],
            ),
        )

        output = read_stream(
            "events", config(start_date="2024-05-01T00:00:00Z"), state=partition_state(("11", STATE_AT))
        )

        assert output.records == []
        assert output.most_recent_state.stream_state.__dict__["states"][0]["cursor"] == {
            "dateReceived": STATE_AT
        }

    @HttpMocker()
    def test_given_lookback_before_start_date_when_read_then_window_never_starts_before_start_date(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(projects_request(), page(projects_url(), [project("backend", "11")]))
        http_mocker.get(
            events_request("backend", "2024-05-30T09:50:00.000000", END), page(events_url("backend"), [])
        )

        output = read_stream(
            "events",
            config(start_date="2024-05-30T09:50:00Z", lookback_minutes=60),
            state=partition_state(("11", STATE_AT)),
        )

        assert output.records == []
        assert not output.errors

    @HttpMocker()
    def test_given_two_projects_when_read_then_each_project_keeps_its_own_cursor(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(
            projects_request(), page(projects_url(), [project("backend", "11"), project("web", "12")])
        )
        http_mocker.get(
            events_request("backend", "2024-05-30T09:00:00.000000", END),
            page(events_url("backend"), [event("b" * 32, "2024-05-31T00:00:00Z")]),
        )
        http_mocker.get(
            events_request("web", "2024-05-01T00:00:00.000000", END),
            page(events_url("web"), [event("w" * 32, "2024-05-02T00:00:00.123456Z")]),
        )

        output = read_stream(
            "events",
            config(start_date="2024-05-01T00:00:00Z", **ONE_WINDOW),
            state=partition_state(("11", STATE_AT)),
        )

        cursors = {
            s["partition"]["project_id"]: s["cursor"]["dateReceived"]
            for s in output.most_recent_state.stream_state.__dict__["states"]
        }
        assert cursors == {"11": "2024-05-31T00:00:00.000000Z", "12": "2024-05-02T00:00:00.123456Z"}
        assert sorted(r.record.data["id"][0] for r in output.records) == ["b", "w"]


@freeze_time(NOW)
class EventsScopeTest(TestCase):
    @HttpMocker()
    def test_given_projects_configured_when_read_then_only_those_projects_are_requested(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(
            projects_request(),
            page(projects_url(), [project("backend", "11"), project("web", "12"), project("mobile", "13")]),
        )
        http_mocker.get(
            events_request("web", START, END),
            page(events_url("web"), [event("w" * 32, "2024-05-02T00:00:00Z")]),
        )

        output = read_stream(
            "events", config(start_date="2024-05-01T00:00:00Z", projects=["web"], **ONE_WINDOW)
        )

        assert [r.record.data["id"] for r in output.records] == ["w" * 32]

    @HttpMocker()
    def test_given_official_single_project_field_when_read_then_that_project_is_synced(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(
            projects_request(), page(projects_url(), [project("backend", "11"), project("web", "12")])
        )
        http_mocker.get(
            events_request("backend", START, END),
            page(events_url("backend"), [event("b" * 32, "2024-05-02T00:00:00Z")]),
        )

        output = read_stream(
            "events", config(start_date="2024-05-01T00:00:00Z", project="backend", **ONE_WINDOW)
        )

        assert [r.record.data["id"] for r in output.records] == ["b" * 32]

    @HttpMocker()
    def test_given_forbidden_project_when_read_then_it_is_skipped_with_its_name_and_others_sync(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(
            projects_request(), page(projects_url(), [project("backend", "11"), project("secret", "12")])
        )
        http_mocker.get(
            events_request("backend", START, END),
            page(events_url("backend"), [event("b" * 32, "2024-05-02T00:00:00Z")]),
        )
        http_mocker.get(
            events_request("secret", START, END),
            error(403, {"detail": "You do not have permission to perform this action."}),
        )

        output = read_stream("events", config(start_date="2024-05-01T00:00:00Z", **ONE_WINDOW))

        assert [r.record.data["id"] for r in output.records] == ["b" * 32]
        assert not output.errors
        assert output.is_in_logs("Skipping .*/projects/acme/secret/events/.*403")


@freeze_time(NOW)
class EventsSettlingTest(TestCase):
    """Sentry makes events queryable late and out of order: a sync keeps only events received at
    least settle_seconds before it, so the cursor never passes an event still invisible."""

    @HttpMocker()
    def test_given_event_received_within_settling_time_when_read_then_left_for_next_sync(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(projects_request(), page(projects_url(), [project("backend", "11")]))
        http_mocker.get(
            events_request("backend", "2024-05-30T09:00:00.000000", "2024-06-01T12:50:00.000000"),
            page(
                events_url("backend"),
                [
                    # received 5 minutes ago: the cursor must not pass it yet
                    event("fresh" + "0" * 27, "2024-06-01T11:55:00Z", "2024-06-01T11:55:00Z"),
                    # received exactly at the settled end (now - 600 s): kept
                    event("settled" + "0" * 25, "2024-06-01T11:49:00Z", "2024-06-01T11:50:00Z"),
                ],
            ),
        )

        output = read_stream(
            "events",
            config(start_date="2024-05-01T00:00:00Z", settle_seconds=600),
            state=partition_state(("11", STATE_AT)),
        )

        assert [r.record.data["id"][:7] for r in output.records] == ["settled"]
        assert output.most_recent_state.stream_state.__dict__["states"][0]["cursor"] == {
            "dateReceived": "2024-06-01T11:50:00.000000Z"
        }

    @HttpMocker()
    def test_given_event_dated_by_a_clock_ahead_when_read_then_window_reaches_past_now_and_event_is_kept(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(projects_request(), page(projects_url(), [project("backend", "11")]))
        # settle 0: the window ends now, the request reaches an hour past it.
        http_mocker.get(
            events_request("backend", "2024-05-30T09:00:00.000000", "2024-06-01T13:00:00.000000"),
            page(
                events_url("backend"),
                [event("ahead" + "0" * 27, "2024-06-01T12:00:40Z", "2024-06-01T11:59:58Z")],
            ),
        )

        output = read_stream(
            "events",
            config(start_date="2024-05-01T00:00:00Z", settle_seconds=0),
            state=partition_state(("11", STATE_AT)),
        )

        assert [r.record.data["id"][:5] for r in output.records] == ["ahead"]


class EventsWindowTest(TestCase):
    """The default 90-day start is fixed for the whole sync, however long the pages take."""

    def test_given_no_start_date_and_a_clock_that_moves_when_paging_then_every_page_has_one_window(
        self,
    ) -> None:
        seen: list[dict[str, list[str]]] = []

        def events_page(request, context):
            seen.append(parse_qs(urlsplit(request.url).query))
            context.headers["Link"] = link_header(
                events_url("backend"), "0:100:0" if len(seen) == 1 else None, len(seen) == 1
            )
            return [event(f"{len(seen):032d}", "2024-05-30T10:00:00Z")]

        # Every reading of the clock moves it a second on, as a slow server would between pages.
        with freeze_time(NOW, auto_tick_seconds=1), requests_mock.Mocker() as mocker:
            last_page = {"Link": link_header(projects_url(), None, False)}
            mocker.get(projects_url(), json=[project("backend", "11")], headers=last_page)
            mocker.get(events_url("backend"), json=events_page)
            output = read_stream("events", config(**ONE_WINDOW), sync_mode=SyncMode.full_refresh)

        assert len(output.records) == 2
        assert len(seen) == 2
        assert seen[0]["start"] == seen[1]["start"]
        assert seen[0]["end"] == seen[1]["end"]
        assert seen[1]["cursor"] == ["0:100:0"]


# A month from 2024-05-01 to the settled end (2024-06-01T11:55) in windows of 10 days of receipt
# time. Each window asks for dateCreated from lookback_minutes (60) before its start (the first:
# from start_date) to an hour past its end.
WINDOWS = [
    ("2024-05-01T00:00:00.000000", "2024-05-11T01:00:00.000000"),
    ("2024-05-10T23:00:00.000000", "2024-05-21T01:00:00.000000"),
    ("2024-05-20T23:00:00.000000", "2024-05-31T01:00:00.000000"),
    ("2024-05-30T23:00:00.000000", END),
]
# Returned by two windows' requests each, kept by one.
AT_BOUNDARY = event("bound" + "0" * 27, "2024-05-10T23:59:30Z", "2024-05-11T00:00:00Z")
AHEAD = event("ahead" + "0" * 27, "2024-05-21T00:00:30Z", "2024-05-20T23:59:50Z")
LATE = event("late" + "0" * 28, "2024-05-20T23:30:00Z", "2024-05-25T08:00:00Z")
NEWEST = event("newest" + "0" * 26, "2024-05-31T06:00:00Z", "2024-05-31T06:00:00.5Z")


@freeze_time(NOW)
class EventsWindowsTest(TestCase):
    """With more than one worker, a project's span is read in windows side by side."""

    def mock_windows(self, http_mocker: HttpMocker) -> None:
        pages = [[AT_BOUNDARY], [AHEAD, LATE, AT_BOUNDARY], [AHEAD, LATE], [NEWEST]]
        for (start, end), records in zip(WINDOWS, pages, strict=True):
            http_mocker.get(events_request("backend", start, end), page(events_url("backend"), records))

    @HttpMocker()
    def test_given_four_workers_when_first_sync_then_one_request_per_window_and_each_event_once(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(projects_request(), page(projects_url(), [project("backend", "11")]))
        self.mock_windows(http_mocker)

        output = read_stream("events", config(start_date="2024-05-01T00:00:00Z", num_workers=4))

        assert sorted(r.record.data["id"][:5] for r in output.records) == ["ahead", "bound", "late0", "newes"]
        assert output.most_recent_state.stream_state.__dict__["states"][0]["cursor"] == {
            "dateReceived": "2024-05-31T06:00:00.500000Z"
        }

    @HttpMocker()
    def test_given_a_middle_window_fails_when_sync_ends_then_state_stays_before_that_window(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(projects_request(), page(projects_url(), [project("backend", "11")]))
        http_mocker.get(events_request("backend", *WINDOWS[0]), page(events_url("backend"), [AT_BOUNDARY]))
        http_mocker.get(events_request("backend", *WINDOWS[1]), error(400, {"detail": "boom"}))
        http_mocker.get(events_request("backend", *WINDOWS[2]), page(events_url("backend"), [AHEAD, LATE]))
        http_mocker.get(events_request("backend", *WINDOWS[3]), page(events_url("backend"), [NEWEST]))

        output = read_stream(
            "events",
            config(start_date="2024-05-01T00:00:00Z", num_workers=4),
            expecting_exception=True,
        )

        assert output.errors
        cursors = [
            s.state.stream.stream_state.__dict__["states"][0]["cursor"]["dateReceived"]
            for s in output.state_messages
            if s.state.stream.stream_state.__dict__.get("states")
        ]
        # windows 3 and 4 were read (the mocker fails on an unused mock), yet the state stays at
        # the first window's newest event: it moves only over windows finished without a gap
        assert cursors
        assert max(cursors) == "2024-05-11T00:00:00.000000Z"

    @HttpMocker()
    def test_given_parts_when_first_sync_then_probes_cut_the_span_and_state_follows_each_part(
        self, http_mocker: HttpMocker
    ) -> None:
        # The packaged connector's parts (parts.py): a probe of one event at offset 5,000 finds
        # LATE, whose receipt cuts the span; the older remainder's probe is empty. The parts are
        # read oldest first, and the state moves to the first part's end before the second ends.
        http_mocker.get(projects_request(), page(projects_url(), [project("backend", "11")]))
        probe = {"full": "true", "per_page": 1, "cursor": "0:5000:0"}
        cut, cut_past = "2024-05-25T08:00:00.000000", "2024-05-25T09:00:00.000000"
        http_mocker.get(
            request(events_url("backend"), start=START, end=END, **probe), page(events_url("backend"), [LATE])
        )
        http_mocker.get(
            request(events_url("backend"), start=START, end=cut_past, **probe),
            page(events_url("backend"), []),
        )
        http_mocker.get(
            events_request("backend", START, cut_past),
            page(events_url("backend"), [LATE, AHEAD, AT_BOUNDARY]),
        )
        # The second part reaches back `lookback_minutes` before its start; LATE, kept by the
        # first, is dropped.
        http_mocker.get(
            events_request("backend", "2024-05-25T07:00:00.000000", END),
            page(events_url("backend"), [NEWEST, LATE]),
        )

        output = read_stream("events", config(start_date="2024-05-01T00:00:00Z", num_workers=1), parts=True)

        assert sorted(r.record.data["id"][:5] for r in output.records) == ["ahead", "bound", "late0", "newes"]
        states = [m.state.stream.stream_state.__dict__ for m in output.state_messages]
        cursors = [s["states"][0]["cursor"]["dateReceived"] for s in states if s.get("states")]
        assert cursors[:2] == [f"{cut}Z", "2024-05-31T06:00:00.500000Z"]

    @HttpMocker()
    def test_given_one_worker_when_first_sync_then_one_window_as_without_windows(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(projects_request(), page(projects_url(), [project("backend", "11")]))
        http_mocker.get(
            events_request("backend", START, END),
            page(events_url("backend"), [NEWEST, AHEAD, LATE, AT_BOUNDARY]),
        )

        output = read_stream("events", config(start_date="2024-05-01T00:00:00Z", num_workers=1))

        assert len(output.records) == 4

    def test_given_sentry_io_and_four_workers_when_first_sync_then_one_window_in_both_variants(self) -> None:
        # sentry.io allows one events request in flight per user: windows would only add requests.
        for packaged in (True, False):
            with self.subTest(packaged=packaged), requests_mock.Mocker() as mocker:
                host = "https://acme.sentry.io/api/0"
                last_page = {"Link": link_header(projects_url(), None, False)}
                projects = [project("backend", "11")]
                mocker.get(projects_url().replace(BASE, host), json=projects, headers=last_page)
                events = mocker.get(
                    events_url("backend").replace(BASE, host), json=[NEWEST, AHEAD], headers=last_page
                )

                output = read_stream(
                    "events",
                    config(hostname="acme.sentry.io", start_date="2024-05-01T00:00:00Z", num_workers=4),
                    packaged=packaged,
                )

                assert len(output.records) == 2
                windows = [(q.qs["start"][0], q.qs["end"][0]) for q in events.request_history]
                assert windows == [(START.lower(), END.lower())]

    @HttpMocker()
    def test_given_state_a_day_old_when_incremental_then_one_window(self, http_mocker: HttpMocker) -> None:
        http_mocker.get(projects_request(), page(projects_url(), [project("backend", "11")]))
        http_mocker.get(
            events_request("backend", "2024-05-31T05:00:00.500000", END),
            page(events_url("backend"), [NEWEST]),
        )

        output = read_stream(
            "events",
            config(start_date="2024-05-01T00:00:00Z", num_workers=4),
            state=partition_state(("11", "2024-05-31T06:00:00.500000Z")),
        )

        assert output.records == []
