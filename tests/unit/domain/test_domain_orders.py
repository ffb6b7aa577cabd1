"""unifiedorder, orderquery, closeorder and the order state machine (spec §4.2–§4.4, §5.4).

The table ``STATE_MACHINE`` drives each scenario from a fresh world (one merchant, a frozen clock
at 2024-05-01 09:00 Beijing time) and compares one observable: the order's trade_state as
orderquery reads it, the payer simulator's outcome, or the err_code of a refusal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from wxpay_local.codes import Rejected, SignType, TradeState, TradeType
from wxpay_local.domain.model import Order
from wxpay_local.domain.orders import (
    DEFAULT_ORDER_LIFETIME,
    MIN_EXPIRE_INTERVAL,
    PREPAY_VALIDITY,
    OrderRules,
    close_order,
    effective_state,
    place_order,
)
from wxpay_local.domain.payer import PayOutcome

pytestmark = pytest.mark.store

MIN = timedelta(minutes=1)
SEC = timedelta(seconds=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)

World = Any  # the conftest fixture's class; conftest modules are not importable by name


def rejected(fn: Callable[[], object]) -> str:
    """The err_code of the Rejected that ``fn`` raises; fails the test if it does not raise."""
    with pytest.raises(Rejected) as info:
        fn()
    return str(info.value.err_code)


def rich_payer(w: World) -> Any:
    return w.payer(balance=1_000_000)


def paid(w: World, **overrides: Any) -> Order:
    order = w.place(**overrides)
    result = w.pay(order, rich_payer(w).payer.id)
    assert result.outcome is PayOutcome.SUCCESS
    return result.order


# the state machine table ---------------------------------------------------------------------
def notpay_pay(w: World) -> str:
    paid(w)
    return w.query().trade_state


def notpay_cancel(w: World) -> str:
    order = w.place()
    assert w.pay(order, rich_payer(w).payer.id, cancel=True).outcome is PayOutcome.CANCELLED
    return w.query().trade_state


def notpay_notenough(w: World) -> str:
    order = w.place(total_fee=1800)
    assert w.pay(order, w.payer(balance=1799).payer.id).outcome is PayOutcome.NOTENOUGH
    return w.query().trade_state


def notpay_wrong_password(w: World) -> str:
    order = w.place()
    result = w.pay(order, rich_payer(w).payer.id, password="000000")
    assert result.outcome is PayOutcome.WRONG_PASSWORD
    return w.query().trade_state


def notpay_failed_then_paid(w: World) -> str:
    order = w.place()
    payer = rich_payer(w).payer.id
    assert w.pay(order, payer, cancel=True).outcome is PayOutcome.CANCELLED
    assert w.pay(order, payer).outcome is PayOutcome.SUCCESS
    return w.query().trade_state


def close_after_5_min(w: World) -> str:
    w.place()
    w.clock.advance(6 * MIN)
    closed = w.close()
    assert closed.trade_state is TradeState.CLOSED
    return w.query().trade_state


def close_at_exactly_5_min(w: World) -> str:
    w.place()
    w.clock.advance(5 * MIN)
    w.close()
    return w.query().trade_state


def close_within_5_min(w: World) -> str:
    w.place()
    w.clock.advance(5 * MIN - SEC)
    code = rejected(w.close)
    assert w.query().trade_state is TradeState.NOTPAY  # nothing changed
    return code


def close_immediately(w: World) -> str:
    w.place()
    return rejected(w.close)


def close_paid(w: World) -> str:
    paid(w)
    w.clock.advance(10 * MIN)
    return rejected(w.close)


def close_closed(w: World) -> str:
    w.place()
    w.clock.advance(10 * MIN)
    w.close()
    return rejected(w.close)


def close_unknown(w: World) -> str:
    return rejected(lambda: w.close("NO-SUCH-ORDER"))


def close_expired(w: World) -> str:
    w.place(time_expire=w.clock.now() + 10 * MIN)
    w.clock.advance(11 * MIN)
    return rejected(w.close)


def closed_then_pay(w: World) -> str:
    order = w.place()
    w.clock.advance(10 * MIN)
    w.close()
    return w.pay(order, rich_payer(w).payer.id).outcome


def paid_then_pay(w: World) -> str:
    order = paid(w)
    return w.pay(order, rich_payer(w).payer.id).outcome


def time_expire_passed_reads_closed(w: World) -> str:
    w.place(time_expire=w.clock.now() + 30 * MIN)
    w.clock.advance(30 * MIN + SEC)
    return w.query().trade_state


def time_expire_passed_cannot_pay(w: World) -> str:
    order = w.place(time_expire=w.clock.now() + 30 * MIN)
    w.clock.advance(31 * MIN)
    return w.pay(order, rich_payer(w).payer.id).outcome


def at_time_expire_still_payable(w: World) -> str:
    order = w.place(time_expire=w.clock.now() + 30 * MIN)
    w.clock.advance(30 * MIN)
    assert w.query().trade_state is TradeState.NOTPAY
    return w.pay(order, rich_payer(w).payer.id).outcome


def default_lifetime_7_days(w: World) -> str:
    w.place()
    w.clock.advance(7 * DAY)
    assert w.query().trade_state is TradeState.NOTPAY
    w.clock.advance(SEC)
    return w.query().trade_state


def default_lifetime_cannot_pay(w: World) -> str:
    order = w.place()
    payer = rich_payer(w).payer.id
    w.clock.advance(7 * DAY + SEC)
    return w.pay(order, payer).outcome


def prepay_older_than_2h(w: World) -> str:
    order = w.place()
    w.clock.advance(2 * HOUR)
    result = w.pay(order, rich_payer(w).payer.id)
    assert w.query().trade_state is TradeState.NOTPAY  # the order itself stays payable
    return result.outcome


def prepay_just_under_2h(w: World) -> str:
    order = w.place()
    w.clock.advance(2 * HOUR - SEC)
    return w.pay(order, rich_payer(w).payer.id).outcome


def reenter_paid(w: World) -> str:
    paid(w)
    return rejected(w.place)


def reenter_paid_with_other_params(w: World) -> str:
    paid(w)
    return rejected(lambda: w.place(total_fee=1))


def reenter_closed(w: World) -> str:
    w.place()
    w.clock.advance(10 * MIN)
    w.close()
    return rejected(w.place)


def reenter_after_default_lifetime(w: World) -> str:
    w.place()
    w.clock.advance(8 * DAY)
    return rejected(w.place)


def reenter_after_time_expire(w: World) -> str:
    """The merchant repeats the identical request (same time_expire) once the order expired."""
    expire = w.clock.now() + 10 * MIN
    w.place(time_expire=expire)
    w.clock.advance(20 * MIN)
    return rejected(lambda: w.place(time_expire=expire))


def reenter_paid_after_its_time_expire(w: World) -> str:
    """A paid order's identical request, retried after its time_expire, is still ORDERPAID."""
    expire = w.clock.now() + 10 * MIN
    paid(w, time_expire=expire)
    w.clock.advance(20 * MIN)
    return rejected(lambda: w.place(time_expire=expire))


