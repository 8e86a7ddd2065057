"""The Sentry source: the declarative manifest beside this file, plus the few things a manifest
cannot do when the connector runs as our own program (Docker image, pip-installed command)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from airbyte_cdk.models import AirbyteConnectionStatus, ConfiguredAirbyteCatalog, Status
from airbyte_cdk.sources.declarative.yaml_declarative_source import YamlDeclarativeSource
from airbyte_cdk.sources.source import TState

MANIFEST_PATH = Path(__file__).resolve().parent / "manifest.yaml"


class SourceSentry(YamlDeclarativeSource):
    def __init__(
        self,
        catalog: ConfiguredAirbyteCatalog | None = None,
        config: Mapping[str, Any] | None = None,
        state: TState = None,
    ) -> None:
        super().__init__(path_to_yaml=str(MANIFEST_PATH), catalog=catalog, config=config, state=state)

    def check(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteConnectionStatus:
        """Run the check shared with the notifier: it names the organization, project or scope at
        fault, which the manifest's CheckStream cannot."""
        from source_sentry.connection import ConfigError, check_connection

        try:
            info = check_connection(config, purpose="read")
        except ConfigError as error:
            return AirbyteConnectionStatus(status=Status.FAILED, message=str(error))
        except Exception as error:  # noqa: BLE001 - reported to the user, never as a trace alone
            return AirbyteConnectionStatus(status=Status.FAILED, message=f"Could not reach Sentry: {error}")
        logger.info(f"Connected to Sentry organization {info.organization}")
        return AirbyteConnectionStatus(status=Status.SUCCEEDED)
