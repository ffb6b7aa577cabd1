"""Mapping between domain values and table rows (times as epoch milliseconds)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime
from operator import attrgetter
from typing import Any

from wxpay_local.codes import AppKind, NotificationStatus, SignType, TradeState, TradeType
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
#: Whether ``Order(*values)`` works (every field positional and in __init__), the fast way.
_POSITIONAL = all(f.init and not f.kw_only for f in fields(Order))
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


_order_values = attrgetter(*ORDER_COLUMNS)
_ORDER_TIME_AT = tuple(i for i, name in enumerate(ORDER_COLUMNS) if name in _ORDER_TIMES)
_NULL_WHEN_EMPTY_AT = tuple(i for i, name in enumerate(ORDER_COLUMNS) if name in _NULL_WHEN_EMPTY)
_ORDER_ENUMS = tuple(
    (ORDER_COLUMNS.index(name), {member.value: member for member in kind}, kind)
    for name, kind in (
        ("trade_type", TradeType),
        ("trade_state", TradeState),
        ("sign_type", SignType),
    )
)
_PASSWORD_FREE_AT = ORDER_COLUMNS.index("password_free")
#: The other columns hold str, int or None (``Order``'s annotations): passed as they are.
_ORDER_ENUM_AT = tuple(i for i, _, _ in _ORDER_ENUMS)


def order_params(order: Order) -> list[Any]:
    """The order's column values, in ``ORDER_COLUMNS`` order."""
    values: list[Any] = list(_order_values(order))
    for i in _ORDER_TIME_AT:
        value = values[i]
        if value is not None:
            values[i] = to_millis(value)
    for i in _NULL_WHEN_EMPTY_AT:
        if values[i] == "":
            values[i] = None
    for i in _ORDER_ENUM_AT:  # the enums (str subclasses) as plain text for both drivers
        value = values[i]
        if value.__class__ is not str:
            values[i] = str(value)
    values[_PASSWORD_FREE_AT] = int(values[_PASSWORD_FREE_AT])
    return values


def order_from_row(row: Sequence[Any]) -> Order:
    if len(row) != len(ORDER_COLUMNS):
        raise ValueError(f"an order row has {len(ORDER_COLUMNS)} columns, not {len(row)}")
    values = list(row)
    for i in _ORDER_TIME_AT:
        value = values[i]
        if value is not None:
            values[i] = from_millis(value)
    for i in _NULL_WHEN_EMPTY_AT:
        values[i] = values[i] or ""
    for i, members, kind in _ORDER_ENUMS:
        value = values[i]
        member = members.get(value)
        values[i] = kind(value) if member is None else member
    values[_PASSWORD_FREE_AT] = bool(values[_PASSWORD_FREE_AT])
    return _order(values)


def _order(values: list[Any]) -> Order:
    if _POSITIONAL:
        return Order(*values)
    return Order(**dict(zip(ORDER_COLUMNS, values, strict=True)))


_ID_AT = ORDER_COLUMNS.index("id")


def order_with_id(order: Order, order_id: int) -> Order:
    """``dataclasses.replace(order, id=order_id)``, without its per-call field walk."""
    values = list(_order_values(order))
    values[_ID_AT] = order_id
    return _order(values)


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
        status=NotificationStatus(row[7]),
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
