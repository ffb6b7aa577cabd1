"""The bill statements of ``SqlTx``: a day's payments, refunds, reversals and ledger postings.

Every read is one keyset-paginated batch in (time, id) order over an index made for it
(migration 0004), so a bill of any size streams in flat memory.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from wxpay_local.domain.bills import (
    PAYMENT,
    RECHARGE_FUNDS,
    REFUND,
    REVOKED,
    DayQuery,
    Key,
    TradeLine,
    refund_status_at,
)
from wxpay_local.domain.fundflow import FundLine
from wxpay_local.store.base import Statements
from wxpay_local.timefmt import from_millis, to_millis

_ORDER = (
    "o.appid, o.device_info, o.transaction_id, o.out_trade_no,"
    " COALESCE(NULLIF(o.payer_openid, ''), o.openid), o.trade_type, o.bank_type, o.fee_type,"
    " o.body, o.attach, o.total_fee"
)
_PAID = "o.trade_state IN ('SUCCESS', 'REFUND', 'REVOKED')"
#: What the ledger transactions of each kind refer to: an order, or a refund.
_ORDER_KINDS = "('payment', 'reversal')"
_REFUND_KINDS = "('refund', 'refund_success', 'refund_returned', 'refund_manual')"


def _page(column: str, id_column: str, q_start: int, after: Key | None) -> tuple[str, list[Any]]:
    """The keyset condition: rows after ``after`` in (column, id) order."""
    if after is None:
        return f"{column} >= ?", [q_start]
    at = to_millis(after[0])
    return f"{column} >= ? AND ({column} > ? OR {id_column} > ?)", [max(q_start, at), at, after[1]]


#: The refund fields of a payment line (TradeLine's defaults), for the fast ``_make``.
_NO_REFUND = ("", "", 0, "", "", None)


def _ms(value: int | None) -> datetime | None:
    return None if value is None else from_millis(value)


class BillStatements(Statements):
    """One statement family of ``SqlTx``."""

    def bill_bounds(self) -> tuple[int, int, int]:
        row = self._one(
            "SELECT (SELECT COALESCE(MAX(id), 0) FROM orders),"
            " (SELECT COALESCE(MAX(id), 0) FROM refunds),"
            " (SELECT COALESCE(MAX(id), 0) FROM ledger_txns)"
        )
        return int(row[0]), int(row[1]), int(row[2])

    # the trade bill -------------------------------------------------------------------------
    def _payments_sql(self, q: DayQuery, after: Key | None) -> tuple[str, list[Any]]:
        page, params = _page("o.time_end", "o.id", to_millis(q.start), after)
        where = f"o.merchant_id = ? AND {page} AND o.time_end < ? AND o.id <= ? AND {_PAID}"
        params = [q.merchant_id, *params, to_millis(q.end), q.upto_order]
        if q.device_info:
            where += " AND o.device_info = ?"
            params.append(q.device_info)
        return where, params

    def bill_payments(self, q: DayQuery, after: Key | None, limit: int) -> list[TradeLine]:
        where, params = self._payments_sql(q, after)
        found = self._all(
            f"SELECT o.time_end, o.id, {_ORDER}, o.fee FROM orders o WHERE {where}"
            " ORDER BY o.time_end, o.id LIMIT ?",
            [*params, limit],
        )
        return [TradeLine._make((PAYMENT, from_millis(r[0]), *r[1:], *_NO_REFUND)) for r in found]

    def _refunds_sql(self, q: DayQuery, after: Key | None) -> tuple[str, list[Any]]:
        page, params = _page("r.created_at", "r.id", to_millis(q.start), after)
        source = "=" if q.recharge else "<>"
        where = (
            f"r.merchant_id = ? AND {page} AND r.created_at < ? AND r.id <= ?"
            f" AND r.refund_account {source} ?"
        )
        params = [q.merchant_id, *params, to_millis(q.end), q.upto_refund, RECHARGE_FUNDS]
        if q.device_info:
            where += " AND o.device_info = ?"
            params.append(q.device_info)
        return where, params

    def bill_refunds(self, q: DayQuery, after: Key | None, limit: int) -> list[TradeLine]:
        where, params = self._refunds_sql(q, after)
        found = self._all(
            f"SELECT r.created_at, r.id, {_ORDER}, r.fee_returned, r.refund_id, r.out_refund_no,"
            " r.refund_fee, r.refund_channel, r.refund_status, r.settle_at, r.success_time"
            f" FROM refunds r JOIN orders o ON o.id = r.order_id WHERE {where}"
            " ORDER BY r.created_at, r.id LIMIT ?",
            [*params, limit],
        )
        lines = []
        for r in found:
            status, success = refund_status_at(r[18], _ms(r[19]), _ms(r[20]), q.as_of)
            lines.append(TradeLine._make((REFUND, from_millis(r[0]), *r[1:18], status, success)))
        return lines

    def _reversals_sql(self, q: DayQuery, after: Key | None) -> tuple[str, list[Any]]:
        page, params = _page("o.updated_at", "o.id", to_millis(q.start), after)
        # trade_state = 'REVOKED' literally: the partial index orders_revoked serves it
        where = (
            f"o.merchant_id = ? AND o.trade_state = 'REVOKED' AND {page} AND o.updated_at < ?"
            " AND o.id <= ? AND o.time_end IS NOT NULL"
        )
        params = [q.merchant_id, *params, to_millis(q.end), q.upto_order]
        if q.device_info:
            where += " AND o.device_info = ?"
            params.append(q.device_info)
        return where, params

    def bill_reversals(self, q: DayQuery, after: Key | None, limit: int) -> list[TradeLine]:
        where, params = self._reversals_sql(q, after)
        found = self._all(
            f"SELECT o.updated_at, o.id, {_ORDER}, o.fee FROM orders o WHERE {where}"
            " ORDER BY o.updated_at, o.id LIMIT ?",
            [*params, limit],
        )
        lines = []
        for r in found:
            at = from_millis(r[0])
            # a reversal refunds the whole order at once: its own ids stand in for a refund's
            refund = (r[4], r[5], r[12], "ORIGINAL", "SUCCESS", at)
            lines.append(TradeLine._make((REVOKED, at, *r[1:], *refund)))
        return lines

    def bill_count(self, q: DayQuery, kinds: tuple[str, ...]) -> int:
        total = 0
        for kind, build, table in (
            (PAYMENT, self._payments_sql, "orders o"),
            (REFUND, self._refunds_sql, "refunds r JOIN orders o ON o.id = r.order_id"),
            (REVOKED, self._reversals_sql, "orders o"),
        ):
            if kind in kinds:
                where, params = build(q, None)
                total += int(self._one(f"SELECT COUNT(*) FROM {table} WHERE {where}", params)[0])
        return total

    # the fund flow --------------------------------------------------------------------------
    def fund_lines(
        self,
        account: str,
        day: tuple[datetime, datetime],
        upto_txn: int,
        after: Key | None,
        limit: int,
    ) -> list[FundLine]:
        page, params = _page("t.at", "t.id", to_millis(day[0]), after)
        # CROSS JOIN keeps SQLite on the (at, id) index of ledger_txns (no sort, no scan of the
        # account's whole history); PostgreSQL plans it as the inner join it is.
        found = self._all(
            "SELECT t.at, t.id, t.kind, t.ref, p.amount, p.balance_after,"
            " COALESCE(o.transaction_id, ro.transaction_id, ''),"
            " COALESCE(o.out_trade_no, ro.out_trade_no, ''),"
            " COALESCE(o.total_fee, ro.total_fee, 0), COALESCE(o.fee, ro.fee, 0),"
            " COALESCE(r.refund_id, ''), COALESCE(r.out_refund_no, ''),"
            " COALESCE(r.refund_fee, 0), COALESCE(r.fee_returned, 0)"
            " FROM ledger_txns t CROSS JOIN postings p"
            f" LEFT JOIN orders o ON o.transaction_id = t.ref AND t.kind IN {_ORDER_KINDS}"
            f" LEFT JOIN refunds r ON r.refund_id = t.ref AND t.kind IN {_REFUND_KINDS}"
            " LEFT JOIN orders ro ON ro.id = r.order_id"
            f" WHERE p.txn_id = t.id AND p.account = ? AND {page} AND t.at < ? AND t.id <= ?"
            " ORDER BY t.at, t.id LIMIT ?",
            [account, *params, to_millis(day[1]), upto_txn, limit],
        )
        return [FundLine(from_millis(r[0]), *r[1:]) for r in found]
