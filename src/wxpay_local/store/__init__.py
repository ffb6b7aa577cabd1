"""Storage: the SQL implementation of ``domain.ports`` on SQLite (default) or PostgreSQL."""

from __future__ import annotations

from wxpay_local.store.engine import SqlStore, open_store
from wxpay_local.store.postgres import PostgresStore
from wxpay_local.store.sqlite import SqliteStore

__all__ = ["PostgresStore", "SqlStore", "SqliteStore", "open_store"]
