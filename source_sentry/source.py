"""The Sentry source: the declarative manifest beside this file, plus the few things a manifest
cannot do when the connector runs as our own program (Docker image, pip-installed command). The
faster variant of it, which reaches into the CDK, lives apart in `source_sentry.packaged`."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
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
from airbyte_cdk.sources.declarative.yaml_declarative_source import YamlDeclarativeSource
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_sentry.ast_guard import serialize_ast_parse
from source_sentry.manifest import MANIFEST_PATH
from source_sentry.state import sanitize_state

logger = logging.getLogger("airbyte")


class SourceSentry(YamlDeclarativeSource):
    """The connector as the manifest beside this file writes it, as Airbyte Cloud runs it; what it
    adds (state cleaning, the check, refusing missing projects) uses only the CDK's public methods.
    The packaged command runs `source_sentry.packaged.source.PackagedSource` where it may."""

    def __init__(
        self,
        catalog: ConfiguredAirbyteCatalog | None = None,
        config: Mapping[str, Any] | None = None,
        state: list[AirbyteStateMessage] | None = None,
    ) -> None:
        # Not a component: a fix for the Python the read runs on, whichever connector runs.
        serialize_ast_parse()
        super().__init__(path_to_yaml=str(MANIFEST_PATH), catalog=catalog, config=config, state=state)

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
        from source_sentry.feed_check import check_feed

        try:
            feed = check_feed(config)
        except ConfigError as error:
            return AirbyteConnectionStatus(
                status=Status.FAILED,
                message=f"Connected to Sentry organization {info.organization}, but not to the webhook "
                f"feed: {error}",
            )
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
        if feed:
            message = f"{message} {feed}"
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
        word. Leave out, with a warning, the streams the server does not serve (see unserved.py).
        Fail within a minute when Sentry cannot be connected to (see reachability.py), and end a
        failed sync in the words of its first error (see sync_failure.py)."""
        from source_sentry.sync_failure import in_the_first_words
        from source_sentry.unserved import without_unserved_streams

        catalog = without_unserved_streams(config, catalog, logger)
        _fail_before_reading(config, catalog)
        yield from in_the_first_words(self.read_catalog_streams(logger, config, catalog, state))

    def read_catalog_streams(
        self,
        logger: logging.Logger,
        config: Mapping[str, Any],
        catalog: ConfiguredAirbyteCatalog,
        state: list[AirbyteStateMessage] | None = None,
    ) -> Iterator[AirbyteMessage]:
        """The CDK's read, once the config passed our own checks."""
        yield from super().read(logger, config, catalog, state)


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
    from source_sentry.manifest import conditional_stream_names, stream_names
    from source_sentry.reachability import Unreachable, wait_until_reachable

    problem = unknown_streams_message(
        [c.stream.name for c in catalog.streams], (*stream_names(), *conditional_stream_names())
    )
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
