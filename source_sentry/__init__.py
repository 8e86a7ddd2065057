"""Airbyte source for Sentry, and the release/deploy notifier that shares its settings."""

__version__ = "0.1.0"
