"""Streams the configured server does not serve, taken out of a sync before it starts.

The manifest offers some streams only where the server serves them (a `ConditionalStreams`
block: with `server: glitchtip`, the streams GlitchTip lacks), so discover leaves them out. A
catalog written before `server` was set may still name them: each gets one warning and no
request, where the CDK would mark it incomplete."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from airbyte_cdk.models import ConfiguredAirbyteCatalog

from source_sentry.manifest import unserved_stream_names


def unserved_message(stream: str, config: Mapping[str, Any]) -> str:
    server = config.get("server") or "sentry"
    return (
        f"Stream `{stream}` skipped: {'GlitchTip' if server == 'glitchtip' else 'this server'} does not "
        f"serve it (`server` is `{server}`), so nothing was requested for it. The other streams sync; "
        f"take it out of the connection to drop this warning."
    )


def without_unserved_streams(
    config: Mapping[str, Any], catalog: ConfiguredAirbyteCatalog, logger: logging.Logger
) -> ConfiguredAirbyteCatalog:
    """The catalog without the streams the server does not serve, one warning for each."""
    unserved = set(unserved_stream_names(config))
    kept = [configured for configured in catalog.streams if configured.stream.name not in unserved]
    if len(kept) == len(catalog.streams):
        return catalog
    for configured in catalog.streams:
        if configured.stream.name in unserved:
            logger.warning(unserved_message(configured.stream.name, config))
    return ConfiguredAirbyteCatalog(streams=kept)
