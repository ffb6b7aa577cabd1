"""Made-up but real business for a merchant: ``wxpay-local trigger`` and the probe's orders.

A paid order goes through unifiedorder's and the payer's own use cases (so the ledger, the
order and its notification are exactly what a checkout makes); a refund through the refund
use case. The payer is the first one with money, or a new "trigger payer".
"""

from __future__ import annotations

from datetime import timedelta

from wxpay_local.codes import ErrCode, Rejected, SignType, TradeState, TradeType
from wxpay_local.domain import ledger
from wxpay_local.domain.clock import Clock
from wxpay_local.domain.ids import Ids
from wxpay_local.domain.model import Merchant, Order, Refund
from wxpay_local.domain.orders import PlaceOrder, place_order
from wxpay_local.domain.payer import PayOutcome, PayRequest, pay_order
from wxpay_local.domain.ports import Tx
from wxpay_local.domain.refunds import RequestRefund, request_refund
from wxpay_local.domain.setup import NewPayer, create_payer

TRIGGER_PAYER = "trigger payer"
#: Payers looked at for one with the money before a new one is made (a bounded read).
PAYERS_TRIED = 100


def _payer_with(tx: Tx, clock: Clock, ids: Ids, amount: int) -> int:
    for payer in tx.payers(limit=PAYERS_TRIED):
        if tx.balance(ledger.wallet(payer.id)) >= amount:
            return payer.id
    return create_payer(
        tx, clock, ids, NewPayer(TRIGGER_PAYER, balance=max(amount, 100_000))
    ).payer.id


def paid_order(
    tx: Tx,
    clock: Clock,
    ids: Ids,
    merchant: Merchant,
    notify_url: str,
    total_fee: int = 1,
    sign_type: SignType = SignType.MD5,
    body: str = "wxpay-local trigger",
) -> Order:
    """A NATIVE order placed and paid; its payment notification is queued for notify_url."""
    apps = tx.apps_of(merchant.mch_id)
    if not apps:
        raise Rejected(ErrCode.APPID_NOT_EXIST, "the merchant has no app to place an order under")
    now = clock.now()
    cmd = PlaceOrder(
        appid=apps[0].appid,
        out_trade_no=f"TRIG{now:%Y%m%d%H%M%S}{ids.nonce(8)}",
        trade_type=TradeType.NATIVE,
        total_fee=total_fee,
        body=body,
        spbill_create_ip="127.0.0.1",
        notify_url=notify_url,
        sign_type=sign_type,
        nonce_str=ids.nonce(),
        product_id="trigger",
    )
    order = place_order(tx, clock, ids, merchant, cmd)
    payer_id = _payer_with(tx, clock, ids, total_fee)
    result = pay_order(tx, clock, ids, PayRequest(payer_id=payer_id, prepay_id=order.prepay_id))
    if result.outcome is not PayOutcome.SUCCESS or result.order is None:
        raise Rejected(ErrCode.SYSTEMERROR, f"the trigger payment failed: {result.outcome}")
    return result.order


def refund(
    tx: Tx,
    clock: Clock,
    ids: Ids,
    merchant: Merchant,
    order: Order,
    notify_url: str,
    settle_after: timedelta,
    refund_fee: int | None = None,
) -> Refund:
    """A refund of a paid order (whole by default); it settles and notifies as any refund."""
    if order.trade_state not in (TradeState.SUCCESS, TradeState.REFUND):
        raise Rejected(ErrCode.ORDERNOTEXIST, "订单状态错误，未支付的订单不能发起退款")
    cmd = RequestRefund(
        transaction_id=order.transaction_id,
        out_trade_no=order.out_trade_no,
        out_refund_no=f"TRIGR{ids.nonce(12)}",
        total_fee=order.total_fee,
        refund_fee=order.total_fee if refund_fee is None else refund_fee,
        sign_type=SignType.MD5,
        notify_url=notify_url,
    )
    return request_refund(tx, clock, ids, merchant, cmd, settle_after)
