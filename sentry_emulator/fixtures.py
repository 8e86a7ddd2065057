"""Pytest fixtures for tests that need the Sentry Web API emulator (a plugin loaded by the root
conftest.py, so the emulator's own tests and the connector's share them)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .emulator import Emulator

SMALL: dict[str, Any] = {
    "seed": 1,
    "projects": 3,
    "events": 300,
    "issues": 24,
    "releases": 12,
    "rate_limits": "none",
}


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """A running emulator with small data and no rate limits (self-hosted style)."""
    with Emulator(**SMALL) as emu:
        yield emu


@pytest.fixture
def make_emulator() -> Iterator[Callable[..., Emulator]]:
    """Factory: ``make_emulator(**kwargs)`` starts an emulator (small-data defaults overridden by
    kwargs); every one started is stopped at teardown."""
    started: list[Emulator] = []

    def factory(**kwargs: Any) -> Emulator:
        emu = Emulator(**{**SMALL, **kwargs}).start()
        started.append(emu)
        return emu

    yield factory
    for emu in started:
        emu.stop()
