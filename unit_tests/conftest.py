from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.catalog_builder import CatalogBuilder
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput, read
from airbyte_cdk.test.state_builder import StateBuilder

from source_sentry import sentry_api
from source_sentry.packaged.parts import SWITCH as PARTS_SWITCH
from source_sentry.packaged.source import PackagedSource
from source_sentry.source import SourceSentry
from unit_tests.fake_sentry import FakeSentry, ViaRequests

Reader = Callable[..., EntrypointOutput]


def read_stream(
    stream: str,
    config: Mapping[str, Any],
    *,
    state: Mapping[str, Any] | None = None,
    sync_mode: SyncMode = SyncMode.incremental,
    expecting_exception: bool = False,
    packaged: bool = True,
    parts: bool = False,
) -> EntrypointOutput:
    """`packaged=False` reads with the manifest as written (the Cloud variant). Without `parts`
    the packaged connector reads long spans of events as the manifest does: the probes that cut
    them in parts (source_sentry/packaged/parts.py, tested in unit_tests/packaged/test_parts.py and
    end to end) are requests the mocks of the manifest's requests do not answer."""
    catalog = CatalogBuilder().with_stream(stream, sync_mode).build()
    built_state = StateBuilder().with_stream_state(stream, state).build() if state is not None else None
    source = (PackagedSource if packaged else SourceSentry)(config=config, catalog=catalog, state=built_state)
    saved = os.environ.get(PARTS_SWITCH)
    if not parts:
        os.environ[PARTS_SWITCH] = "off"
    try:
        return read(source, dict(config), catalog, built_state, expecting_exception=expecting_exception)
    finally:
        if saved is None:
            os.environ.pop(PARTS_SWITCH, None)
        else:
            os.environ[PARTS_SWITCH] = saved


class FakeClock:
    """A wall clock for code that takes `sleep` and `clock` callables (the notifier, the
    connection check): sleeps are recorded and move time forward, nothing waits."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def clocked_api(clock: FakeClock | None = None, **kwargs: Any) -> sentry_api.SentryApi:
    """A SentryApi for the test organization whose waits go to `clock` (a fresh one if none)."""
    from unit_tests.sentry import BASE, TOKEN

    clock = clock or FakeClock()
    return sentry_api.SentryApi(BASE, TOKEN, sleep=clock.sleep, clock=clock.time, **kwargs)


SLEEPS: list[float] = []


@pytest.fixture(autouse=True)
def _sentry_api_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """``SentryApi`` made without a transport in a stream test (the sync's project check) sends
    through ``requests``, so that the test's HttpMocker answers it as it answers the CDK. Tests of
    SentryApi and notify use ``fake_sentry`` instead."""
    monkeypatch.setattr(sentry_api, "default_transport", ViaRequests)


@pytest.fixture
def fake_sentry(monkeypatch: pytest.MonkeyPatch, _sentry_api_offline: None) -> FakeSentry:
    """The transport of every ``SentryApi`` made without one: answers what the test registers,
    records what is sent, and fails the test on any request it was not told to expect."""
    fake = FakeSentry()
    monkeypatch.setattr(sentry_api, "default_transport", lambda: fake)
    return fake


@pytest.fixture(autouse=True)
def _no_real_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Backoff waits are recorded in SLEEPS for the tests to assert; nobody sleeps through them."""
    import time

    SLEEPS.clear()

    def sleep(seconds: float) -> None:
        SLEEPS.append(seconds)
        # Under freeze_time a frozen clock moves as if we had slept (a real sleep(0) takes a
        # moment too), or a rate-limit window waited for would never reset.
        from freezegun import api

        for factory in api.freeze_factories:
            factory.tick(max(seconds, 0.001))

    monkeypatch.setattr(time, "sleep", sleep)
