"""Sentry Web API emulator: a real HTTP server on 127.0.0.1 behaving like Sentry for
everything the connector and the notifier touch. See README.md in this directory."""

from .auth import ALL_SCOPES
from .emulator import Emulator

__all__ = ["ALL_SCOPES", "Emulator"]
