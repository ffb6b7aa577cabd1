"""The shop's own small database (sqlite3): its orders, refunds and the till's steps."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    out_trade_no   TEXT PRIMARY KEY,
    product        TEXT NOT NULL,
    body           TEXT NOT NULL,
    total_fee      INTEGER NOT NULL,
    method         TEXT NOT NULL,          -- NATIVE, JSAPI, MWEB, MICROPAY
    state          TEXT NOT NULL,          -- NOTPAY, PAID, FAILED, REVERSED, REFUNDED, UNRESOLVED
    code_url       TEXT NOT NULL DEFAULT '',
    transaction_id TEXT NOT NULL DEFAULT '',
    time_end       TEXT NOT NULL DEFAULT '', -- the platform's payment time, yyyyMMddHHmmss
    notifications  INTEGER NOT NULL DEFAULT 0,
    refund_id      TEXT NOT NULL DEFAULT '',
    refund_fee     INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS till_steps (
    out_trade_no TEXT NOT NULL,
    seconds      REAL NOT NULL,
    text         TEXT NOT NULL
);
"""


class ShopDb:
    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        self._conn.executescript(SCHEMA)

    def run(self, sql: str, *args: Any) -> int:
        with self._lock:
            return self._conn.execute(sql, args).rowcount

    def one(self, sql: str, *args: Any) -> dict[str, Any] | None:
        with self._lock:
            row = self._conn.execute(sql, args).fetchone()
        return dict(row) if row else None

    def all(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self._conn.execute(sql, args).fetchall()]

    def order(self, out_trade_no: str) -> dict[str, Any] | None:
        return self.one("SELECT * FROM orders WHERE out_trade_no = ?", out_trade_no)

    def mark_paid(self, out_trade_no: str, transaction_id: str, time_end: str) -> bool:
        """PAID once: a second notification or query changes nothing (the platform repeats)."""
        return (
            self.run(
                "UPDATE orders SET state = 'PAID', transaction_id = ?, time_end = ? "
                "WHERE out_trade_no = ? AND state IN ('NOTPAY', 'UNRESOLVED')",
                transaction_id,
                time_end,
                out_trade_no,
            )
            == 1
        )

    def close(self) -> None:
        self._conn.close()
