"""The refund statements of ``SqlTx`` (kept apart: the order statements are long enough)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields, replace
from datetime import datetime
from typing import Any

from wxpay_local.codes import RefundStatus, SignType
from wxpay_local.domain.model import Refund
from wxpay_local.store import rows
from wxpay_local.store.base import Statements
from wxpay_local.timefmt import to_millis

REFUND_COLUMNS = tuple(f.name for f in fields(Refund))
_SELECT = "SELECT " + ", ".join(REFUND_COLUMNS) + " FROM refunds"
_TIMES = frozenset({"created_at", "updated_at", "settle_at", "success_time"})


def _params(refund: Refund) -> list[Any]:
    values: list[Any] = []
    for name in REFUND_COLUMNS:
        value = getattr(refund, name)
        if name in _TIMES:
            value = rows.ms(value)
        elif isinstance(value, SignType):
            value = str(value)
        values.append(value)
    return values


def _refund(row: Sequence[Any]) -> Refund:
    data = dict(zip(REFUND_COLUMNS, row, strict=True))
    for name in _TIMES:
        data[name] = rows.dt(data[name])
    data["sign_type"] = SignType(data["sign_type"])
    data["refund_status"] = RefundStatus(data["refund_status"])
    return Refund(**data)


class RefundStatements(Statements):
    """One statement family of ``SqlTx``."""

    def insert_refund(self, refund: Refund) -> Refund:
        values = _params(refund)[1:]
        marks = ", ".join("?" for _ in values)
        row = self._one(
            f"INSERT INTO refunds ({', '.join(REFUND_COLUMNS[1:])}) VALUES ({marks}) RETURNING id",
            values,
        )
        return replace(refund, id=row[0])

    def update_refund(self, refund: Refund) -> None:
        values = _params(refund)
        assignments = ", ".join(f"{c} = ?" for c in REFUND_COLUMNS[1:])
        self._exec(f"UPDATE refunds SET {assignments} WHERE id = ?", [*values[1:], values[0]])

    def refund_by_out_refund_no(self, merchant_id: int, out_refund_no: str) -> Refund | None:
        row = self._one(
            f"{_SELECT} WHERE merchant_id = ? AND out_refund_no = ?", (merchant_id, out_refund_no)
        )
        return None if row is None else _refund(row)

    def refund_by_refund_id(self, merchant_id: int, refund_id: str) -> Refund | None:
        row = self._one(
            f"{_SELECT} WHERE refund_id = ? AND merchant_id = ?", (refund_id, merchant_id)
        )
        return None if row is None else _refund(row)

    def refund_by_any_id(self, refund_id: str) -> Refund | None:
        row = self._one(f"{_SELECT} WHERE refund_id = ?", (refund_id,))
        return None if row is None else _refund(row)

    def refunds_of(self, order_id: int) -> list[Refund]:
        return [
            _refund(r) for r in self._all(f"{_SELECT} WHERE order_id = ? ORDER BY id", (order_id,))
        ]

    def due_refunds(self, now: datetime, limit: int) -> list[Refund]:
        found = self._all(
            f"{_SELECT} WHERE refund_status = 'PROCESSING' AND settle_at <= ? ORDER BY settle_at"
            " LIMIT ?",
            (to_millis(now), limit),
        )
        return [_refund(r) for r in found]

    def set_refund_notify_url(self, merchant_id: int, url: str) -> None:
        self._exec("UPDATE merchants SET refund_notify_url = ? WHERE id = ?", (url, merchant_id))
