"""Where deliveries are kept: SQLite for a file path, PostgreSQL for a postgresql:// URL."""

from __future__ import annotations

from source_sentry.webhooks.store.base import Incoming, Recorded, Store, StoreError, feed_entry


def open_store(database: str) -> Store:
    if database.startswith(("postgresql://", "postgres://")):
        from source_sentry.webhooks.store.postgres import PostgresStore

        return PostgresStore(database)
    from source_sentry.webhooks.store.sqlite import SqliteStore

    return SqliteStore(database)


__all__ = ["Incoming", "Recorded", "Store", "StoreError", "feed_entry", "open_store"]