def reenter_closed_after_its_time_expire(w: World) -> str:
    expire = w.clock.now() + 10 * MIN
    w.place(time_expire=expire)
    w.clock.advance(6 * MIN)
    w.close()
    w.clock.advance(10 * MIN)
    return rejected(lambda: w.place(time_expire=expire))


STATE_MACHINE = [
    pytest.param(notpay_pay, "SUCCESS", id="NOTPAY+pay->SUCCESS"),
    pytest.param(notpay_cancel, "NOTPAY", id="NOTPAY+cancel->NOTPAY"),
    pytest.param(notpay_notenough, "NOTPAY", id="NOTPAY+notenough->NOTPAY"),
    pytest.param(notpay_wrong_password, "NOTPAY", id="NOTPAY+wrong_password->NOTPAY"),
    pytest.param(notpay_failed_then_paid, "SUCCESS", id="NOTPAY+cancel+pay->SUCCESS"),
    pytest.param(close_after_5_min, "CLOSED", id="NOTPAY+close(6min)->CLOSED"),
    pytest.param(close_at_exactly_5_min, "CLOSED", id="NOTPAY+close(5min)->CLOSED"),
    pytest.param(close_within_5_min, "PARAM_ERROR", id="close(4m59s)->PARAM_ERROR"),
    pytest.param(close_immediately, "PARAM_ERROR", id="close(0s)->PARAM_ERROR"),
    pytest.param(close_paid, "ORDERPAID", id="SUCCESS+close->ORDERPAID"),
    pytest.param(close_closed, "ORDERCLOSED", id="CLOSED+close->ORDERCLOSED"),
    pytest.param(close_unknown, "ORDERNOTEXIST", id="unknown+close->ORDERNOTEXIST"),
    pytest.param(close_expired, "ORDERCLOSED", id="expired+close->ORDERCLOSED"),
    pytest.param(closed_then_pay, "ORDER_CLOSED", id="CLOSED+pay->ORDER_CLOSED"),
    pytest.param(paid_then_pay, "ORDER_PAID", id="SUCCESS+pay->ORDER_PAID"),
    pytest.param(time_expire_passed_reads_closed, "CLOSED", id="time_expire_passed->CLOSED"),
    pytest.param(time_expire_passed_cannot_pay, "ORDER_CLOSED", id="time_expire_passed+pay"),
    pytest.param(at_time_expire_still_payable, "SUCCESS", id="at_time_expire+pay->SUCCESS"),
    pytest.param(default_lifetime_7_days, "CLOSED", id="7_days+1s->CLOSED"),
    pytest.param(default_lifetime_cannot_pay, "ORDER_CLOSED", id="7_days+1s+pay->ORDER_CLOSED"),
    pytest.param(prepay_older_than_2h, "ORDER_EXPIRED", id="prepay(2h)+pay->ORDER_EXPIRED"),
    pytest.param(prepay_just_under_2h, "SUCCESS", id="prepay(2h-1s)+pay->SUCCESS"),
    pytest.param(reenter_paid, "ORDERPAID", id="SUCCESS+reentry->ORDERPAID"),
    pytest.param(reenter_paid_with_other_params, "ORDERPAID", id="SUCCESS+changed->ORDERPAID"),
    pytest.param(reenter_closed, "ORDERCLOSED", id="CLOSED+reentry->ORDERCLOSED"),
    pytest.param(reenter_after_default_lifetime, "ORDERCLOSED", id="7_days+reentry->ORDERCLOSED"),
    pytest.param(reenter_after_time_expire, "ORDERCLOSED", id="expired+reentry->ORDERCLOSED"),
    pytest.param(
        reenter_paid_after_its_time_expire, "ORDERPAID", id="SUCCESS+expired+reentry->ORDERPAID"
    ),
    pytest.param(
        reenter_closed_after_its_time_expire,
        "ORDERCLOSED",
        id="CLOSED+expired+reentry->ORDERCLOSED",
    ),
]


