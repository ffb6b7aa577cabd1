"""The merchant console's list statements of ``SqlTx``: keyset pages, exact searches, the ledger
entries of one order. Every list reads newest first along an index and never uses OFFSET.

Orders and refunds page on ``(created_at, id)`` through the ``(merchant_id, created_at…)``
indexes the bills already need; the operator's "all merchants" list is one such read per
merchant merged here (a handful of merchants, each an index range), so the merchant API's write
path pays for no extra index. Notifications page on ``id`` (the outbox's own order).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from wxpay_local.domain.model import DeliveryAttempt, Notification, Order, Refund
from wxpay_local.domain.ports import Keyset, LedgerEntry
from wxpay_local.store import rows
from wxpay_local.store.base import Statements
from wxpay_local.store.sql_refunds import REFUND_COLUMNS
from wxpay_local.store.sql_refunds import _refund as refund_from_row  # one row mapping
from wxpay_local.timefmt import from_millis

_ORDER_SELECT = "SELECT " + ", ".join(rows.ORDER_COLUMNS) + " FROM orders"
_REFUND_SELECT = (
    "SELECT "
    + ", ".join(f"r.{c}" for c in REFUND_COLUMNS)
    + ", o.mch_id, o.out_trade_no FROM refunds r JOIN orders o ON o.id = r.order_id"
)
_CREATED_AT = rows.ORDER_COLUMNS.index("created_at")
_ID = rows.ORDER_COLUMNS.index("id")


def _window(page: Keyset, created: str, ident: str) -> tuple[list[str], list[Any], str]:
    """The keyset and date conditions of a page, and its ORDER BY (descending unless going back).

    The cursor is spelled ``created <= ? AND (created < ? OR id < ?)`` rather than a row-value
    comparison: both databases then use ``created <= ?`` as the index range, and the OR only
    filters the few rows sharing the cursor's millisecond.
    """
    conditions: list[str] = []
    params: list[Any] = []
    if page.since is not None:
        conditions.append(f"{created} >= ?")
        params.append(page.since)
    if page.until is not None:
        conditions.append(f"{created} < ?")
        params.append(page.until)
    if page.after is not None:
        conditions.append(f"{created} <= ? AND ({created} < ? OR {ident} < ?)")
        params += [page.after[0], page.after[0], page.after[1]]
    if page.before is not None:
        conditions.append(f"{created} >= ? AND ({created} > ? OR {ident} > ?)")
        params += [page.before[0], page.before[0], page.before[1]]
    way = "ASC" if page.before is not None else "DESC"
    return conditions, params, f" ORDER BY {created} {way}, {ident} {way} LIMIT ?"


#: Merchants read per statement by an "all merchants" list (one index range each).
_MERCHANTS_PER_STATEMENT = 100


def _merge(found: list[tuple[int, int, Any]], page: Keyset) -> list[Any]:
    """The first ``page.limit`` of the per-merchant rows, in page order (newest first)."""
    going_back = page.before is not None
    found.sort(key=lambda r: (r[0], r[1]), reverse=not going_back)
    taken = [item for _, _, item in found[: page.limit]]
    return taken[::-1] if going_back else taken


def _keyed(found: list[Any], created: int, ident: int) -> list[tuple[int, int, Any]]:
    return [(r[created], r[ident], r) for r in found]


class ConsoleStatements(Statements):
    """One statement family of ``SqlTx``."""

    def console_orders(
        self, merchant_ids: Sequence[int], page: Keyset, trade_state: str, trade_type: str
    ) -> list[Order]:
        conditions, params, tail = _window(page, "created_at", "id")
        conditions.insert(0, "merchant_id = ?")
        if trade_state:
            conditions.append("trade_state = ?")
            params.append(trade_state)
        if trade_type:
            conditions.append("trade_type = ?")
            params.append(trade_type)
        one = f"{_ORDER_SELECT} WHERE {' AND '.join(conditions)}{tail}"
        found = self._per_merchant(one, params, merchant_ids, page.limit)
        return [rows.order_from_row(r) for r in _merge(_keyed(found, _CREATED_AT, _ID), page)]

    def _per_merchant(
        self, one: str, params: list[Any], merchant_ids: Sequence[int], limit: int
    ) -> list[Any]:
        """``one`` (its first mark the merchant) for each merchant, as one UNION ALL statement
        per hundred merchants: each branch still reads its own index range, and a list costs
        the same statements whatever its length."""
        found: list[Any] = []
        for start in range(0, len(merchant_ids), _MERCHANTS_PER_STATEMENT):
            chunk = merchant_ids[start : start + _MERCHANTS_PER_STATEMENT]
            union = " UNION ALL ".join(f"SELECT * FROM ({one}) AS m{i}" for i in range(len(chunk)))
            values: list[Any] = []
            for merchant_id in chunk:
                values += [merchant_id, *params, limit]
            found += self._all(union, values)
        return found

    def console_order_search(self, merchant_ids: Sequence[int], text: str) -> list[Order]:
        """Orders whose out_trade_no or transaction_id is exactly ``text`` (unique indexes)."""
        if not merchant_ids:
            return []
        marks = ", ".join("?" for _ in merchant_ids)
        found = self._all(
            f"{_ORDER_SELECT} WHERE transaction_id = ? AND merchant_id IN ({marks})",
            [text, *merchant_ids],
        )
        found += self._all(
            f"{_ORDER_SELECT} WHERE merchant_id IN ({marks}) AND out_trade_no = ?",
            [*merchant_ids, text],
        )
        unique = {r[_ID]: r for r in found}
        return [rows.order_from_row(r) for _, r in sorted(unique.items(), reverse=True)]

    def console_refunds(
        self, merchant_ids: Sequence[int], page: Keyset, refund_status: str, text: str = ""
    ) -> list[tuple[Refund, str, str]]:
        """(refund, its order's mch_id, its order's out_trade_no), newest first."""
        created = REFUND_COLUMNS.index("created_at")
        conditions, params, tail = _window(page, "r.created_at", "r.id")
        conditions.insert(0, "r.merchant_id = ?")
        if refund_status:
            conditions.append("r.refund_status = ?")
            params.append(refund_status)
        if text:
            conditions.append("(r.refund_id = ? OR r.out_refund_no = ?)")
            params += [text, text]
        one = f"{_REFUND_SELECT} WHERE {' AND '.join(conditions)}{tail}"
        found = self._per_merchant(one, params, merchant_ids, page.limit)
        width = len(REFUND_COLUMNS)
        return [
            (refund_from_row(r[:width]), r[width], r[width + 1])
            for r in _merge(_keyed(found, created, 0), page)
        ]

    def console_notifications(
        self, merchant_id: int | None, page: Keyset, kind: str, status: str
    ) -> list[tuple[Notification, str, str]]:
        """(notification, its order's mch_id, out_trade_no), newest (highest id) first."""
        conditions: list[str] = []
        params: list[Any] = []
        if merchant_id is not None:
            conditions.append("n.merchant_id = ?")
            params.append(merchant_id)
        for column, value in (("n.kind", kind), ("n.status", status)):
            if value:
                conditions.append(f"{column} = ?")
                params.append(value)
        for column, bound, op in (
            ("n.created_at", page.since, ">="),
            ("n.created_at", page.until, "<"),
            ("n.id", page.after and page.after[1], "<"),
            ("n.id", page.before and page.before[1], ">"),
        ):
            if bound is not None:
                conditions.append(f"{column} {op} ?")
                params.append(bound)
        where = (" WHERE " + " AND ".join(conditions)) if conditions else ""
        way = "ASC" if page.before is not None else "DESC"
        columns = ", ".join(f"n.{c.strip()}" for c in rows.NOTIFICATION_COLUMNS.split(","))
        found = self._all(
            f"SELECT {columns}, o.mch_id, o.out_trade_no FROM notifications n"
            f" JOIN orders o ON o.id = n.order_id{where} ORDER BY n.id {way} LIMIT ?",
            [*params, page.limit],
        )
        if page.before is not None:
            found.reverse()
        return [(rows.notification_from_row(r[:-2]), r[-2], r[-1]) for r in found]

    def attempts_of(self, notification_ids: Sequence[int]) -> dict[int, list[DeliveryAttempt]]:
        found: dict[int, list[DeliveryAttempt]] = {i: [] for i in notification_ids}
        if not notification_ids:
            return found
        marks = ", ".join("?" for _ in notification_ids)
        for r in self._all(
            "SELECT notification_id, number, at, ok, http_status, latency_ms, reason, excerpt"
            f" FROM delivery_attempts WHERE notification_id IN ({marks})"
            " ORDER BY notification_id, number",
            list(notification_ids),
        ):
            found[r[0]].append(rows.attempt_from_row(r))
        return found

    def ledger_entries(self, refs: Sequence[str], since: int, until: int) -> list[LedgerEntry]:
        """The postings of the ledger transactions referring to ``refs`` between two moments
        (epoch ms): a range of the ``(at, id)`` index, since ``ref`` has none of its own."""
        if not refs:
            return []
        marks = ", ".join("?" for _ in refs)
        found = self._all(
            "SELECT t.id, t.kind, t.ref, t.at, p.account, p.amount FROM ledger_txns t"
            " JOIN postings p ON p.txn_id = t.id"
            f" WHERE t.at >= ? AND t.at <= ? AND t.ref IN ({marks}) ORDER BY t.at, t.id, p.id",
            [since, until, *refs],
        )
        return [LedgerEntry(r[0], r[1], r[2], from_millis(r[3]), r[4], r[5]) for r in found]
