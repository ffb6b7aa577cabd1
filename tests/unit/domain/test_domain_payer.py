"""The payer simulator: pay_order's outcomes, the money they move and the notification."""

from __future__ import annotations

import re
from typing import Any

import pytest

from wxpay_local.codes import TradeState, TradeType
from wxpay_local.domain import ledger
from wxpay_local.domain.notify import payment_fields
from wxpay_local.domain.orders import place_order
from wxpay_local.domain.payer import PayOutcome
from wxpay_local.domain.setup import NewMerchant, create_merchant

pytestmark = pytest.mark.store

World = Any  # the conftest fixture's class


def test_wallet_payment_moves_exactly_the_total(world: World, t0) -> None:  # type: ignore[no-untyped-def]
    payer = world.payer(balance=5000)
    order = world.place(total_fee=1800)
    before = world.balances()

    result = world.pay(order, payer.payer.id)

    assert result.outcome is PayOutcome.SUCCESS
    assert world.balances() == {
        **before,
        ledger.wallet(payer.payer.id): 5000 - 1800,
        world.basic: 1800 - 11,
        ledger.FEE_INCOME: 11,
    }
    paid = result.order
    assert paid is not None
    assert paid.trade_state is TradeState.SUCCESS
    assert re.fullmatch(r"\d{28}", paid.transaction_id)
    assert "20240501" in paid.transaction_id
    assert paid.time_end == t0
    assert paid.bank_type == "OTHERS"
    assert paid.cash_fee == paid.total_fee == 1800
    assert paid.fee == 11
    assert paid.payer_id == payer.payer.id
    assert paid.payer_openid == payer.openids[world.appid]
    assert world.stored() == paid
    assert world.query(transaction_id=paid.transaction_id) == paid


def test_debit_card_payment(world: World) -> None:
    payer = world.payer(balance=100, cards=("ICBC_DEBIT",))
    order = world.place(total_fee=2550)
    result = world.pay(order, payer.payer.id, card_id=payer.cards[0].id)
    assert result.outcome is PayOutcome.SUCCESS
    assert result.order.bank_type == "ICBC_DEBIT"
    assert result.order.cash_fee == 2550
    balances = world.balances()
    assert balances[ledger.wallet(payer.payer.id)] == 100  # the wallet is not touched
    assert balances["external:bank:ICBC_DEBIT"] == -2550
    assert balances[world.basic] == 2550 - 15
    assert balances[ledger.FEE_INCOME] == 15
    assert sum(balances.values()) == 0


def test_credit_card_refused_with_no_credit(world: World) -> None:
    payer = world.payer(balance=0, cards=("CMB_CREDIT", "CMB_DEBIT"))
    credit, debit = payer.cards
    order = world.place(limit_pay="no_credit")
    before = world.balances()

    refused = world.pay(order, payer.payer.id, card_id=credit.id)
    assert refused.outcome is PayOutcome.CREDIT_REFUSED
    assert world.balances() == before
    assert world.notifications() == []
    assert world.query().trade_state is TradeState.NOTPAY

    result = world.pay(order, payer.payer.id, card_id=debit.id)
    assert result.outcome is PayOutcome.SUCCESS
    assert result.order.bank_type == "CMB_DEBIT"
    assert not result.order.bank_type.endswith("_CREDIT")


def test_credit_card_accepted_without_limit_pay(world: World) -> None:
    payer = world.payer(cards=("CMB_CREDIT",))
    order = world.place()
    result = world.pay(order, payer.payer.id, card_id=payer.cards[0].id)
    assert result.outcome is PayOutcome.SUCCESS
    assert result.order.bank_type == "CMB_CREDIT"


def test_wallet_works_with_no_credit(world: World) -> None:
    payer = world.payer(balance=5000)
    order = world.place(limit_pay="no_credit")
    assert world.pay(order, payer.payer.id).outcome is PayOutcome.SUCCESS


def test_notenough_leaves_balances_untouched(world: World) -> None:
    payer = world.payer(balance=1799)
    order = world.place(total_fee=1800)
    before = world.balances()
    result = world.pay(order, payer.payer.id)
    assert result.outcome is PayOutcome.NOTENOUGH
    assert world.balances() == before
    assert world.notifications() == []
    stored = world.stored()
    assert stored.trade_state is TradeState.NOTPAY
    assert stored.transaction_id == ""
    assert stored.time_end is None


def test_exact_balance_is_enough(world: World) -> None:
    payer = world.payer(balance=1800)
    order = world.place(total_fee=1800)
    assert world.pay(order, payer.payer.id).outcome is PayOutcome.SUCCESS
    assert world.balance(ledger.wallet(payer.payer.id)) == 0


def test_wrong_password(world: World) -> None:
    payer = world.payer(balance=5000, password="246810")
    order = world.place()
    before = world.balances()
    result = world.pay(order, payer.payer.id, password="123456")
    assert result.outcome is PayOutcome.WRONG_PASSWORD
    assert world.balances() == before
    assert world.query().trade_state is TradeState.NOTPAY
    assert world.pay(order, payer.payer.id, password="246810").outcome is PayOutcome.SUCCESS


def test_buyer_mismatch_for_jsapi(world: World) -> None:
    buyer = world.payer(balance=5000)
    other = world.payer(balance=5000)
    order = world.place(trade_type=TradeType.JSAPI, openid=buyer.openids[world.appid])
    before = world.balances()

    result = world.pay(order, other.payer.id)
    assert result.outcome is PayOutcome.BUYER_MISMATCH
    assert world.balances() == before

    result = world.pay(order, buyer.payer.id)
    assert result.outcome is PayOutcome.SUCCESS
    assert result.order.payer_openid == buyer.openids[world.appid]


