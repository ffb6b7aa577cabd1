"""Handlers for the payment endpoints: typed request in, business fields (or a refusal) out."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from wxpay_local.api.context import Call
from wxpay_local.codes import Rejected, TradeState, TradeType
from wxpay_local.domain import micropay as mp
from wxpay_local.domain import orders
from wxpay_local.domain.model import Order
from wxpay_local.domain.payer_scripts import PayerScript
from wxpay_local.spec.pay import ORDERQUERY_FIELDS
from wxpay_local.timefmt import wire_time

Fields = Mapping[str, str | int]


def unifiedorder(call: Call) -> Fields:
    cmd = call.command(orders.PlaceOrder, trade_type=TradeType(call.text("trade_type")))
    platform = call.platform
    order = orders.place_order(
        call.tx, platform.clock, platform.ids, call.merchant, cmd, platform.order_rules
    )
    answer: dict[str, str | int] = {
        "trade_type": str(order.trade_type),
        "prepay_id": order.prepay_id,
    }
    if order.trade_type is TradeType.NATIVE:
        answer["code_url"] = f"weixin://wxpay/bizpayurl?pr={order.qr_code}"
    elif order.trade_type is TradeType.MWEB:
        answer["mweb_url"] = (
            f"{platform.base_url}/cgi-bin/mmpayweb-bin/checkmweb?prepay_id={quote(order.prepay_id)}"
            f"&package={order.id}"
        )
    return answer


def order_fields(order: Order) -> dict[str, str | int]:
    """orderquery's business fields: full payment fields once paid, identification otherwise."""
    state = order.trade_state
    fields: dict[str, str | int] = {"device_info": order.device_info}
    payer_known = state in (
        TradeState.SUCCESS,
        TradeState.REFUND,
        TradeState.USERPAYING,
        TradeState.PAYERROR,
    ) or (state is TradeState.REVOKED and order.payer_openid)
    if payer_known:
        fields["openid"] = order.payer_openid
        fields["is_subscribe"] = order.is_subscribe
    fields["trade_type"] = str(order.trade_type)
    fields["trade_state"] = str(state)
    if order.time_end is not None:
        fields["bank_type"] = order.bank_type
    fields["total_fee"] = order.total_fee
    fields["fee_type"] = order.fee_type
    if order.time_end is not None:
        fields["cash_fee"] = order.cash_fee
        fields["cash_fee_type"] = "CNY"
        fields["transaction_id"] = order.transaction_id
    fields["out_trade_no"] = order.out_trade_no
    if order.time_end is not None:
        fields["attach"] = order.attach  # attach is returned for paid orders only
        fields["time_end"] = wire_time(order.time_end)
    fields["trade_state_desc"] = state.desc
    allowed = ORDERQUERY_FIELDS[str(state)]  # the spec's table for this state (§4.3)
    return {k: v for k, v in fields.items() if k in allowed}


def orderquery(call: Call) -> Fields:
    order = orders.query_order(
        call.tx,
        call.platform.clock,
        call.merchant,
        call.text("transaction_id"),
        call.text("out_trade_no"),
    )
    return order_fields(order)


def closeorder(call: Call) -> Fields:
    orders.close_order(
        call.tx,
        call.platform.clock,
        call.merchant,
        call.text("out_trade_no"),
        call.platform.order_rules,
    )
    return {"result_msg": "OK"}


def micropay(call: Call, script: PayerScript | None = None) -> Fields | Rejected:
    """``script``: a fault rule's scripted payer outcome (web/faults.py), else the platform's."""
    cmd = call.command(mp.Micropay)
    platform = call.platform
    result = mp.micropay(call.tx, platform.clock, platform.ids, call.merchant, cmd, script)
    if result.refusal is not None:
        return result.refusal  # the order stays (USERPAYING / PAYERROR): commit, then refuse
    order = result.order
    if order.time_end is None:
        raise RuntimeError("a micropay answered as success is paid")
    return {
        "openid": order.payer_openid,
        "is_subscribe": order.is_subscribe,
        "trade_type": str(order.trade_type),
        "bank_type": order.bank_type,
        "fee_type": order.fee_type,
        "total_fee": order.total_fee,
        "coupon_fee": 0,  # no coupons here; the documented example answer carries it
        "cash_fee_type": "CNY",
        "cash_fee": order.cash_fee,
        "transaction_id": order.transaction_id,
        "out_trade_no": order.out_trade_no,
        "attach": order.attach,
        "time_end": wire_time(order.time_end),
    }


def reverse(call: Call) -> Fields:
    mp.reverse(
        call.tx,
        call.platform.clock,
        call.merchant,
        call.text("transaction_id"),
        call.text("out_trade_no"),
    )
    return {"recall": "N"}