@pytest.mark.parametrize(("scenario", "expected"), STATE_MACHINE)
def test_state_machine(world: World, scenario: Callable[[World], str], expected: str) -> None:
    assert str(scenario(world)) == expected


# effective_state -----------------------------------------------------------------------------
def test_default_lifetime_is_7_days() -> None:
    assert DEFAULT_ORDER_LIFETIME == timedelta(days=7)
    assert PREPAY_VALIDITY == timedelta(hours=2)
    assert MIN_EXPIRE_INTERVAL == timedelta(minutes=5)


def test_effective_state_closes_at_the_deadline(world: World) -> None:
    order = world.place(time_expire=world.clock.now() + HOUR)
    deadline = order.time_expire
    assert effective_state(order, deadline) == order
    late = effective_state(order, deadline + SEC)
    assert late.trade_state is TradeState.CLOSED
    assert late.updated_at == deadline
    # lazily: the stored row is untouched
    assert world.stored().trade_state is TradeState.NOTPAY


def test_effective_state_leaves_final_and_paid_states_alone(world: World) -> None:
    order = paid(world, time_expire=world.clock.now() + HOUR)
    assert effective_state(order, order.created_at + 30 * DAY) == order


# unifiedorder: creation and validation --------------------------------------------------------
def test_place_order_creates_notpay_with_a_prepay_handle(world: World, t0) -> None:  # type: ignore[no-untyped-def]
    order = world.place()
    assert order.id > 0
    assert order.trade_state is TradeState.NOTPAY
    assert order.created_at == t0
    assert order.prepay_id.startswith("wx20240501090000") and len(order.prepay_id) == 36
    assert order.prepay_expires_at == t0 + 2 * HOUR
    assert order.qr_code  # NATIVE: a code_url code
    assert order.transaction_id == ""
    assert world.stored() == order
    assert world.query() == order


