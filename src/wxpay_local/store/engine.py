"""Opening a store: SQLite in WAL mode in a data directory, or PostgreSQL from a URL."""

from __future__ import annotations

from wxpay_local.store.postgres import PostgresStore
from wxpay_local.store.sqlite import SqliteStore

#: Either backend; both offer ``begin()``, ``run()``, ``reset()``, ``close()``.
SqlStore = SqliteStore | PostgresStore


def open_store(url: str, *, durability: str = "full") -> SqlStore:
    """A store for ``postgresql://…``, ``sqlite:///path`` or a plain SQLite file path."""
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresStore(url, durability=durability)
    return SqliteStore(url, durability=durability)
