"""What the packaged source builds for a read: the catalog's streams alone, as the CDK builds them."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from airbyte_cdk.models import FailureType, SyncMode
from airbyte_cdk.test.catalog_builder import CatalogBuilder
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_sentry.packaged.source import PackagedSource
from source_sentry.source import SourceSentry

CONFIG = {"auth_token": "t", "organization": "acme", "hostname": "http://127.0.0.1:9"}


def streams_read(packaged: bool, names: list[str]) -> tuple[list[Any], list[str]]:
    """The streams the source hands its concurrent reader for a catalog of `names`, and the names
    of the streams it built on the way."""
    catalog = CatalogBuilder()
    for name in names:
        catalog = catalog.with_stream(name, SyncMode.full_refresh)
    source = (PackagedSource if packaged else SourceSentry)(config=CONFIG, catalog=catalog.build())
    built: list[str] = []
    create_streams = source._create_streams

    def counting(selected: list[dict[str, Any]], every: list[dict[str, Any]]) -> Any:
        built.extend(c["name"] for c in selected)
        return create_streams(selected, every)

    handed: list[Any] = []
    source._create_streams = counting  # type: ignore[method-assign]
    source._concurrent_source.read = lambda streams: iter(handed.extend(streams) or [])  # type: ignore[method-assign]
    list(source.read(logging.getLogger("test"), CONFIG, catalog.build(), []))
    return handed, built


@pytest.mark.parametrize(
    "names", [["events", "issues"], ["project_detail"], ["releases", "projects", "events"]]
)
def test_given_a_catalog_when_read_then_only_its_streams_are_built_and_they_are_the_cdks(
    names: list[str],
) -> None:
    ours, ours_built = streams_read(True, names)
    cdk, cdk_built = streams_read(False, names)

    assert sorted(ours_built) == sorted(names)
    assert len(cdk_built) > len(names)  # the CDK's read builds every stream of the manifest
    assert [s.name for s in ours] == [s.name for s in cdk] == names
    assert [type(s) for s in ours] == [type(s) for s in cdk]
    assert [s.cursor_field for s in ours] == [s.cursor_field for s in cdk]


def test_given_a_catalog_naming_an_unknown_stream_when_read_then_config_error_and_nothing_read() -> None:
    catalog = (
        CatalogBuilder()
        .with_stream("events", SyncMode.full_refresh)
        .with_stream("nonesuch", SyncMode.full_refresh)
        .build()
    )
    source = PackagedSource(config=CONFIG, catalog=catalog)
    handed: list[Any] = []
    source._concurrent_source.read = lambda streams: iter(handed.extend(streams) or [])  # type: ignore[method-assign]

    with pytest.raises(AirbyteTracedException) as raised:
        list(source.read(logging.getLogger("test"), CONFIG, catalog, []))

    assert raised.value.failure_type == FailureType.config_error
    assert "`nonesuch` (the closest stream is `" in raised.value.message
    assert handed == []
