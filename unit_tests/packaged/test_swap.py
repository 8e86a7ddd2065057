"""swap.py: the manifest as the packaged connector runs it, every piece a component was written for
swapped for that component, and a piece edited since left as written, with its new digest."""

from __future__ import annotations

import copy

from source_sentry.manifest import load_manifest
from source_sentry.packaged.source import PackagedSource
from source_sentry.packaged.swap import TRANSFORMATIONS, Swap, packaged_manifest
from source_sentry.source import SourceSentry

MANIFEST = load_manifest()


def drift_advice(swap: Swap) -> str:
    """What a failing swap test prints: each piece left, and what to do about it."""
    lines = ["manifest pieces changed since their components were written:"]
    for path in swap.left:
        recognised_by = swap.left_digests.get(path)
        step = "update its component in source_sentry/packaged/components.py"
        if recognised_by:
            table, digest = recognised_by
            step += f", then put {digest} in source_sentry/packaged/swap.py's {table} (for the old one)"
        lines.append(f"  {path}: {step}")
    return "\n".join(lines)


def test_given_the_manifest_when_packaged_then_every_piece_with_a_component_is_swapped() -> None:
    swap = packaged_manifest(MANIFEST)
    # Any piece drifting from its component (an edited template) is left as written and fails here.
    assert swap.left == [], drift_advice(swap)
    assert sorted(swap.swapped) == [
        ".definitions.aggregate_retriever.paginator.pagination_strategy",
        ".definitions.deployed_releases_stream.retriever.record_selector.record_filter",
        ".definitions.error_handler",
        ".definitions.feed_requester.error_handler",
        ".definitions.filters.unreadable_body",
        ".definitions.filters.unserved_endpoint",
        ".definitions.optional_error_handler",
        ".definitions.optional_project_error_handler",
        ".definitions.paginator.pagination_strategy",
        ".definitions.project_error_handler",
        ".definitions.project_scope_stream.retriever.record_selector.record_filter",
        ".definitions.retriever",
        ".definitions.streams.events.retriever.record_selector.record_filter",
        ".definitions.streams.events.transformations[0]",
        ".definitions.streams.issues.retriever.record_selector.record_filter",
        ".definitions.streams.monitors.retriever.record_selector.record_filter",
        ".definitions.streams.releases.retriever.record_selector.record_filter",
        ".definitions.streams.releases.transformations[0]",
        ".definitions.streams.sessions.transformations[1]",
        ".definitions.streams.webhook_deliveries.retriever",
    ]
    assert MANIFEST == load_manifest(), "the swap changed its input"


def test_given_an_edited_filter_when_packaged_then_it_is_left_as_written_and_reported() -> None:
    edited = copy.deepcopy(MANIFEST)
    record_filter = edited["definitions"]["streams"]["releases"]["retriever"]["record_selector"][
        "record_filter"
    ]
    record_filter["condition"] = record_filter["condition"].replace("not scope", "scope == []")
    swap = packaged_manifest(edited)
    assert ".definitions.streams.releases.retriever.record_selector.record_filter" in swap.left
    assert (
        swap.manifest["definitions"]["streams"]["releases"]["retriever"]["record_selector"]["record_filter"]
        == record_filter
    )


def test_given_an_edited_add_fields_when_packaged_then_it_is_left_as_written_and_reported() -> None:
    edited = copy.deepcopy(MANIFEST)
    transformation = edited["definitions"]["streams"]["events"]["transformations"][0]
    transformation["fields"][0]["value"] = "{{ record['projectID'] }}"
    swap = packaged_manifest(edited)
    assert swap.left == [".definitions.streams.events.transformations[0]"]
    table, digest = swap.left_digests[".definitions.streams.events.transformations[0]"]
    assert table == "TRANSFORMATIONS"
    assert digest not in TRANSFORMATIONS
    assert f"put {digest} in source_sentry/packaged/swap.py's TRANSFORMATIONS" in drift_advice(swap)
    assert swap.manifest["definitions"]["streams"]["events"]["transformations"][0] == transformation


def test_given_the_source_when_built_then_it_runs_the_swapped_manifest_and_the_pure_one_on_request() -> None:
    config = {"auth_token": "t", "organization": "o"}
    packaged = PackagedSource(config=config)._source_config
    pure = SourceSentry(config=config)._source_config
    assert "source_sentry.packaged.components.SharedJsonDecoder" in str(packaged)
    assert "source_sentry.packaged.components" not in str(pure)