@pytest.mark.parametrize("trade_type", [TradeType.APP, TradeType.MWEB])
def test_non_native_orders_get_no_qr_code(world: World, trade_type: TradeType) -> None:
    order = world.place(trade_type=trade_type)
    assert order.qr_code == ""
    assert order.prepay_id


def test_time_expire_less_than_5_min_after_time_start(world: World) -> None:
    start = world.clock.now()
    with pytest.raises(Rejected) as info:
        world.place(time_start=start, time_expire=start + 5 * MIN - SEC)
    assert info.value.err_code == "PARAM_ERROR"
    assert info.value.err_code_des == "time_expire时间过短，刷卡至少1分钟，其他5分钟"
    assert rejected(world.query) == "ORDERNOTEXIST"


def test_time_expire_less_than_5_min_after_now(world: World) -> None:
    with pytest.raises(Rejected) as info:
        world.place(time_expire=world.clock.now() + 4 * MIN)
    assert info.value.err_code == "PARAM_ERROR"


def test_time_expire_exactly_5_min_is_accepted(world: World) -> None:
    start = world.clock.now()
    order = world.place(time_start=start, time_expire=start + 5 * MIN)
    assert order.time_expire == start + 5 * MIN


def test_time_expire_in_the_past(world: World) -> None:
    now = world.clock.now()
    with pytest.raises(Rejected) as info:
        world.place(time_start=now - 2 * HOUR, time_expire=now - HOUR)
    assert info.value.err_code == "PARAM_ERROR"
    assert info.value.err_code_des == "交易有效截止时间非法"
    assert rejected(world.query) == "ORDERNOTEXIST"


def test_time_expire_equal_to_now_is_in_the_past(world: World) -> None:
    now = world.clock.now()
    with pytest.raises(Rejected) as info:
        world.place(time_start=now - HOUR, time_expire=now)
    assert info.value.err_code == "PARAM_ERROR"


def test_jsapi_with_unknown_openid(world: World) -> None:
    with pytest.raises(Rejected) as info:
        world.place(trade_type=TradeType.JSAPI, openid="oUpF8uMuAJO_M2pxb1Q9zNjWeS6o")
    assert info.value.err_code == "PARAM_ERROR"
    assert info.value.err_code_des == "无效的openid"


def test_jsapi_with_openid_of_another_appid(world: World) -> None:
    payer = world.payer()
    with pytest.raises(Rejected) as info:
        world.place(trade_type=TradeType.JSAPI, openid=payer.openids[world.mini_appid])
    assert info.value.err_code == "PARAM_ERROR"
    assert info.value.err_code_des == "appid和openid不匹配"
    assert rejected(world.query) == "ORDERNOTEXIST"


def test_jsapi_with_matching_openid(world: World) -> None:
    payer = world.payer()
    order = world.place(trade_type=TradeType.JSAPI, openid=payer.openids[world.appid])
    assert order.openid == payer.openids[world.appid]


def test_out_trade_no_is_per_merchant(world: World, ids, clock) -> None:  # type: ignore[no-untyped-def]
    from wxpay_local.domain.setup import NewMerchant, create_merchant

    with world.store.begin(write=True) as tx:
        other = create_merchant(tx, ids, NewMerchant(name="Other")).merchant
        theirs = place_order(tx, clock, ids, other, world.cmd())
    ours = world.place()
    assert ours.id != theirs.id
    assert ours.prepay_id != theirs.prepay_id


