"""Orders from the merchant's side: place (unifiedorder), query, close (spec §4.2–§4.4, §5.4)."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from wxpay_local.codes import ErrCode, Rejected, SignType, TradeState, TradeType
from wxpay_local.domain.clock import Clock
from wxpay_local.domain.ids import Ids
from wxpay_local.domain.model import Merchant, Order
from wxpay_local.domain.ports import OrderDesk

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

PREPAY_VALIDITY = timedelta(hours=2)
MIN_EXPIRE_INTERVAL = timedelta(minutes=5)
#: An unpaid order without time_expire is closed by the platform after this (v3 docs: 7 days).
DEFAULT_ORDER_LIFETIME = timedelta(days=7)

#: Fields a re-entry with the same out_trade_no must repeat unchanged (spec §4.2). notify_url,
#: time_start, time_expire and spbill_create_ip may change; the newest values win.
REENTRY_FIELDS = (
    "appid",
    "body",
    "detail",
    "attach",
    "fee_type",
    "total_fee",
    "trade_type",
    "product_id",
    "openid",
    "limit_pay",
    "goods_tag",
    "device_info",
    "scene_info",
    "receipt",
    "profit_sharing",
)

PAID_STATES = frozenset({TradeState.SUCCESS, TradeState.REFUND})


@dataclass(frozen=True, slots=True)
class OrderRules:
    """Platform rules a deployment may relax; the defaults are the real platform's."""

    closeorder_min_age: timedelta = timedelta(minutes=5)
    allow_time_expire_change: bool = True


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    """A validated unifiedorder request, in the domain's terms."""

    appid: str
    out_trade_no: str
    trade_type: TradeType
    total_fee: int
    body: str
    spbill_create_ip: str
    notify_url: str
    sign_type: SignType
    nonce_str: str
    device_info: str = ""
    detail: str = ""
    attach: str = ""
    fee_type: str = "CNY"
    time_start: datetime | None = None
    time_expire: datetime | None = None
    goods_tag: str = ""
    product_id: str = ""
    limit_pay: str = ""
    openid: str = ""
    receipt: str = ""
    profit_sharing: str = ""
    scene_info: str = ""


def effective_state(order: Order, now: datetime) -> Order:
    """The order as of ``now``: an unpaid order past its expiry reads as CLOSED, a password
    prompt left unanswered past its window as PAYERROR.

    Expiry is applied lazily, on read, so that no background sweep is needed; write paths
    persist the closed state when they touch the order.
    """
    if (
        order.trade_state is TradeState.SUCCESS
        and order.time_end is not None
        and order.time_end > now
        and order.trade_type is TradeType.MICROPAY
    ):
        # A scripted payer (domain/payer_scripts.py) enters the password at time_end: the
        # charge is booked for that moment, and until then the order waits like any other.
        return replace(order, trade_state=TradeState.USERPAYING)
    if order.trade_state is TradeState.USERPAYING:
        if order.password_deadline is not None and now > order.password_deadline:
            return replace(
                order, trade_state=TradeState.PAYERROR, updated_at=order.password_deadline
            )
        return order
    if order.trade_state is not TradeState.NOTPAY:
        return order
    deadline = order.time_expire or order.created_at + DEFAULT_ORDER_LIFETIME
    if now > deadline:
        return replace(order, trade_state=TradeState.CLOSED, updated_at=deadline)
    return order


def _check_openid(tx: OrderDesk, cmd: PlaceOrder) -> None:
    if cmd.trade_type is not TradeType.JSAPI:
        return
    found = tx.payer_by_openid(cmd.openid)
    if found is None:
        raise Rejected(ErrCode.PARAM_ERROR, "无效的openid")
    if found[1] != cmd.appid:
        raise Rejected(ErrCode.PARAM_ERROR, "appid和openid不匹配")


def _check_times(cmd: PlaceOrder, now: datetime) -> None:
    if cmd.time_expire is None:
        return
    start = cmd.time_start or now
    if cmd.time_expire - start < MIN_EXPIRE_INTERVAL:
        raise Rejected(ErrCode.PARAM_ERROR, "time_expire时间过短，刷卡至少1分钟，其他5分钟")
    if cmd.time_expire <= now:
        raise Rejected(ErrCode.PARAM_ERROR, "交易有效截止时间非法")


def _fresh_handles(trade_type: TradeType, ids: Ids, now: datetime) -> dict[str, Any]:
    """A prepay_id (and code_url code) valid for two hours from now, as ``Order`` fields."""
    return {
        "prepay_id": ids.prepay_id(now),
        "prepay_expires_at": now + PREPAY_VALIDITY,
        "qr_code": ids.qr_code() if trade_type is TradeType.NATIVE else "",
    }


def _with_fresh_handle(order: Order, ids: Ids, now: datetime) -> Order:
    return replace(order, **_fresh_handles(order.trade_type, ids, now))


def differing_fields(order: Order, cmd: PlaceOrder) -> list[str]:
    """Names of the fields a re-entry changed, compared as the wire values."""
    return [name for name in REENTRY_FIELDS if str(getattr(order, name)) != str(getattr(cmd, name))]


def refuse_if_not_payable(order: Order) -> None:
    if order.trade_state in PAID_STATES:
        raise Rejected(ErrCode.ORDERPAID)
    if order.trade_state is TradeState.CLOSED:
        raise Rejected(ErrCode.ORDERCLOSED)
    if order.trade_state is TradeState.REVOKED:
        raise Rejected(ErrCode.ORDERREVERSED)


