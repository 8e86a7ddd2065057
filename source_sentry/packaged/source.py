"""`PackagedSource`: the Sentry source with the wing's pieces put in, the one place that overrides
private methods of the CDK's declarative source. Each override says what it saves; the plain
`SourceSentry` it extends is what Airbyte Cloud runs.

Upstream first: the CDK's source takes no component factory, manifest transform or API budget
wrapper from outside, and validates and builds every stream of the manifest at every start. Each
override below goes the day the CDK grows the hook it stands in for.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from airbyte_cdk.models import AirbyteMessage, AirbyteStateMessage, ConfiguredAirbyteCatalog
from airbyte_cdk.sources.declarative import concurrent_declarative_source
from airbyte_cdk.sources.declarative.parsers.model_to_component_factory import ModelToComponentFactory
from airbyte_cdk.sources.types import ConnectionDefinition

from source_sentry.packaged import endpoint_skips, parts
from source_sentry.packaged.changed_issues import ChangedIssues
from source_sentry.packaged.cursors import SentryComponentFactory
from source_sentry.packaged.pacing import ConcurrencyPacedBudget
from source_sentry.packaged.swap import packaged_manifest
from source_sentry.source import SourceSentry


class PackagedSource(SourceSentry):
    """The same connector, faster (docs/benchmarks.md measures it): components swapped into the
    manifest (swap.py), the factory's cursors and requester (cursors.py), concurrency pacing
    (pacing.py), and only the catalog's streams built."""

    def __init__(
        self,
        catalog: ConfiguredAirbyteCatalog | None = None,
        config: Mapping[str, Any] | None = None,
        state: list[AirbyteStateMessage] | None = None,
    ) -> None:
        with _component_schema_on_demand():
            super().__init__(catalog=catalog, config=config, state=state)
        # The CDK builds its factory inside its constructor and takes none from outside: the one
        # it built (streams are built later, at read) becomes ours, which builds the cursors of
        # cursors.py. It holds no state of its own.
        if type(self._constructor) is ModelToComponentFactory:
            SentryComponentFactory.adopt(self._constructor)

    @property
    def _declarative_component_schema(self) -> dict[str, Any]:
        """The CDK's schema of manifest components, which only validating (and the Builder's
        normalizing) reads: loaded when first read (see `_component_schema_on_demand`)."""
        schema: dict[str, Any] | None = self.__dict__.get("_component_schema")
        if schema is None:
            schema = concurrent_declarative_source.get_declarative_component_schema()
            self.__dict__["_component_schema"] = schema
        return schema

    @_declarative_component_schema.setter
    def _declarative_component_schema(self, schema: dict[str, Any] | None) -> None:
        # None: not loaded yet (the CDK's loader never answers None; the swapped one does).
        self.__dict__["_component_schema"] = schema

    def _validate_source(self) -> None:
        """The CDK checks the resolved manifest against its schema of components each time a source
        is built (jsonschema over the CDK's large schema of components), a noticeable share of a
        short sync (figures: docs/benchmarks.md, "Figures behind the code"). This source runs only
        the manifest shipped beside it, which the test suite checks for both sources
        (test_manifest); the plain `SourceSentry` still checks it at every start, as Airbyte Cloud
        will."""

    def _read_and_parse_yaml_file(self, path_to_yaml_file: str) -> ConnectionDefinition:
        return packaged_manifest(dict(super()._read_and_parse_yaml_file(path_to_yaml_file))).manifest

    def _prepare_for_stream_build(self) -> None:
        """The CDK builds the manifest's `api_budget` here; it is wrapped so that no more requests
        are in flight to an endpoint than Sentry allows (see pacing.py)."""
        super()._prepare_for_stream_build()
        budget = getattr(self._constructor, "_api_budget", None)
        if budget is not None and not isinstance(budget, ConcurrencyPacedBudget):
            self._constructor._api_budget = ConcurrencyPacedBudget(budget)

    def read_catalog_streams(
        self,
        logger: logging.Logger,
        config: Mapping[str, Any],
        catalog: ConfiguredAirbyteCatalog,
        state: list[AirbyteStateMessage] | None = None,
    ) -> Iterator[AirbyteMessage]:
        """The CDK's read builds every stream of the manifest (what that costs: docs/benchmarks.md,
        "Figures behind the code") and keeps the catalog's; this builds the catalog's alone, with
        the CDK's own builder of named streams (None when a name is not one of the manifest's
        streams: then the CDK's read decides). It starts knowing no endpoint unserved
        (endpoint_skips.py), cuts long spans of events in parts (parts.py) and, with a webhook
        receiver configured, reads again the issues its feed says changed (changed_issues.py)."""
        endpoint_skips.forget()
        # Long spans of events are cut in parts by a probe (parts.py): in a read only, so that
        # `check` and discovery send what they sent.
        if isinstance(self._constructor, SentryComponentFactory):
            self._constructor.part_plans.reading = parts.enabled_by_environment()
        messages = self._read_streams(logger, config, catalog, state)
        changed = ChangedIssues.for_read(config, catalog, state)
        yield from (messages if changed is None else changed.around(messages))

    def _read_streams(
        self,
        logger: logging.Logger,
        config: Mapping[str, Any],
        catalog: ConfiguredAirbyteCatalog,
        state: list[AirbyteStateMessage] | None,
    ) -> Iterator[AirbyteMessage]:
        selected = self._streams_by_name([configured.stream.name for configured in catalog.streams])
        if selected is None:
            yield from super().read_catalog_streams(logger, config, catalog, state)
            return
        # The rest is the CDK's read.
        streams = self._select_streams(streams=selected, configured_catalog=catalog)
        if streams:
            yield from self._concurrent_source.read(streams)


@contextmanager
def _component_schema_on_demand() -> Iterator[None]:
    """While the source is built, the CDK's constructor does not load its schema of manifest
    components (a large YAML file, parsed at every start: see docs/benchmarks.md,
    "Figures behind the code"), which it reads only to validate the manifest, a check left to the
    test suite (`_validate_source`); the property above loads it if anything reads it. The
    constructor finds the loader among its module's names: that name answers None (not loaded
    yet) for the build and is put back."""
    module: Any = concurrent_declarative_source  # a name of it is swapped, which its types do not allow
    load = module.get_declarative_component_schema
    module.get_declarative_component_schema = lambda: None
    try:
        yield
    finally:
        module.get_declarative_component_schema = load