# unifiedorder: re-entry ----------------------------------------------------------------------
def test_reentry_within_2h_returns_the_same_prepay_id(world: World) -> None:
    first = world.place()
    world.clock.advance(2 * HOUR - SEC)
    again = world.place()
    assert again.id == first.id
    assert again.prepay_id == first.prepay_id
    assert again.qr_code == first.qr_code
    assert again.prepay_expires_at == first.prepay_expires_at


def test_reentry_after_2h_issues_a_fresh_prepay_id(world: World) -> None:
    first = world.place()
    payer = rich_payer(world).payer.id
    world.clock.advance(2 * HOUR)
    assert world.pay(first, payer).outcome is PayOutcome.ORDER_EXPIRED
    again = world.place()
    assert again.id == first.id
    assert again.trade_state is TradeState.NOTPAY
    assert again.prepay_id != first.prepay_id
    assert again.qr_code != first.qr_code
    assert again.prepay_expires_at == world.clock.now() + 2 * HOUR
    assert again.created_at == first.created_at
    # the old handle reads as expired, the new one pays
    assert world.pay(first, payer).outcome is PayOutcome.ORDER_EXPIRED
    assert world.pay(again, payer).outcome is PayOutcome.SUCCESS


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"total_fee": 1801}, id="total_fee"),
        pytest.param({"body": "Other-goods"}, id="body"),
        pytest.param({"trade_type": TradeType.APP}, id="trade_type"),
        pytest.param({"attach": "x"}, id="attach"),
        pytest.param({"detail": '{"goods_detail":[]}'}, id="detail"),
        pytest.param({"product_id": "SKU-2"}, id="product_id"),
        pytest.param({"limit_pay": "no_credit"}, id="limit_pay"),
        pytest.param({"device_info": "WEB"}, id="device_info"),
        pytest.param({"goods_tag": "TAG"}, id="goods_tag"),
    ],
)
def test_reentry_with_changed_parameters_is_invalid_request(
    world: World, change: dict[str, Any]
) -> None:
    first = world.place()
    with pytest.raises(Rejected) as info:
        world.place(**change)
    assert info.value.err_code == "INVALID_REQUEST"
    assert info.value.err_code_des == "201 商户订单号重复"
    assert world.stored() == first  # untouched


def test_reentry_with_another_appid_is_invalid_request(world: World) -> None:
    world.place()
    assert rejected(lambda: world.place(appid=world.mini_appid)) == "INVALID_REQUEST"


def test_reentry_of_a_paid_order_is_orderpaid_even_with_times_a_new_order_may_not_have(
    world: World,
) -> None:
    # A new order with this time_expire would be PARAM_ERROR; the order exists, so the
    # re-entry rules answer first, as they did when the order was read before inserting.
    first = world.place()
    assert world.pay(first, rich_payer(world).payer.id).outcome is PayOutcome.SUCCESS
    now = world.clock.now()
    late = {"time_start": now - 2 * HOUR, "time_expire": now - HOUR}
    assert rejected(lambda: world.place(**late)) == "ORDERPAID"
    assert rejected(lambda: world.place("ORDER0002", **late)) == "PARAM_ERROR"


def test_reentry_changing_only_notify_url_wins(world: World) -> None:
    first = world.place()
    new_url = "https://shop.example.com/wxpay/notify-v2"
    world.clock.advance(MIN)
    again = world.place(
        notify_url=new_url,
        spbill_create_ip="198.51.100.1",
        nonce_str="ANOTHERNONCE",
        sign_type=SignType.HMAC_SHA256,
    )
    assert again.id == first.id
    assert again.prepay_id == first.prepay_id
    assert again.notify_url == new_url
    assert again.spbill_create_ip == "198.51.100.1"
    assert world.stored().notify_url == new_url
    result = world.pay(again, rich_payer(world).payer.id)
    assert result.outcome is PayOutcome.SUCCESS
    (notification,) = world.notifications()
    assert notification.url == new_url


