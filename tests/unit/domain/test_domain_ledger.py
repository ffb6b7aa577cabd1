"""The double-entry ledger: fees, postings, and the money invariants under random use."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from wxpay_local.codes import Rejected, TradeState, TradeType
from wxpay_local.domain import ledger
from wxpay_local.domain.model import Card, LedgerTxn, Merchant, Posting
from wxpay_local.domain.payer import PayOutcome
from wxpay_local.timefmt import SHANGHAI

pytestmark = pytest.mark.store

AT = datetime(2024, 5, 1, 9, 0, tzinfo=SHANGHAI)
MERCHANT = Merchant(
    id=1, mch_id="1900000109", env="live", name="Shop", api_key="k" * 32, fee_rate_ppm=6000
)


# fees ----------------------------------------------------------------------------------------
def test_default_fee_rate_is_0_6_percent() -> None:
    assert ledger.DEFAULT_FEE_RATE_PPM == 6000


@pytest.mark.parametrize(
    ("amount", "fee"),
    [
        pytest.param(1, 0, id="1->0 (0.006)"),
        pytest.param(83, 0, id="83->0 (0.498)"),
        pytest.param(84, 1, id="84->1 (0.504)"),
        pytest.param(100, 1, id="100->1 (0.6)"),
        pytest.param(1000, 6, id="1000->6 (6.0)"),
        pytest.param(1800, 11, id="1800->11 (10.8)"),
        pytest.param(2550, 15, id="2550->15 (15.3)"),
        pytest.param(99999, 600, id="99999->600 (599.994)"),
    ],
)
def test_fee_of_rounds_half_up_at_default_rate(amount: int, fee: int) -> None:
    assert ledger.fee_of(amount, ledger.DEFAULT_FEE_RATE_PPM) == fee


@pytest.mark.parametrize(
    ("amount", "ppm", "fee"),
    [
        pytest.param(250, 2000, 1, id="exact half rounds up (0.5)"),
        pytest.param(249, 2000, 0, id="just below half (0.498)"),
        pytest.param(750, 2000, 2, id="1.5 rounds up to 2"),
        pytest.param(12345, 0, 0, id="zero rate"),
        pytest.param(12345, 1_000_000, 12345, id="100 percent"),
    ],
)
def test_fee_of_edges(amount: int, ppm: int, fee: int) -> None:
    assert ledger.fee_of(amount, ppm) == fee


@given(amount=st.integers(1, 10**10), ppm=st.integers(0, 1_000_000))
@settings(max_examples=100, deadline=None)
def test_fee_of_matches_decimal_half_up(amount: int, ppm: int) -> None:
    exact = Decimal(amount) * Decimal(ppm) / Decimal(1_000_000)
    expected = int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    fee = ledger.fee_of(amount, ppm)
    assert fee == expected
    assert 0 <= fee <= amount
    assert isinstance(fee, int)


# postings ------------------------------------------------------------------------------------
def test_payment_postings_sum_to_zero() -> None:
    txn = ledger.payment("4200000001", ledger.wallet(5), MERCHANT, 1800, 11, AT)
    assert txn.kind == "payment"
    assert txn.ref == "4200000001"
    assert txn.at == AT
    assert ledger.is_balanced(txn)
    assert sum(p.amount for p in txn.postings) == 0
    assert {p.account: p.amount for p in txn.postings} == {
        "payer:5:wallet": -1800,
        "merchant:1900000109:basic": 1789,
        "platform:fee_income": 11,
    }


@given(amount=st.integers(1, 10**9), ppm=st.integers(0, 1_000_000))
@settings(max_examples=60, deadline=None)
def test_payment_postings_always_balance(amount: int, ppm: int) -> None:
    fee = ledger.fee_of(amount, ppm)
    txn = ledger.payment("t", "external:bank:CMB_CREDIT", MERCHANT, amount, fee, AT)
    assert ledger.is_balanced(txn)


def test_topup_postings_sum_to_zero() -> None:
    txn = ledger.topup("topup-1", 3, 500, AT)
    assert ledger.is_balanced(txn)
    assert {p.account: p.amount for p in txn.postings} == {
        ledger.TOPUP_SOURCE: -500,
        "payer:3:wallet": 500,
    }


def test_unbalanced_txn_is_detected() -> None:
    txn = LedgerTxn(kind="x", ref="r", postings=(Posting("a", 1), Posting("b", -2)), at=AT)
    assert not ledger.is_balanced(txn)


def test_account_names() -> None:
    card = Card(id=1, payer_id=2, bank_type="CMB_CREDIT", last4="1234")
    assert ledger.wallet(2) == "payer:2:wallet"
    assert ledger.bank(card) == "external:bank:CMB_CREDIT"
    assert ledger.merchant_account(MERCHANT) == "merchant:1900000109:basic"
    assert ledger.merchant_account(MERCHANT, "operation") == "merchant:1900000109:operation"
    sandbox = replace(MERCHANT, env="sandbox")
    assert ledger.merchant_account(sandbox) == "merchant:1900000109@sandbox:basic"


def test_store_refuses_an_unbalanced_txn(world) -> None:  # type: ignore[no-untyped-def]
    bad = LedgerTxn(kind="x", ref="r", postings=(Posting("a", 1),), at=AT)
    with pytest.raises(ValueError), world.store.begin(write=True) as tx:
        tx.post(bad)
    assert world.balances() == {}


def test_create_payer_funds_the_wallet_from_topup(world) -> None:  # type: ignore[no-untyped-def]
    payer = world.payer(balance=5000)
    assert world.balances() == {
        ledger.TOPUP_SOURCE: -5000,
        ledger.wallet(payer.payer.id): 5000,
    }


# the money invariants under random use ---------------------------------------------------------
BANKS = ["CMB_CREDIT", "ICBC_DEBIT"]
IDX = st.integers(0, 50)

PAYER = st.tuples(
    st.just("payer"),
    st.one_of(st.integers(1_000, 50_000), st.integers(0, 1_000)),
    st.lists(st.sampled_from(BANKS), max_size=2, unique=True),
)
ORDER = st.tuples(
    st.just("order"),
    st.integers(1, 4000),
    st.booleans(),
    st.sampled_from([TradeType.NATIVE, TradeType.APP, TradeType.JSAPI]),
    IDX,
)
PAY = st.tuples(st.just("pay"), IDX, IDX, st.integers(-1, 1))
#: Weighted by repetition: sampled_from picks each entry equally often.
_BRANCHES = [
    PAYER,
    ORDER,
    ORDER,
    PAY,
    PAY,
    PAY,
    PAY,
    st.tuples(st.just("cancel"), IDX, IDX),
    st.tuples(st.just("close"), IDX),
    # mostly short steps (closeorder needs 5 min), sometimes past the 2 h prepay validity
    st.tuples(st.just("advance"), st.sampled_from([0, 1, 3, 5, 10, 30, 130])),
]
ACTIONS = st.lists(
    st.sampled_from(_BRANCHES).flatmap(lambda branch: branch), min_size=3, max_size=40
)


@given(
    payers=st.lists(PAYER, min_size=1, max_size=3),
    orders=st.lists(ORDER, min_size=1, max_size=4),
    actions=ACTIONS,
)
@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_money_is_conserved(
    world_factory: Callable[[], object],
    payers: list[tuple],  # type: ignore[type-arg]
    orders: list[tuple],  # type: ignore[type-arg]
    actions: list[tuple],  # type: ignore[type-arg]
) -> None:
    w = world_factory()
    steps = [*payers, *orders, *actions]
    payers = []
    orders = []
    wallet: dict[int, int] = {}  # the model: expected wallet balances
    paid_total = 0
    paid_orders: set[int] = set()
    try:
        for action in steps:
            kind = action[0]
            if kind == "payer":
                _, balance, cards = action
                created = w.payer(balance=balance, cards=tuple(cards))
                payers.append(created)
                wallet[created.payer.id] = balance
            elif kind == "order":
                _, total_fee, no_credit, trade_type, who = action
                openid = ""
                if trade_type is TradeType.JSAPI:
                    if not payers:
                        trade_type = TradeType.NATIVE
                    else:
                        openid = payers[who % len(payers)].openids[w.appid]
                order = w.place(
                    f"O{len(orders)}",
                    total_fee=total_fee,
                    trade_type=trade_type,
                    openid=openid,
                    limit_pay="no_credit" if no_credit else "",
                )
                orders.append(order)
            elif kind in ("pay", "cancel") and orders and payers:
                order = orders[action[1] % len(orders)]
                payer = payers[action[2] % len(payers)]
                card_id = None
                if kind == "pay" and action[3] >= 0 and payer.cards:
                    card_id = payer.cards[action[3] % len(payer.cards)].id
                before = w.balances()
                result = w.pay(order, payer.payer.id, card_id=card_id, cancel=(kind == "cancel"))
                event(f"pay outcome {result.outcome}")
                if result.outcome is PayOutcome.SUCCESS:
                    assert kind == "pay"
                    assert order.id not in paid_orders
                    paid_orders.add(order.id)
                    paid_total += order.total_fee
                    if card_id is None:
                        wallet[payer.payer.id] -= order.total_fee
                else:
                    assert w.balances() == before, result.outcome
            elif kind == "close" and orders:
                order = orders[action[1] % len(orders)]
                before = w.balances()
                try:
                    w.close(order.out_trade_no)
                    event("close CLOSED")
                except Rejected as rejected:
                    event(f"close {rejected.err_code}")
                assert w.balances() == before
            elif kind == "advance":
                w.clock.advance(timedelta(minutes=action[1]))

            # invariants after every step, read in one transaction
            with w.store.begin(write=False) as tx:
                balances = tx.balances()
                stored = tx.orders(w.merchant.id, 10_000, 0)
                notified = [n.order_id for n in tx.notifications(limit=10_000)]
            assert sum(balances.values()) == 0
            for payer_id, expected in wallet.items():
                assert balances.get(ledger.wallet(payer_id), 0) == expected
            for account, amount in balances.items():
                # wallets, merchants and the fee income never go below zero; only the
                # outside world (banks, top-ups) does
                if not account.startswith("external:"):
                    assert amount >= 0, account
            basic = balances.get(w.basic, 0)
            fee_income = balances.get(ledger.FEE_INCOME, 0)
            assert basic + fee_income == paid_total
            success = [o for o in stored if o.trade_state is TradeState.SUCCESS]
            assert {o.id for o in success} == paid_orders
            assert sum(o.total_fee for o in success) == paid_total
            assert fee_income == sum(o.fee for o in success)
            assert sorted(notified) == sorted(paid_orders)  # one notification per payment
    finally:
        w.store.close()
