"""Orders, their retired handles, payment codes and the ledger."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from wxpay_local.domain.ledger import is_balanced
from wxpay_local.domain.model import AuthCode, LedgerTxn, Order
from wxpay_local.store import rows
from wxpay_local.store.base import Statements
from wxpay_local.timefmt import from_millis, to_millis

_ORDER_SELECT = "SELECT " + ", ".join(rows.ORDER_COLUMNS) + " FROM orders"
_ORDER_INSERT_COLUMNS = [c for c in rows.ORDER_COLUMNS if c != "id"]
_ORDER_ID_AT = rows.ORDER_COLUMNS.index("id")
_ORDER_BY: dict[tuple[str, bool], str] = {}
_ORDER_INSERT = (
    f"INSERT INTO orders ({', '.join(_ORDER_INSERT_COLUMNS)})"
    f" VALUES ({', '.join('?' for _ in _ORDER_INSERT_COLUMNS)})"
    " ON CONFLICT (merchant_id, out_trade_no) DO NOTHING RETURNING id"
)
_ORDER_UPDATE = (
    f"UPDATE orders SET {', '.join(f'{c} = ?' for c in _ORDER_INSERT_COLUMNS)} WHERE id = ?"
)


class OrderStatements(Statements):
    """One statement family of ``SqlTx``."""

    # orders --------------------------------------------------------------------------------
    def _order(self, where: str, params: Sequence[Any], lock: bool) -> Order | None:
        template = _ORDER_BY.get((where, lock))
        if template is None:
            template = f"{_ORDER_SELECT} WHERE {where}" + ("{lock}" if lock else "")
            if len(_ORDER_BY) < 256:  # a handful of fixed conditions: each built once
                _ORDER_BY[(where, lock)] = template
        row = self._one(template, params)
        return None if row is None else rows.order_from_row(row)

    def order_by_out_trade_no(
        self, merchant_id: int, out_trade_no: str, *, lock: bool = False
    ) -> Order | None:
        return self._order(
            "merchant_id = ? AND out_trade_no = ?", (merchant_id, out_trade_no), lock
        )

    def order_by_transaction_id(
        self, merchant_id: int, transaction_id: str, *, lock: bool = False
    ) -> Order | None:
        return self._order(
            "transaction_id = ? AND merchant_id = ?", (transaction_id, merchant_id), lock
        )

    def order_by_prepay_id(self, prepay_id: str, *, lock: bool = False) -> Order | None:
        return self._order("prepay_id = ?", (prepay_id,), lock)

    def order_by_qr_code(self, qr_code: str, *, lock: bool = False) -> Order | None:
        return self._order("qr_code = ?", (qr_code,), lock)

    def insert_order(self, order: Order) -> Order | None:
        values = rows.order_params(order)
        del values[_ORDER_ID_AT]
        row = self._one(_ORDER_INSERT, values)
        return None if row is None else rows.order_with_id(order, row[0])

    def update_order(self, order: Order) -> None:
        values = rows.order_params(order)
        values.append(values.pop(_ORDER_ID_AT))
        self._exec(_ORDER_UPDATE, values)

    def order_by_id(self, order_id: int, *, lock: bool = False) -> Order | None:
        return self._order("id = ?", (order_id,), lock)

    def retire_handles(self, order: Order) -> None:
        for handle in (order.prepay_id, order.qr_code):
            if handle:
                self._exec(
                    "INSERT INTO stale_handles (handle, order_id) VALUES (?, ?)"
                    " ON CONFLICT (handle) DO NOTHING",
                    (handle, order.id),
                )

    def order_by_stale_handle(self, handle: str) -> Order | None:
        row = self._one("SELECT order_id FROM stale_handles WHERE handle = ?", (handle,))
        return None if row is None else self.order_by_id(row[0])

    def payer_micropay_order(self, payer_id: int, out_trade_no: str) -> Order | None:
        return self._order(
            "payer_id = ? AND out_trade_no = ? AND trade_type = 'MICROPAY'"
            " ORDER BY id DESC LIMIT 1",
            (payer_id, out_trade_no),
            False,
        )

    def orders_awaiting_password(self, payer_id: int) -> list[Order]:
        found = self._all(
            f"{_ORDER_SELECT} WHERE payer_id = ? AND trade_state = 'USERPAYING' ORDER BY id DESC",
            (payer_id,),
        )
        return [rows.order_from_row(r) for r in found]

    def password_free_payments_since(self, payer_id: int, since: datetime) -> int:
        row = self._one(
            "SELECT COUNT(*) FROM orders WHERE payer_id = ? AND trade_type = 'MICROPAY'"
            " AND password_free = 1 AND time_end >= ?",
            (payer_id, to_millis(since)),
        )
        return int(row[0])

    # payment codes -------------------------------------------------------------------------
    def insert_auth_code(self, code: AuthCode) -> bool:
        row = self._one(
            "INSERT INTO auth_codes (auth_code, payer_id, created_at, expires_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (auth_code) DO NOTHING RETURNING auth_code",
            (code.auth_code, code.payer_id, to_millis(code.created_at), to_millis(code.expires_at)),
        )
        return row is not None

    def auth_code(self, auth_code: str, *, lock: bool = False) -> AuthCode | None:
        row = self._one(
            "SELECT auth_code, payer_id, created_at, expires_at, used_at, order_id,"
            " reserved_mch_id FROM auth_codes WHERE auth_code = ?" + ("{lock}" if lock else ""),
            (auth_code,),
        )
        if row is None:
            return None
        return AuthCode(
            auth_code=row[0],
            payer_id=row[1],
            created_at=from_millis(row[2]),
            expires_at=from_millis(row[3]),
            used_at=rows.dt(row[4]),
            order_id=row[5],
            reserved_mch_id=row[6] or "",
        )

    def update_auth_code(self, code: AuthCode) -> None:
        self._exec(
            "UPDATE auth_codes SET used_at = ?, order_id = ?, reserved_mch_id = ?"
            " WHERE auth_code = ?",
            (rows.ms(code.used_at), code.order_id, code.reserved_mch_id or None, code.auth_code),
        )

    def orders(
        self, merchant_id: int | None, limit: int, offset: int, before_id: int | None = None
    ) -> list[Order]:
        """Newest first; ``before_id`` is the keyset page (``offset`` stays for old callers)."""
        conditions: list[str] = []
        params: list[Any] = []
        if merchant_id is not None:
            conditions.append("merchant_id = ?")
            params.append(merchant_id)
        if before_id is not None:
            conditions.append("id < ?")
            params.append(before_id)
        where = (" WHERE " + " AND ".join(conditions)) if conditions else ""
        found = self._all(
            f"{_ORDER_SELECT}{where} ORDER BY id DESC LIMIT ? OFFSET ?", [*params, limit, offset]
        )
        return [rows.order_from_row(r) for r in found]

    # the ledger ----------------------------------------------------------------------------
    def balance(self, account: str, *, lock: bool = False) -> int:
        row = self._one(
            "SELECT balance FROM accounts WHERE code = ?" + ("{lock}" if lock else ""), (account,)
        )
        return 0 if row is None else int(row[0])

    def balances(self, prefix: str = "") -> dict[str, int]:
        found = self._all(
            "SELECT code, balance FROM accounts WHERE code LIKE ? ORDER BY code", (prefix + "%",)
        )
        return {code: int(balance) for code, balance in found}

    def post(self, txn: LedgerTxn) -> None:
        if not is_balanced(txn) or txn.at is None:
            raise ValueError(f"unbalanced or undated ledger transaction {txn!r}")
        txn_id = self._one(
            "INSERT INTO ledger_txns (kind, ref, at, memo) VALUES (?, ?, ?, ?) RETURNING id",
            (txn.kind, txn.ref, to_millis(txn.at), txn.memo),
        )[0]
        for posting in txn.postings:
            after = self._one(
                "INSERT INTO accounts (code, balance) VALUES (?, ?) ON CONFLICT (code)"
                " DO UPDATE SET balance = accounts.balance + excluded.balance RETURNING balance",
                (posting.account, posting.amount),
            )[0]
            self._exec(
                "INSERT INTO postings (txn_id, account, amount, balance_after) VALUES (?, ?, ?, ?)",
                (txn_id, posting.account, posting.amount, after),
            )