def test_identical_reentry_close_to_time_expire_succeeds(world: World) -> None:
    """Retrying the identical request (spec §4.2: SYSTEMERROR -> retry with identical
    parameters) of a still-payable order succeeds, even when its time_expire is now less than
    5 minutes away: the 5-minute rule is about the order's own time_start/creation."""
    expire = world.clock.now() + 6 * MIN
    first = world.place(time_expire=expire)
    world.clock.advance(2 * MIN)
    again = world.place(time_expire=expire)
    assert again.id == first.id
    assert again.prepay_id == first.prepay_id


def test_reentry_may_change_time_expire_and_the_new_value_wins(world: World) -> None:
    now = world.clock.now()
    world.place(time_expire=now + 10 * MIN)
    again = world.place(time_expire=now + 60 * MIN)
    assert again.time_expire == now + 60 * MIN
    world.clock.advance(30 * MIN)
    assert world.query().trade_state is TradeState.NOTPAY


def test_reentry_may_change_time_start_and_the_new_value_wins(world: World) -> None:
    """orders.REENTRY_FIELDS' contract: notify_url, time_start, time_expire and
    spbill_create_ip may change on re-entry; the newest values win."""
    now = world.clock.now()
    world.place(time_start=now)
    world.clock.advance(MIN)
    again = world.place(time_start=now + MIN)
    assert again.time_start == now + MIN
    assert world.stored().time_start == now + MIN


def test_reentry_without_time_expire_keeps_the_old_one(world: World) -> None:
    now = world.clock.now()
    world.place(time_expire=now + 10 * MIN)
    again = world.place()
    assert again.time_expire == now + 10 * MIN


def test_time_expire_change_refused_when_the_rule_forbids_it(world: World) -> None:
    now = world.clock.now()
    world.place(time_expire=now + 10 * MIN)
    strict = OrderRules(allow_time_expire_change=False)
    cmd = world.cmd(time_expire=now + 60 * MIN)
    with pytest.raises(Rejected) as info, world.store.begin(write=True) as tx:
        place_order(tx, world.clock, world.ids, world.merchant, cmd, strict)
    assert info.value.err_code == "INVALID_REQUEST"
    # the unchanged request is still fine
    with world.store.begin(write=True) as tx:
        place_order(
            tx,
            world.clock,
            world.ids,
            world.merchant,
            world.cmd(time_expire=now + 10 * MIN),
            strict,
        )


def test_out_trade_no_of_a_micropay_order(world: World) -> None:
    order = world.place("MICRO0001")
    with world.store.begin(write=True) as tx:  # as micropay would have stored it
        tx.update_order(replace(order, trade_type=TradeType.MICROPAY))
    assert rejected(lambda: world.place("MICRO0001")) == "OUT_TRADE_NO_USED"


# closeorder rules and orderquery ---------------------------------------------------------------
def test_close_min_age_is_configurable(world: World) -> None:
    world.place()
    with world.store.begin(write=True) as tx:
        closed = close_order(
            tx,
            world.clock,
            world.merchant,
            "ORDER0001",
            OrderRules(closeorder_min_age=timedelta(0)),
        )
    assert closed.trade_state is TradeState.CLOSED
    assert world.stored().trade_state is TradeState.CLOSED


def test_close_persists_and_is_final(world: World) -> None:
    order = world.place()
    world.clock.advance(10 * MIN)
    closed = world.close()
    assert closed.updated_at == world.clock.now()
    stored = world.stored()
    assert stored.trade_state is TradeState.CLOSED
    world.clock.advance(DAY)
    assert world.query().trade_state is TradeState.CLOSED
    assert world.pay(order, rich_payer(world).payer.id).outcome is PayOutcome.ORDER_CLOSED


def test_query_by_transaction_id_wins_over_out_trade_no(world: World) -> None:
    a = paid(world)
    world.place("ORDER0002")
    found = world.query(out_trade_no="ORDER0002", transaction_id=a.transaction_id)
    assert found.id == a.id


def test_query_unknown(world: World) -> None:
    world.place()
    assert rejected(lambda: world.query("NOPE")) == "ORDERNOTEXIST"
    assert rejected(lambda: world.query("", transaction_id="4200000000202405010000000000")) == (
        "ORDERNOTEXIST"
    )
