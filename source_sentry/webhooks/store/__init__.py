"""Where deliveries are kept: SQLite for a file path, PostgreSQL for a postgresql:// URL."""

from __future__ import annotations

from source_sentry.webhooks.store.base import Incoming, Recorded, Store, StoreError, feed_entry


def open_store(database: str, sqlite_synchronous: str = "full") -> Store:
    """`sqlite_synchronous` applies to a SQLite file only (see store/sqlite.py)."""
    if database.startswith(("postgresql://", "postgres://")):
        from source_sentry.webhooks.store.postgres import PostgresStore

        return PostgresStore(database)
    from source_sentry.webhooks.store.sqlite import SqliteStore

    return SqliteStore(database, synchronous=sqlite_synchronous)


__all__ = ["Incoming", "Recorded", "Store", "StoreError", "feed_entry", "open_store"]
