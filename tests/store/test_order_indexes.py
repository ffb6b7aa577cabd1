"""Migration 0008 made the lookup indexes of orders partial (an unpaid order has no
transaction_id, payer or time_end, only a Native order a qr_code), so that a new order is
written into fewer indexes. Every statement that looked rows up through them must still do so,
on both databases: the plan of each, run through the store's own statement methods, names its
index."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from wxpay_local.codes import SignType, TradeState, TradeType
from wxpay_local.domain.bills import DayQuery
from wxpay_local.domain.clock import TestClock
from wxpay_local.domain.ids import Ids
from wxpay_local.domain.model import Merchant, Order
from wxpay_local.domain.setup import NewMerchant, NewPayer, create_merchant, create_payer
from wxpay_local.store import SqlStore
from wxpay_local.store.base import watch_statements
from wxpay_local.store.sql import SqlTx
from wxpay_local.timefmt import SHANGHAI

pytestmark = pytest.mark.store

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=SHANGHAI)
ORDERS = 1200


def _order(merchant: Merchant, n: int, payer_id: int, ids: Ids) -> Order:
    paid = n % 4 == 0
    native = n % 2 == 0
    return Order(
        id=0,
        merchant_id=merchant.id,
        mch_id=merchant.mch_id,
        appid="wx0000000000000001",
        out_trade_no=f"I{n:06d}",
        trade_type=TradeType.NATIVE if native else TradeType.JSAPI,
        trade_state=TradeState.SUCCESS if paid else TradeState.NOTPAY,
        total_fee=100 + n,
        body=f"item {n}",
        spbill_create_ip="203.0.113.7",
        sign_type=SignType.MD5,
        created_at=T0 + timedelta(seconds=n),
        prepay_id=ids.prepay_id(T0),
        qr_code=ids.qr_code() if native else "",
        transaction_id=f"42000{n:023d}" if paid else "",
        payer_id=payer_id if paid else None,
        time_end=T0 + timedelta(seconds=n) if paid else None,
    )


def _plan(store: SqlStore, tx: SqlTx, run: Callable[[], object], params: list[object]) -> str:
    """The plan of the one statement ``run`` sends, for ``params``."""
    sent: list[str] = []
    with watch_statements(sent.append):
        run()
    assert len(sent) == 1, sent
    # ``sent`` is already in the database's own spelling: run it on the cursor as it is.
    explain = "EXPLAIN " if store.is_postgres else "EXPLAIN QUERY PLAN "
    rows = tx._cur.execute(explain + sent[0], params).fetchall()
    return " ".join(str(r[0] if store.is_postgres else r[-1]) for r in rows)


def test_lookups_of_orders_read_their_partial_indexes(store: SqlStore) -> None:
    clock, ids = TestClock(frozen=T0), Ids(seed=8)
    with store.begin(write=True) as tx:
        merchant = create_merchant(tx, ids, NewMerchant(name="Index Shop")).merchant
        payer = create_payer(tx, clock, ids, NewPayer(name="Ann")).payer.id
        placed = [tx.insert_order(_order(merchant, n, payer, ids)) for n in range(ORDERS)]
    sample = next(o for o in placed if o is not None and o.transaction_id and o.qr_code)
    since = T0 + timedelta(hours=1)
    day = DayQuery(merchant.id, T0, T0 + timedelta(days=1), ORDERS * 2, 0, T0)
    with store.begin(write=True) as tx:
        if store.is_postgres:
            tx._exec("ANALYZE orders")
            tx._exec("SET LOCAL enable_seqscan = off")  # a small table: make it choose
        cases: list[tuple[str, Callable[[], object], list[object]]] = [
            (
                "orders_transaction_id",
                lambda: tx.order_by_transaction_id(merchant.id, sample.transaction_id),
                [sample.transaction_id, merchant.id],
            ),
            (
                "orders_prepay_id",
                lambda: tx.order_by_prepay_id(sample.prepay_id),
                [sample.prepay_id],
            ),
            ("orders_qr_code", lambda: tx.order_by_qr_code(sample.qr_code), [sample.qr_code]),
            (
                "orders_payer_",  # orders_payer_micropay or orders_payer_paid: both partial
                lambda: tx.password_free_payments_since(payer, since),
                [payer, since],
            ),
            (
                "orders_merchant_paid",
                lambda: tx.bill_payments(day, None, 100),
                [merchant.id, day.start, day.end, day.upto_order, 100],
            ),
        ]
        for index, run, params in cases:
            params = [int(p.timestamp() * 1000) if isinstance(p, datetime) else p for p in params]
            plan = _plan(store, tx, run, params)
            assert index in plan, plan


def test_an_unpaid_order_and_a_paid_one_keep_their_unique_handles(store: SqlStore) -> None:
    """Partial unique indexes still refuse a second order with the same handle."""
    clock, ids = TestClock(frozen=T0), Ids(seed=9)
    with store.begin(write=True) as tx:
        merchant = create_merchant(tx, ids, NewMerchant(name="Unique Shop")).merchant
        payer = create_payer(tx, clock, ids, NewPayer(name="Bo")).payer.id
        first = tx.insert_order(_order(merchant, 0, payer, ids))
        assert first is not None and first.transaction_id and first.qr_code
    for handle in ("prepay_id", "qr_code", "transaction_id"):
        twin = replace(_order(merchant, 1, payer, ids), **{handle: getattr(first, handle)})
        with pytest.raises(Exception, match="(?i)unique"):
            with store.begin(write=True) as tx:
                tx.insert_order(twin)
