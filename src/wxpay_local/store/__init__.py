"""Storage: the SQL implementation of ``domain.ports`` on SQLite (default) or PostgreSQL."""

from __future__ import annotations

from wxpay_local.store.engine import SqlStore, open_store

__all__ = ["SqlStore", "open_store"]
