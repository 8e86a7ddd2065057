"""The Sentry source: the declarative manifest beside this file, plus the few things a manifest
cannot do when the connector runs as our own program (Docker image, pip-installed command)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import cache
from typing import Any

from airbyte_cdk.models import (
    AirbyteConnectionStatus,
    AirbyteStateMessage,
    AirbyteStateMessageSerializer,
    ConfiguredAirbyteCatalog,
    Status,
)
from airbyte_cdk.sources.declarative.yaml_declarative_source import YamlDeclarativeSource

from source_sentry.manifest import MANIFEST_PATH
from source_sentry.state import sanitize_state

logger = logging.getLogger("airbyte")


class SourceSentry(YamlDeclarativeSource):
    def __init__(
        self,
        catalog: ConfiguredAirbyteCatalog | None = None,
        config: Mapping[str, Any] | None = None,
        state: list[AirbyteStateMessage] | None = None,
    ) -> None:
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
        """Run the check shared with the notifier: it names the organization, project or scope at
        fault, which the manifest's CheckStream cannot."""
        from source_sentry.check import check_connection
        from source_sentry.config import ConfigError

        try:
            info = check_connection(config, purpose="read")
        except ConfigError as error:
            return AirbyteConnectionStatus(status=Status.FAILED, message=str(error))
        except Exception as error:  # noqa: BLE001 - reported to the user, never as a trace alone
            return AirbyteConnectionStatus(status=Status.FAILED, message=f"Could not reach Sentry: {error}")
        logger.info(f"Connected to Sentry organization {info.organization}")
        return AirbyteConnectionStatus(status=Status.SUCCEEDED)


@cache
def _clean_state(state_path: str) -> tuple[AirbyteStateMessage, ...]:
    # Cached: the command reads the state to build the source and the CDK's entrypoint reads it
    # again; the file is judged, and its warnings logged, once per process.
    from source_sentry.config import read_json_file

    clean, warnings = sanitize_state(read_json_file(state_path, "state"))
    for warning in warnings:
        logger.warning(warning)
    return tuple(AirbyteStateMessageSerializer.load(message) for message in clean)
