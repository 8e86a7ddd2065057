"""The one door to the wing: which connector the command runs.

The wing's pieces reach into airbyte-cdk, serpyco_rs and Python itself. They are handed out only
when the installed versions are ones the test suite ran on (`TESTED`); anything else runs the plain
manifest, as Airbyte Cloud does, and says so in one log line: an upgrade can make a sync slower,
never wrong. Reading the versions costs no import of the CDK (package metadata only), so the
command decides before it imports the CDK.

The shut-off: `SOURCE_SENTRY_PLAIN_MANIFEST=1` runs the plain manifest whatever the versions (to
rule the wing out when a sync looks wrong, or to measure what it saves).

To accept a new version: run the wing's tests against it (`.ci/run` does for the newest CDK 7.x),
then add it here.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from functools import cache
from importlib import metadata
from typing import TYPE_CHECKING, Final, Protocol

if TYPE_CHECKING:
    from source_sentry.source import SourceSentry

# Distribution -> the versions the wing's tests passed on. serpyco_rs: quick_import.py's lazy
# schemas; airbyte-cdk: every other piece.
TESTED: Final[Mapping[str, frozenset[str]]] = {
    "airbyte-cdk": frozenset({"7.39.1"}),
    "serpyco-rs": frozenset({"1.23.0"}),
}
# quick_import.py answers `inspect.findsource` as Python 3.11's does; ast_guard's fix is not the
# wing's (the plain connector needs it too).
TESTED_PYTHONS: Final = frozenset({"3.11"})
SHUT_OFF: Final = "SOURCE_SENTRY_PLAIN_MANIFEST"

logger = logging.getLogger("airbyte")


def installed_versions() -> dict[str, str]:
    """Each distribution of `TESTED` -> its installed version ("" when it is not installed), and
    "python" -> the running Python's major.minor."""
    versions = {"python": f"{sys.version_info.major}.{sys.version_info.minor}"}
    for name in TESTED:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = ""
    return versions


def untested(versions: Mapping[str, str]) -> list[str]:
    """What of `versions` the wing was not tested on, worded for the log ("airbyte-cdk 7.9.0")."""
    outside = [
        f"{name} {versions.get(name) or '(not installed)'}"
        for name, tested in TESTED.items()
        if versions.get(name) not in tested
    ]
    if versions.get("python") not in TESTED_PYTHONS:
        outside.append(f"Python {versions.get('python')}")
    return outside


class Connector(Protocol):
    """What the command needs of a connector: how to import the CDK, the source, how to write."""

    def cdk_import(self) -> AbstractContextManager[None]: ...

    def source_class(self) -> type[SourceSentry]:
        """Imported while the CDK is (inside `cdk_import`), after its logger is set up."""
        ...

    def launch(self, source: SourceSentry, args: list[str]) -> None: ...


class PackagedConnector:
    """The wing: quick CDK import, `PackagedSource`, records written straight to bytes."""

    def cdk_import(self) -> AbstractContextManager[None]:
        from source_sentry.packaged.quick_import import quick_cdk_import

        return quick_cdk_import()

    def source_class(self) -> type[SourceSentry]:
        from source_sentry.packaged.source import PackagedSource

        return PackagedSource

    def launch(self, source: SourceSentry, args: list[str]) -> None:
        from source_sentry.packaged.output import launch

        launch(source, args)


class PlainConnector:
    """The manifest as written, with the CDK's own import and output: slower, never wrong."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def cdk_import(self) -> AbstractContextManager[None]:
        return nullcontext()

    def source_class(self) -> type[SourceSentry]:
        from source_sentry.source import SourceSentry

        logger.warning(f"Running the plain manifest (slower, same records): {self.reason}.")
        return SourceSentry

    def launch(self, source: SourceSentry, args: list[str]) -> None:
        from airbyte_cdk.entrypoint import launch

        launch(source, args)


@cache
def connector() -> Connector:
    """The packaged connector where the installed versions were tested, else the plain one."""
    if os.environ.get(SHUT_OFF, "") not in ("", "0"):
        return PlainConnector(f"{SHUT_OFF} is set")
    return connector_for(installed_versions())


def connector_for(versions: Mapping[str, str]) -> Connector:
    outside = untested(versions)
    if outside:
        return PlainConnector(f"the packaged connector's speed-ups were not tested on {', '.join(outside)}")
    return PackagedConnector()
