"""The Sentry source: the declarative manifest beside this file, plus the few things a manifest
cannot do when the connector runs as our own program (Docker image, pip-installed command),
including faster Python components in place of some of its pieces (see packaged.py)."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from typing import Any

from airbyte_cdk.models import (
    AirbyteConnectionStatus,
    AirbyteMessage,
    AirbyteStateMessage,
    AirbyteStateMessageSerializer,
    ConfiguredAirbyteCatalog,
    FailureType,
    Status,
)
from airbyte_cdk.sources.declarative import concurrent_declarative_source
from airbyte_cdk.sources.declarative.parsers.model_to_component_factory import ModelToComponentFactory
from airbyte_cdk.sources.declarative.yaml_declarative_source import YamlDeclarativeSource
from airbyte_cdk.sources.types import ConnectionDefinition
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_sentry.ast_guard import serialize_ast_parse
from source_sentry.manifest import MANIFEST_PATH
from source_sentry.packaged import packaged_manifest
from source_sentry.state import sanitize_state

logger = logging.getLogger("airbyte")


class SourceSentry(YamlDeclarativeSource):
    def __init__(
        self,
        catalog: ConfiguredAirbyteCatalog | None = None,
        config: Mapping[str, Any] | None = None,
        state: list[AirbyteStateMessage] | None = None,
        *,
        python_components: bool = True,
    ) -> None:
        """`python_components=False` runs the manifest exactly as written, as Airbyte Cloud does."""
        self._python_components = python_components
        # Not a component: a fix for the Python the read runs on, whichever variant runs.
        serialize_ast_parse()
        with _component_schema_on_demand(python_components):
            super().__init__(path_to_yaml=str(MANIFEST_PATH), catalog=catalog, config=config, state=state)
        if python_components:
            # The CDK builds its factory inside its constructor and takes none from outside: the
            # one it built (streams are built later, at read) becomes ours, which builds the
            # cursors of cursors.py. It holds no state of its own.
            from source_sentry.cursors import SentryComponentFactory

            if type(self._constructor) is ModelToComponentFactory:
                SentryComponentFactory.adopt(self._constructor)

    @property
    def _declarative_component_schema(self) -> dict[str, Any]:
        """The CDK's schema of manifest components, which only validating (and the Builder's
        normalizing) reads: the packaged connector loads it when first read (see
        `_component_schema_on_demand`)."""
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
        is built: a third of a second (jsonschema over a 250 KB schema), a tenth of a one-project
        sync. The packaged connector runs only the manifest shipped beside this file, which the
        test suite checks so in both variants (test_manifest); the Cloud variant still checks it at
        every start, as Airbyte Cloud will."""
        if not self._python_components:
            super()._validate_source()

    def _read_and_parse_yaml_file(self, path_to_yaml_file: str) -> ConnectionDefinition:
        manifest = super()._read_and_parse_yaml_file(path_to_yaml_file)
        if not self._python_components:
            return manifest
        return packaged_manifest(dict(manifest)).manifest

    def _prepare_for_stream_build(self) -> None:
        """The CDK builds the manifest's `api_budget` here; the packaged connector wraps it so that
        no more requests are in flight to an endpoint than Sentry allows (see pacing.py)."""
        super()._prepare_for_stream_build()
        if not self._python_components:
            return
        from source_sentry.pacing import ConcurrencyPacedBudget

        budget = getattr(self._constructor, "_api_budget", None)
        if budget is not None and not isinstance(budget, ConcurrencyPacedBudget):
            self._constructor._api_budget = ConcurrencyPacedBudget(budget)

    @classmethod
    def read_state(cls, state_path: str) -> list[AirbyteStateMessage]:
        """The stream states this connector can resume from; each one left out is logged at WARN.

        A state written by another connector (Airbyte's own Sentry source keeps one
        `dateCreated` per stream) or damaged by hand would otherwise crash the sync; such a
        stream starts over from start_date instead, and the warning says which and why.
        """
        return list(_clean_state(state_path)) if state_path else []

    def check(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteConnectionStatus:
        """Run the check shared with the notifier, which names the organization, project or scope
        at fault; then the manifest's CheckStream, which sends each stream's own first request
        (the issues search, the full events window), so that a server that cannot serve a
        stream fails here rather than in the first sync."""
        from source_sentry.check import check_connection
        from source_sentry.config import ConfigError
        from source_sentry.sentry_api import SentryError

        try:
            info = check_connection(config, purpose="read")
        except ConfigError as error:
            return AirbyteConnectionStatus(status=Status.FAILED, message=str(error))
        except SentryError as error:
            return AirbyteConnectionStatus(status=Status.FAILED, message=f"Sentry refused the check: {error}")
        except Exception as error:  # noqa: BLE001 - reported to the user, never as a trace alone
            return AirbyteConnectionStatus(status=Status.FAILED, message=f"Could not reach Sentry: {error}")
        streams = super().check(logger, config)
        if streams.status != Status.SUCCEEDED:
            return AirbyteConnectionStatus(
                status=Status.FAILED,
                message=f"Connected to Sentry organization {info.organization}, but a stream's own "
                f"request failed: {streams.message}",
            )
        report, complete = _optional_streams_report(config, info)
        message = (
            f"Connected to Sentry organization {info.organization}; every core stream answered. {report}"
        )
        logger.log(logging.INFO if complete else logging.WARNING, message)
        return AirbyteConnectionStatus(status=Status.SUCCEEDED, message=message)

    def read(
        self,
        logger: logging.Logger,
        config: Mapping[str, Any],
        catalog: ConfiguredAirbyteCatalog,
        state: list[AirbyteStateMessage] | None = None,
    ) -> Iterator[AirbyteMessage]:
        """Refuse a catalog naming streams this connector lacks, and a config naming projects the
        organization lacks: the manifest would sync the others and leave those out without a
        word. Fail within a minute when Sentry cannot be connected to (see reachability.py), and
        end a failed sync in the words of its first error (see sync_failure.py)."""
        from source_sentry.sync_failure import in_the_first_words

        _fail_before_reading(config, catalog)
        yield from in_the_first_words(self._read_streams(logger, config, catalog, state))

    def _read_streams(
        self,
        logger: logging.Logger,
        config: Mapping[str, Any],
        catalog: ConfiguredAirbyteCatalog,
        state: list[AirbyteStateMessage] | None,
    ) -> Iterator[AirbyteMessage]:
        selected = None
        if self._python_components:
            # The CDK's read builds every stream of the manifest (21, 0.23 s) and keeps the
            # catalog's; the packaged connector builds the catalog's alone, with the CDK's own
            # builder of named streams (None when a name is not one of the manifest's streams).
            selected = self._streams_by_name([configured.stream.name for configured in catalog.streams])
        if selected is None:
            yield from super().read(logger, config, catalog, state)
            return
        # The rest is the CDK's read.
        streams = self._select_streams(streams=selected, configured_catalog=catalog)
        if streams:
            yield from self._concurrent_source.read(streams)


def _optional_streams_report(config: Mapping[str, Any], info: Any) -> tuple[str, bool]:
    """Which optional streams the token can read, and whether it can read them all; a failure to
    find out does not fail the check."""
    from source_sentry.config import resolve_settings
    from source_sentry.sentry_api import SentryApi
    from source_sentry.stream_access import access_report, optional_stream_access

    try:
        settings = resolve_settings(config)
        api = SentryApi(settings.base_url, settings.token, timeout=10)
        access = optional_stream_access(config, info, api)
    except Exception as error:  # noqa: BLE001 - the core streams answered: the check still succeeds
        return f"Could not check which optional streams the token can read: {error}", False
    return access_report(access), all(a.readable for a in access)


def _fail_before_reading(config: Mapping[str, Any], catalog: ConfiguredAirbyteCatalog) -> None:
    from source_sentry.catalog_check import unknown_streams_message
    from source_sentry.config import ConfigError, resolve_settings, site_url
    from source_sentry.manifest import stream_names
    from source_sentry.reachability import Unreachable, wait_until_reachable

    problem = unknown_streams_message([c.stream.name for c in catalog.streams], stream_names())
    if problem:
        raise AirbyteTracedException(message=problem, failure_type=FailureType.config_error)
    try:
        wait_until_reachable(site_url(resolve_settings(config).base_url))
    except ConfigError as error:
        raise AirbyteTracedException(message=str(error), failure_type=FailureType.config_error) from None
    except Unreachable as error:
        failure = FailureType.config_error if error.lasting else FailureType.transient_error
        raise AirbyteTracedException(message=str(error), failure_type=failure) from None
    _fail_on_missing_projects(config)


def _fail_on_missing_projects(config: Mapping[str, Any]) -> None:
    from source_sentry.check import missing_projects, missing_projects_message
    from source_sentry.config import resolve_settings

    try:
        settings = resolve_settings(config)
        missing = missing_projects(config)
    except Exception as error:  # noqa: BLE001
        # The sync's own first request meets the same failure and words it for the user.
        logger.debug(f"Could not compare the configured projects with Sentry's: {error}")
        return
    if missing:
        raise AirbyteTracedException(
            message=missing_projects_message(settings.organization, missing),
            failure_type=FailureType.config_error,
        )


@cache
def _clean_state(state_path: str) -> tuple[AirbyteStateMessage, ...]:
    # Cached: the command reads the state to build the source and the CDK's entrypoint reads it
    # again; the file is judged, and its warnings logged, once per process.
    from source_sentry.config import read_json_file

    clean, warnings = sanitize_state(read_json_file(state_path, "state"))
    for warning in warnings:
        logger.warning(warning)
    return tuple(AirbyteStateMessageSerializer.load(message) for message in clean)


@contextmanager
def _component_schema_on_demand(python_components: bool) -> Iterator[None]:
    """While a packaged source is built, the CDK's constructor does not load its schema of manifest
    components (a 250 KB YAML, 50-130 ms of every start), which it reads only to validate the
    manifest, a check the packaged connector leaves to the test suite (`_validate_source`); the
    property above loads it if anything reads it. The constructor finds the loader among its
    module's names: that name answers None (not loaded yet) for the build and is put back."""
    if not python_components:
        yield
        return
    module: Any = concurrent_declarative_source  # a name of it is swapped, which its types do not allow
    load = module.get_declarative_component_schema
    module.get_declarative_component_schema = lambda: None
    try:
        yield
    finally:
        module.get_declarative_component_schema = load
