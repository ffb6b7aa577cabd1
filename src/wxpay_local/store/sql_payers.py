"""The payer statements of ``SqlTx``: payment history, wallet movements, the payment password.

History pages are keyset reads, newest first, over ``orders_payer_paid`` (migration 0005);
wallet movements over ``postings_account`` (account, id). Neither sorts nor skips rows, so a
page costs the same however long the payer's history is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from wxpay_local.domain.ledger import wallet
from wxpay_local.domain.model import Refund
from wxpay_local.domain.payers import PaymentKey, PaymentLine, WalletMovement
from wxpay_local.store import rows
from wxpay_local.store.base import Statements

# The refund row mapping is sql_refunds's own; shared rather than written twice.
from wxpay_local.store.sql_refunds import REFUND_COLUMNS
from wxpay_local.store.sql_refunds import _refund as refund_from_row
from wxpay_local.timefmt import from_millis, to_millis

_PAYMENTS = (
    "SELECT "
    + ", ".join(f"o.{c}" for c in rows.ORDER_COLUMNS)
    + ", m.name FROM orders o JOIN merchants m ON m.id = o.merchant_id"
    " WHERE o.payer_id = ? AND o.time_end IS NOT NULL"
)
_ORDER_WIDTH = len(rows.ORDER_COLUMNS)
#: Refunds of at most this many orders per statement (a history page is far smaller).
_IN_CHUNK = 500


class PayerStatements(Statements):
    """One statement family of ``SqlTx``."""

    def payer_payments(
        self, payer_id: int, before: PaymentKey | None, limit: int
    ) -> list[PaymentLine]:
        sql, params = _PAYMENTS, [payer_id]
        if before is not None:
            at = to_millis(before[0])
            # The first term bounds the index range; the second only sorts out the few rows
            # that share the cursor's millisecond.
            sql += " AND o.time_end <= ? AND (o.time_end < ? OR o.id < ?)"
            params += [at, at, before[1]]
        found = self._all(sql + " ORDER BY o.time_end DESC, o.id DESC LIMIT ?", [*params, limit])
        return [PaymentLine(rows.order_from_row(r[:_ORDER_WIDTH]), r[_ORDER_WIDTH]) for r in found]

    def refunds_of_orders(self, order_ids: Sequence[int]) -> list[Refund]:
        found: list[Refund] = []
        for start in range(0, len(order_ids), _IN_CHUNK):
            chunk = list(order_ids[start : start + _IN_CHUNK])
            marks = ", ".join("?" for _ in chunk)
            found += [
                refund_from_row(r)
                for r in self._all(
                    f"SELECT {', '.join(REFUND_COLUMNS)} FROM refunds"
                    f" WHERE order_id IN ({marks}) ORDER BY order_id, id",
                    chunk,
                )
            ]
        return found

    def wallet_movements(
        self, payer_id: int, before_id: int | None, limit: int
    ) -> list[WalletMovement]:
        sql = (
            "SELECT p.id, t.kind, t.ref, t.at, p.amount, p.balance_after FROM postings p"
            " JOIN ledger_txns t ON t.id = p.txn_id WHERE p.account = ?"
        )
        params: list[Any] = [wallet(payer_id)]
        if before_id is not None:
            sql += " AND p.id < ?"
            params.append(before_id)
        found = self._all(sql + " ORDER BY p.id DESC LIMIT ?", [*params, limit])
        return [
            WalletMovement(int(i), kind, ref, from_millis(at), int(amount), int(after))
            for i, kind, ref, at, amount, after in found
        ]

    def set_pay_password(self, payer_id: int, password: str) -> None:
        self._exec("UPDATE payers SET pay_password = ? WHERE id = ?", (password, payer_id))
