"""The payer's history on both databases: keyset pages newest first, ties, refunds, wallet
movements, the password update, and the plan reading orders through ``orders_payer_paid``."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from wxpay_local.codes import SignType, TradeState, TradeType
from wxpay_local.domain import ledger, payers
from wxpay_local.domain.clock import TestClock
from wxpay_local.domain.ids import Ids
from wxpay_local.domain.model import Merchant, Order, Refund
from wxpay_local.domain.setup import NewMerchant, NewPayer, create_merchant, create_payer
from wxpay_local.store import SqlStore
from wxpay_local.timefmt import SHANGHAI

pytestmark = pytest.mark.store

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=SHANGHAI)
MANY = 2500


def _order(merchant: Merchant, n: int, payer_id: int | None, paid_at: datetime | None) -> Order:
    return Order(
        id=0,
        merchant_id=merchant.id,
        mch_id=merchant.mch_id,
        appid="wx0000000000000001",
        out_trade_no=f"H{n:06d}",
        trade_type=TradeType.MICROPAY if n % 3 == 0 else TradeType.NATIVE,
        trade_state=TradeState.SUCCESS if paid_at else TradeState.NOTPAY,
        total_fee=100 + n,
        body=f"item {n}",
        spbill_create_ip="203.0.113.7",
        sign_type=SignType.MD5,
        created_at=T0,
        payer_id=payer_id,
        time_end=paid_at,
        transaction_id=f"42000{n:023d}" if paid_at else "",
        bank_type="OTHERS",
        cash_fee=100 + n,
    )


@pytest.fixture
def world(store: SqlStore) -> tuple[Merchant, int, int]:
    clock, ids = TestClock(frozen=T0), Ids(seed=7)
    with store.begin(write=True) as tx:
        merchant = create_merchant(tx, ids, NewMerchant(name="史记 Shop")).merchant
        alice = create_payer(tx, clock, ids, NewPayer(name="Alice", balance=500)).payer.id
        bob = create_payer(tx, clock, ids, NewPayer(name="Bob")).payer.id
        for n in range(MANY):
            # Every fourth payment shares its millisecond with the one before: ties on time_end.
            at = T0 + timedelta(seconds=n - n % 4 // 3)
            owner = bob if n % 5 == 0 else alice
            tx.insert_order(_order(merchant, n, owner, at))
        for n in range(MANY, MANY + 300):  # unpaid: no payer, or a micropay still waiting
            tx.insert_order(_order(merchant, n, alice if n % 2 else None, None))
    return merchant, alice, bob


def _all_pages(store: SqlStore, payer_id: int, limit: int) -> list[Order]:
    seen: list[Order] = []
    key = None
    while True:
        with store.begin(write=False) as tx:
            page = payers.history(tx, payer_id, key, limit)
        seen += [line.order for line in page.lines]
        assert len(page.lines) <= limit
        if page.next_key is None:
            return seen
        key = page.next_key


def test_pages_walk_every_paid_order_newest_first(
    store: SqlStore, world: tuple[Merchant, int, int]
) -> None:
    merchant, alice, bob = world
    walked = _all_pages(store, alice, 37)
    expected = [n for n in range(MANY) if n % 5]
    assert len(walked) == len(expected)
    assert len({o.id for o in walked}) == len(walked)
    keys = [(o.time_end, o.id) for o in walked]
    assert keys == sorted(keys, reverse=True)  # type: ignore[type-var]
    assert all(o.payer_id == alice and o.time_end is not None for o in walked)
    assert {o.trade_type for o in walked} == {TradeType.MICROPAY, TradeType.NATIVE}
    with store.begin(write=False) as tx:
        first = payers.history(tx, bob, None, 5)
    assert [line.merchant_name for line in first.lines] == ["史记 Shop"] * 5
    assert first.lines[0].order.out_trade_no == f"H{MANY - 5:06d}"


def test_refunds_come_with_their_payment(store: SqlStore, world: tuple[Merchant, int, int]) -> None:
    merchant, alice, _ = world
    with store.begin(write=True) as tx:
        newest = payers.history(tx, alice, None, 1).lines[0].order
        for k in range(2):
            tx.insert_refund(
                Refund(
                    id=0,
                    merchant_id=merchant.id,
                    order_id=newest.id,
                    out_refund_no=f"R{k}",
                    refund_id=f"5030{k:024d}",
                    refund_fee=10 + k,
                    fee_returned=0,
                    refund_fee_type="CNY",
                    refund_desc="",
                    refund_account="REFUND_SOURCE_UNSETTLED_FUNDS",
                    notify_url="",
                    refund_status="SUCCESS",
                    refund_channel="ORIGINAL",
                    recv_account="支付用户零钱",
                    request_source="API",
                    sign_type=SignType.MD5,
                    created_at=T0,
                    settle_at=None,
                    success_time=T0,
                    updated_at=T0,
                )
            )
    with store.begin(write=False) as tx:
        page = payers.history(tx, alice, None, 3)
    assert [r.refund_fee for r in page.lines[0].refunds] == [10, 11]
    assert page.lines[1].refunds == ()


def test_wallet_movements_newest_first_by_keyset(
    store: SqlStore, world: tuple[Merchant, int, int]
) -> None:
    _, alice, _ = world
    with store.begin(write=True) as tx:
        for k in range(1, 6):
            tx.post(ledger.topup(f"t{k}", alice, k * 100, T0 + timedelta(minutes=k)))
    with store.begin(write=False) as tx:
        first = tx.wallet_movements(alice, None, 4)
        rest = tx.wallet_movements(alice, first[-1].posting_id, 4)
    amounts = [m.amount for m in first + rest]
    assert amounts == [500, 400, 300, 200, 100, 500]  # the last: the opening balance
    assert [m.balance_after for m in first[:2]] == [2000, 1500]
    assert {m.kind for m in first} == {"topup"} and first[0].at == T0 + timedelta(minutes=5)


def test_password_change(store: SqlStore, world: tuple[Merchant, int, int]) -> None:
    _, alice, _ = world
    change = payers.change_password
    outcome = payers.PasswordChange
    with store.begin(write=True) as tx:
        assert change(tx, alice, "000000", "654321", "654321") is outcome.WRONG_PASSWORD
        assert change(tx, alice, "123456", "65432", "65432") is outcome.NOT_SIX_DIGITS
        assert change(tx, alice, "123456", "６５４３２１", "６５４３２１") is outcome.NOT_SIX_DIGITS
        assert change(tx, alice, "123456", "654321", "654322") is outcome.MISMATCH
        assert change(tx, alice, "123456", "123456", "123456") is outcome.UNCHANGED
        assert change(tx, 10**12, "123456", "654321", "654321") is outcome.NO_SUCH_PAYER
        assert change(tx, alice, "123456", "654321", "654321") is outcome.CHANGED
    with store.begin(write=False) as tx:
        payer = tx.payer(alice)
    assert payer is not None and payer.pay_password == "654321"


def test_history_reads_through_the_payer_index(
    store: SqlStore, world: tuple[Merchant, int, int]
) -> None:
    _, alice, _ = world
    with store.begin(write=True) as tx:
        page = payers.history(tx, alice, None, 20)
        key = page.next_key
        assert key is not None
        sql = (
            "SELECT o.id FROM orders o JOIN merchants m ON m.id = o.merchant_id"
            " WHERE o.payer_id = ? AND o.time_end IS NOT NULL AND o.time_end <= ?"
            " AND (o.time_end < ? OR o.id < ?) ORDER BY o.time_end DESC, o.id DESC LIMIT ?"
        )
        at = int(key[0].timestamp() * 1000)
        params = [alice, at, at, key[1], 21]
        if store.is_postgres:
            tx._exec("ANALYZE orders")
            tx._exec("SET LOCAL enable_seqscan = off")
            plan = " ".join(r[0] for r in tx._all("EXPLAIN " + sql, params))
            assert "orders_payer_paid" in plan, plan
            assert "Sort" not in plan, plan
        else:
            plan = " ".join(str(r[-1]) for r in tx._all("EXPLAIN QUERY PLAN " + sql, params))
            assert "orders_payer_paid" in plan, plan
            assert "TEMP B-TREE" not in plan, plan
