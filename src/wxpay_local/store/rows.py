"""Mapping between domain values and table rows (times as epoch milliseconds).

Imports: codes, domain.model, stdlib.
"""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import datetime
from typing import Any

from wxpay_local.codes import AppKind, SignType, TradeState, TradeType
from wxpay_local.domain.model import (
    App,
    Card,
    DeliveryAttempt,
    Merchant,
    Notification,
    Order,
    Payer,
)
from wxpay_local.timefmt import from_millis, to_millis

ORDER_COLUMNS = tuple(f.name for f in fields(Order))
_ORDER_TIMES = frozenset(
    {
        "created_at",
        "time_start",
        "time_expire",
        "prepay_expires_at",
        "time_end",
        "updated_at",
        "password_deadline",
    }
)
#: Stored as NULL when empty, so that their unique indexes ignore unpaid/handle-less orders.
_NULL_WHEN_EMPTY = frozenset({"prepay_id", "qr_code", "transaction_id", "auth_code"})

MERCHANT_COLUMNS = (
    "id, mch_id, env, name, api_key, fee_rate_ppm, console_password, refund_notify_url"
)
NOTIFICATION_COLUMNS = (
    "id, kind, merchant_id, order_id, url, fields, sign_type, status, attempts, created_at, "
    "next_attempt_at, first_attempt_at, delivered_at"
)


def ms(moment: datetime | None) -> int | None:
    return None if moment is None else to_millis(moment)


def dt(millis: int | None) -> datetime | None:
    return None if millis is None else from_millis(millis)


def order_params(order: Order) -> list[Any]:
    values: list[Any] = []
    for name in ORDER_COLUMNS:
        value = getattr(order, name)
        if name in _ORDER_TIMES:
            value = ms(value)
        elif name in _NULL_WHEN_EMPTY and value == "":
            value = None
        elif isinstance(value, (TradeType, TradeState, SignType)):
            value = str(value)
        elif isinstance(value, bool):
            value = int(value)
        values.append(value)
    return values


def order_from_row(row: tuple[Any, ...]) -> Order:
    data = dict(zip(ORDER_COLUMNS, row, strict=True))
    for name in _ORDER_TIMES:
        data[name] = dt(data[name])
    for name in _NULL_WHEN_EMPTY:
        data[name] = data[name] or ""
    data["trade_type"] = TradeType(data["trade_type"])
    data["trade_state"] = TradeState(data["trade_state"])
    data["sign_type"] = SignType(data["sign_type"])
    data["password_free"] = bool(data["password_free"])
    return Order(**data)


def merchant_from_row(row: tuple[Any, ...]) -> Merchant:
    return Merchant(
        id=row[0],
        mch_id=row[1],
        env=row[2],
        name=row[3],
        api_key=row[4],
        fee_rate_ppm=row[5],
        console_password=row[6],
        refund_notify_url=row[7],
    )


def app_from_row(row: tuple[Any, ...]) -> App:
    return App(appid=row[0], kind=AppKind(row[1]), secret=row[2], name=row[3])


def payer_from_row(row: tuple[Any, ...]) -> Payer:
    return Payer(id=row[0], name=row[1], pay_password=row[2], password_policy=row[3])


def card_from_row(row: tuple[Any, ...]) -> Card:
    return Card(id=row[0], payer_id=row[1], bank_type=row[2], last4=row[3])


def notification_from_row(row: tuple[Any, ...]) -> Notification:
    return Notification(
        id=row[0],
        kind=row[1],
        merchant_id=row[2],
        order_id=row[3],
        url=row[4],
        fields=json.loads(row[5]),
        sign_type=SignType(row[6]),
        status=row[7],
        attempts=row[8],
        created_at=from_millis(row[9]),
        next_attempt_at=dt(row[10]),
        first_attempt_at=dt(row[11]),
        delivered_at=dt(row[12]),
    )


def attempt_from_row(row: tuple[Any, ...]) -> DeliveryAttempt:
    return DeliveryAttempt(
        notification_id=row[0],
        number=row[1],
        at=from_millis(row[2]),
        ok=bool(row[3]),
        http_status=row[4],
        latency_ms=row[5],
        reason=row[6],
        excerpt=row[7],
    )