def place_order(
    tx: OrderDesk,
    clock: Clock,
    ids: Ids,
    merchant: Merchant,
    cmd: PlaceOrder,
    rules: OrderRules = OrderRules(),
) -> Order:
    """unifiedorder: create the order, or re-enter an unpaid one with identical parameters.

    The insert comes first and the unique (merchant_id, out_trade_no) index says whether the
    order exists: a new order (the common case) costs one statement, not a read and a write. A
    re-entry reads the order it collided with; checks that only a new order must pass are
    judged after that read, so a re-entry answers exactly as it would have without them.
    """
    now = clock.now()
    try:
        _check_times(cmd, now)
        _check_openid(tx, cmd)
    except Rejected:
        existing = tx.order_by_out_trade_no(merchant.id, cmd.out_trade_no, lock=True)
        if existing is None:
            raise
        return _reenter(tx, ids, existing, cmd, now, rules)
    fresh = new_order(merchant, cmd, now, **_fresh_handles(cmd.trade_type, ids, now))
    inserted = tx.insert_order(fresh)
    if inserted is not None:
        return inserted
    # The order exists (a re-entry, or another request created it a moment ago).
    existing = tx.order_by_out_trade_no(merchant.id, cmd.out_trade_no, lock=True)
    if existing is None:
        raise Rejected(ErrCode.SYSTEMERROR)
    return _reenter(tx, ids, existing, cmd, now, rules)


def _reenter(
    tx: OrderDesk, ids: Ids, existing: Order, cmd: PlaceOrder, now: datetime, rules: OrderRules
) -> Order:
    current = effective_state(existing, now)
    if current.trade_type is TradeType.MICROPAY:
        raise Rejected(ErrCode.OUT_TRADE_NO_USED)
    refuse_if_not_payable(current)
    if differing_fields(current, cmd):
        raise Rejected(ErrCode.INVALID_REQUEST)
    if cmd.time_expire is not None and cmd.time_expire != current.time_expire:
        if not rules.allow_time_expire_change:
            raise Rejected(ErrCode.INVALID_REQUEST)
        _check_times(cmd, now)
    updated = replace(
        current,
        notify_url=cmd.notify_url,
        time_start=cmd.time_start or current.time_start,
        spbill_create_ip=cmd.spbill_create_ip,
        time_expire=cmd.time_expire or current.time_expire,
        sign_type=cmd.sign_type,
        updated_at=now,
    )
    if updated.prepay_expires_at is None or now >= updated.prepay_expires_at:
        tx.retire_handles(current)
        updated = _with_fresh_handle(updated, ids, now)
    tx.update_order(updated)
    return updated


ORDER_FIELDS = frozenset(f.name for f in fields(Order))
#: Per command class, the names of its fields that ``Order`` shares (read once per class).
_SHARED_NAMES: dict[type, tuple[str, ...]] = {}


def _shared_names(cmd: DataclassInstance) -> tuple[str, ...]:
    kind = type(cmd)
    names = _SHARED_NAMES.get(kind)
    if names is None:
        names = tuple(f.name for f in fields(cmd) if f.name in ORDER_FIELDS)
        _SHARED_NAMES[kind] = names
    return names


def new_order(merchant: Merchant, cmd: DataclassInstance, now: datetime, **extra: Any) -> Order:
    """A NOTPAY order from a validated request: every field the request shares with ``Order``
    (the wire names are the same on both), plus ``extra``."""
    shared = {name: getattr(cmd, name) for name in _shared_names(cmd)}
    return Order(
        id=0,
        merchant_id=merchant.id,
        mch_id=merchant.mch_id,
        trade_state=TradeState.NOTPAY,
        created_at=now,
        updated_at=now,
        **(shared | extra),
    )


def find_order(
    tx: OrderDesk, merchant: Merchant, transaction_id: str, out_trade_no: str, *, lock: bool = False
) -> Order:
    """The order named by transaction_id (which wins when both are given) or out_trade_no."""
    if transaction_id:
        order = tx.order_by_transaction_id(merchant.id, transaction_id, lock=lock)
    else:
        order = tx.order_by_out_trade_no(merchant.id, out_trade_no, lock=lock)
    if order is None:
        raise Rejected(ErrCode.ORDERNOTEXIST)
    return order


def query_order(
    tx: OrderDesk, clock: Clock, merchant: Merchant, transaction_id: str, out_trade_no: str
) -> Order:
    """orderquery: the order as of now."""
    return effective_state(find_order(tx, merchant, transaction_id, out_trade_no), clock.now())


def close_order(
    tx: OrderDesk,
    clock: Clock,
    merchant: Merchant,
    out_trade_no: str,
    rules: OrderRules = OrderRules(),
) -> Order:
    """closeorder: an unpaid unifiedorder order becomes CLOSED and can never be paid."""
    now = clock.now()
    order = find_order(tx, merchant, "", out_trade_no, lock=True)
    current = effective_state(order, now)
    refuse_if_not_payable(current)
    if current.trade_state is not TradeState.NOTPAY:
        raise Rejected(ErrCode.TRADE_STATE_ERROR, "订单状态错误，付款码订单请调用撤销订单API")
    if now - current.created_at < rules.closeorder_min_age:
        raise Rejected(ErrCode.PARAM_ERROR, "订单生成后5分钟内不能关单")
    closed = replace(current, trade_state=TradeState.CLOSED, updated_at=now)
    tx.update_order(closed)
    return closed
