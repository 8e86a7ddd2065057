"""What `check` says of an optional stream, from the answer to its probe."""

from __future__ import annotations

from source_sentry.stream_access import UNSERVED, StreamAccess, access_report


def test_given_a_200_web_page_when_judged_then_not_readable_and_the_reason_says_so() -> None:
    page = StreamAccess("release_commits", "project:read", 200, json=False)

    assert not page.readable
    assert page.reason() == "Sentry answered HTTP 200 with a web page, not JSON: it does not serve it"
    assert StreamAccess("release_commits", "project:read", 200).readable


def test_given_glitchtip_streams_it_lacks_when_reported_then_named_apart_and_no_lookup_counted() -> None:
    access = [
        StreamAccess("teams", "org:read", 200, server="glitchtip"),
        *(
            StreamAccess(name, "project:read", UNSERVED, server="glitchtip")
            for name in ("deploys", "release_commits", "monitor_checkins")
        ),
    ]

    assert access_report(access) == (
        "Optional streams readable: teams. Not offered with `server: glitchtip` (GlitchTip does not serve "
        "it), so not asked: deploys, release_commits, monitor_checkins. (Checked with 1 requests: one per "
        "optional stream asked.)"
    )