def test_paying_twice_moves_money_once(world: World) -> None:
    payer = world.payer(balance=10_000)
    order = world.place(total_fee=1800)
    first = world.pay(order, payer.payer.id)
    assert first.outcome is PayOutcome.SUCCESS
    after_first = world.balances()

    second = world.pay(order, payer.payer.id)
    assert second.outcome is PayOutcome.ORDER_PAID
    assert second.order.transaction_id == first.order.transaction_id
    assert world.balances() == after_first
    assert world.balance(ledger.wallet(payer.payer.id)) == 10_000 - 1800
    assert len(world.notifications()) == 1


def test_one_payment_notification_matching_payment_fields(world: World, t0) -> None:  # type: ignore[no-untyped-def]
    payer = world.payer(balance=5000)
    order = world.place(attach="", device_info="")
    paid = world.pay(order, payer.payer.id).order

    notifications = world.notifications()
    assert len(notifications) == 1
    (n,) = notifications
    assert n.kind == "payment"
    assert n.merchant_id == world.merchant.id
    assert n.order_id == paid.id
    assert n.url == paid.notify_url
    assert n.sign_type is paid.sign_type
    assert n.status == "pending"
    assert n.attempts == 0
    assert n.created_at == t0
    assert n.next_attempt_at == t0  # the first delivery is immediate
    assert n.fields == payment_fields(paid)
    assert all(value != "" for value in n.fields.values())
    assert n.fields["transaction_id"] == paid.transaction_id
    assert n.fields["total_fee"] == 1800
    assert n.fields["cash_fee"] == 1800
    assert n.fields["bank_type"] == "OTHERS"
    assert n.fields["openid"] == payer.openids[world.appid]
    assert n.fields["time_end"] == "20240501090000"
    assert n.fields["nonce_str"] == order.nonce_str


def test_notification_echoes_attach_and_device_info(world: World) -> None:
    payer = world.payer(balance=5000)
    order = world.place(attach="store-1", device_info="WEB")
    world.pay(order, payer.payer.id)
    (n,) = world.notifications()
    assert n.fields["attach"] == "store-1"
    assert n.fields["device_info"] == "WEB"


@pytest.mark.parametrize(
    "outcome_kwargs",
    [
        pytest.param({"cancel": True}, id="cancelled"),
        pytest.param({"password": "999999"}, id="wrong-password"),
    ],
)
def test_failed_payments_enqueue_nothing(world: World, outcome_kwargs: dict[str, Any]) -> None:
    payer = world.payer(balance=5000)
    order = world.place()
    result = world.pay(order, payer.payer.id, **outcome_kwargs)
    assert result.outcome is not PayOutcome.SUCCESS
    assert world.notifications() == []
    assert world.stored() == order


def test_native_order_paid_by_qr_code(world: World) -> None:
    payer = world.payer(balance=5000)
    order = world.place(trade_type=TradeType.NATIVE)
    result = world.pay("", payer.payer.id, qr_code=order.qr_code)
    assert result.outcome is PayOutcome.SUCCESS
    assert result.order.id == order.id


def test_unknown_handles_payer_and_card(world: World) -> None:
    payer = world.payer(balance=5000)
    stranger = world.payer(cards=("CMB_DEBIT",))
    order = world.place()
    assert world.pay("wx20240501090000" + "0" * 20, payer.payer.id).outcome is (
        PayOutcome.ORDER_NOT_FOUND
    )
    assert world.pay("", payer.payer.id, qr_code="NOPE123").outcome is PayOutcome.ORDER_NOT_FOUND
    assert world.pay(order, 9999).outcome is PayOutcome.NO_SUCH_PAYER
    card_of_other = stranger.cards[0].id
    assert world.pay(order, payer.payer.id, card_id=card_of_other).outcome is (
        PayOutcome.NO_SUCH_CARD
    )
    assert world.query().trade_state is TradeState.NOTPAY


def test_openid_issued_on_first_use(world: World) -> None:
    payer = world.payer(balance=5000)  # knows only the first merchant's apps
    with world.store.begin(write=True) as tx:
        created = create_merchant(tx, world.ids, NewMerchant(name="Later Shop"))
        later = created.merchant
        appid = created.apps[0].appid
        assert tx.openid_of(payer.payer.id, appid) is None
        order = place_order(tx, world.clock, world.ids, later, world.cmd(appid=appid))
    result = world.pay(order, payer.payer.id)
    assert result.outcome is PayOutcome.SUCCESS
    with world.store.begin(write=False) as tx:
        issued = tx.openid_of(payer.payer.id, appid)
    assert issued is not None and re.fullmatch(r"[A-Za-z0-9_-]{28}", issued)
    assert result.order.payer_openid == issued
    assert world.balance(ledger.merchant_account(later)) == 1800 - 11


def test_fee_follows_the_merchant_rate(world: World) -> None:
    payer = world.payer(balance=100_000)
    with world.store.begin(write=True) as tx:
        created = create_merchant(
            tx, world.ids, NewMerchant(name="Cheap", fee_rate_ppm=2000, appids=(world.appid,))
        )
        order = place_order(tx, world.clock, world.ids, created.merchant, world.cmd(total_fee=250))
    result = world.pay(order, payer.payer.id)
    assert result.outcome is PayOutcome.SUCCESS
    assert result.order.fee == 1  # 0.5 rounds up
    assert world.balance(ledger.merchant_account(created.merchant)) == 249
    assert world.balance(ledger.FEE_INCOME) == 1
