"""The fast order mapping gives exactly what the straightforward field-by-field one gives."""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from wxpay_local.codes import SignType, TradeState, TradeType
from wxpay_local.domain.model import Order
from wxpay_local.store import rows
from wxpay_local.timefmt import SHANGHAI, from_millis, to_millis

pytestmark = pytest.mark.unit

T0 = datetime(2024, 5, 1, 9, 30, 15, 123000, tzinfo=SHANGHAI)


def reference_params(order: Order) -> list[Any]:
    values: list[Any] = []
    for f in fields(Order):
        value = getattr(order, f.name)
        if f.name in rows._ORDER_TIMES:
            value = None if value is None else to_millis(value)
        elif f.name in rows._NULL_WHEN_EMPTY and value == "":
            value = None
        elif isinstance(value, (TradeType, TradeState, SignType)):
            value = str(value)
        elif isinstance(value, bool):
            value = int(value)
        values.append(value)
    return values


def reference_from_row(row: tuple[Any, ...]) -> Order:
    data = dict(zip(rows.ORDER_COLUMNS, row, strict=True))
    for name in rows._ORDER_TIMES:
        data[name] = None if data[name] is None else from_millis(data[name])
    for name in rows._NULL_WHEN_EMPTY:
        data[name] = data[name] or ""
    data["trade_type"] = TradeType(data["trade_type"])
    data["trade_state"] = TradeState(data["trade_state"])
    data["sign_type"] = SignType(data["sign_type"])
    data["password_free"] = bool(data["password_free"])
    return Order(**data)


def orders() -> list[Order]:
    base = Order(
        id=7,
        merchant_id=3,
        mch_id="1900000109",
        appid="wx0123456789abcdef",
        out_trade_no="T-1",
        trade_type=TradeType.NATIVE,
        trade_state=TradeState.NOTPAY,
        total_fee=101,
        body="咖啡",
        spbill_create_ip="127.0.0.1",
        sign_type=SignType.MD5,
        created_at=T0,
    )
    paid = replace(
        base,
        id=8,
        trade_type=TradeType.MICROPAY,
        trade_state=TradeState.SUCCESS,
        sign_type=SignType.HMAC_SHA256,
        time_start=T0,
        time_expire=T0 + timedelta(hours=2),
        prepay_id="wx20240501093015abcdef0123456789abcd",
        prepay_expires_at=T0 + timedelta(hours=2),
        qr_code="AbCdEfG",
        transaction_id="4200000000202405010000000001",
        payer_id=5,
        time_end=T0.astimezone(UTC),
        updated_at=T0,
        auth_code="134567890123456789",
        password_deadline=T0 + timedelta(seconds=30),
        password_free=True,
        cash_fee=101,
        fee=1,
    )
    return [base, paid, replace(paid, password_free=False, trade_state=TradeState.USERPAYING)]


@pytest.mark.parametrize("order", orders(), ids=["new", "paid", "userpaying"])
def test_params_and_rows_match_the_reference(order: Order) -> None:
    params = rows.order_params(order)
    assert params == reference_params(order)
    assert [type(v) for v in params] == [type(v) for v in reference_params(order)]
    back = rows.order_from_row(tuple(params))
    assert back == reference_from_row(tuple(params))
    assert type(back.trade_type) is TradeType and back.trade_state is order.trade_state
    assert back.password_free is order.password_free
    assert rows.order_params(back) == params


def test_unknown_enum_values_still_fail_loudly() -> None:
    params = rows.order_params(orders()[0])
    params[rows.ORDER_COLUMNS.index("trade_state")] = "NOSUCHSTATE"
    with pytest.raises(ValueError):
        rows.order_from_row(tuple(params))
    with pytest.raises(ValueError):
        rows.order_from_row(tuple(params[:-1]))


def test_order_with_id_is_replace() -> None:
    for order in orders():
        assert rows.order_with_id(order, 99) == replace(order, id=99)
