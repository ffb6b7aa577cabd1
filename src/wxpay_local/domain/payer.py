"""The payer's side: paying an order from the wallet or a card, or walking away.

What a real payer can produce: success, not enough balance, cancelling, a credit card refused
because the merchant sent limit_pay=no_credit, a wrong payment password. Only success changes
anything; every other outcome leaves the order payable (spec §5.4: NOTPAY stays NOTPAY).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from wxpay_local import secure
from wxpay_local.codes import TradeState, TradeType
from wxpay_local.domain import ledger
from wxpay_local.domain.clock import Clock
from wxpay_local.domain.ids import Ids
from wxpay_local.domain.merchant_config import load as load_merchant_config
from wxpay_local.domain.model import LIVE, Order
from wxpay_local.domain.notify import notify_signing, payment_fields
from wxpay_local.domain.orders import effective_state
from wxpay_local.domain.ports import OrderDesk

WALLET_BANK_TYPE = "OTHERS"


class PayOutcome(StrEnum):
    SUCCESS = "SUCCESS"
    NOTENOUGH = "NOTENOUGH"
    CANCELLED = "CANCELLED"
    CREDIT_REFUSED = "CREDIT_REFUSED"
    WRONG_PASSWORD = "WRONG_PASSWORD"
    ORDER_NOT_FOUND = "ORDER_NOT_FOUND"
    ORDER_EXPIRED = "ORDER_EXPIRED"
    ORDER_PAID = "ORDER_PAID"
    ORDER_CLOSED = "ORDER_CLOSED"
    BUYER_MISMATCH = "BUYER_MISMATCH"
    NO_SUCH_CARD = "NO_SUCH_CARD"
    NO_SUCH_PAYER = "NO_SUCH_PAYER"
    WRONG_TRADE_TYPE = "WRONG_TRADE_TYPE"

    @property
    def message(self) -> str:
        return _MESSAGES[self]


_MESSAGES = {
    PayOutcome.SUCCESS: "支付成功",
    PayOutcome.NOTENOUGH: "零钱余额不足，请更换支付方式",
    PayOutcome.CANCELLED: "用户取消支付",
    PayOutcome.CREDIT_REFUSED: "商户不支持信用卡支付，请更换支付方式",
    PayOutcome.WRONG_PASSWORD: "支付密码错误，请重试",
    PayOutcome.ORDER_NOT_FOUND: "订单不存在",
    PayOutcome.ORDER_EXPIRED: "支付请求已失效，请重新发起支付",
    PayOutcome.ORDER_PAID: "该订单已支付",
    PayOutcome.ORDER_CLOSED: "该订单已关闭",
    PayOutcome.BUYER_MISMATCH: "该订单不属于当前用户",
    PayOutcome.NO_SUCH_CARD: "银行卡不存在",
    PayOutcome.NO_SUCH_PAYER: "用户不存在",
    PayOutcome.WRONG_TRADE_TYPE: "该支付方式不适用于此订单",
}


@dataclass(frozen=True, slots=True)
class PayRequest:
    payer_id: int
    #: Either the prepay_id (JSAPI, APP, MWEB, NATIVE) or the ``pr=`` code of a code_url.
    prepay_id: str = ""
    qr_code: str = ""
    card_id: int | None = None  # None pays from the wallet
    password: str | None = None  # None: the caller does not simulate password entry
    cancel: bool = False


@dataclass(frozen=True, slots=True)
class PayResult:
    outcome: PayOutcome
    order: Order | None = None


def pay_order(tx: OrderDesk, clock: Clock, ids: Ids, req: PayRequest) -> PayResult:
    """Pay (or decline to pay) an order as a simulated WeChat user."""
    now = clock.now()
    if req.qr_code:
        found = tx.order_by_qr_code(req.qr_code, lock=True)
    else:
        found = tx.order_by_prepay_id(req.prepay_id, lock=True)
    if found is None:
        stale = tx.order_by_stale_handle(req.qr_code or req.prepay_id)
        if stale is not None:
            return PayResult(PayOutcome.ORDER_EXPIRED, effective_state(stale, now))
        return PayResult(PayOutcome.ORDER_NOT_FOUND)
    order = effective_state(found, now)
    if order.trade_state in (TradeState.SUCCESS, TradeState.REFUND):
        return PayResult(PayOutcome.ORDER_PAID, order)
    if order.trade_state is not TradeState.NOTPAY:
        return PayResult(PayOutcome.ORDER_CLOSED, order)
    if order.trade_type is TradeType.MICROPAY:
        return PayResult(PayOutcome.WRONG_TRADE_TYPE, order)
    if order.prepay_expires_at is not None and now >= order.prepay_expires_at:
        return PayResult(PayOutcome.ORDER_EXPIRED, order)
    payer = tx.payer(req.payer_id)
    if payer is None:
        return PayResult(PayOutcome.NO_SUCH_PAYER, order)
    openid = tx.openid_of(payer.id, order.appid)
    if order.trade_type is TradeType.JSAPI and openid != order.openid:
        return PayResult(PayOutcome.BUYER_MISMATCH, order)
    if req.cancel:
        return PayResult(PayOutcome.CANCELLED, order)
    if req.password is not None and not secure.equal(req.password, payer.pay_password):
        return PayResult(PayOutcome.WRONG_PASSWORD, order)
    if openid is None:  # a WeChat user has an openid under every appid they meet
        openid = ids.openid()
        tx.insert_openid(payer.id, order.appid, openid)

    outcome, paid = charge(tx, ids, now, order, payer.id, openid, req.card_id)
    if paid is None:
        return PayResult(outcome, order)
    setting = load_merchant_config(tx, paid.mch_id).notify_sign_type
    sign_type, element = notify_signing(setting, paid.sign_type)
    tx.enqueue_notification(
        "payment",
        paid.merchant_id,
        paid.id,
        paid.notify_url,
        payment_fields(paid) | element,
        sign_type,
        now,
    )
    return PayResult(PayOutcome.SUCCESS, paid)


def charge(
    tx: OrderDesk,
    ids: Ids,
    now: datetime,
    order: Order,
    payer_id: int,
    openid: str,
    card_id: int | None,
) -> tuple[PayOutcome, Order | None]:
    """Move the order's amount from the payer's wallet (or card) to the merchant, net of fee.

    The order becomes SUCCESS with its transaction_id; on NOTENOUGH, CREDIT_REFUSED or
    NO_SUCH_CARD nothing changes. The caller holds the order's row lock.
    """
    if card_id is None:
        source, bank_type = ledger.wallet(payer_id), WALLET_BANK_TYPE
        if tx.balance(source, lock=True) < order.total_fee:
            return PayOutcome.NOTENOUGH, None
    else:
        card = next((c for c in tx.cards_of(payer_id) if c.id == card_id), None)
        if card is None:
            return PayOutcome.NO_SUCH_CARD, None
        if card.is_credit and order.limit_pay == "no_credit":
            return PayOutcome.CREDIT_REFUSED, None
        source, bank_type = ledger.bank(card), card.bank_type
    merchant = tx.merchant_by_id(order.merchant_id)
    fee = ledger.fee_of(order.total_fee, merchant.fee_rate_ppm)
    paid = replace(
        order,
        trade_state=TradeState.SUCCESS,
        transaction_id=order.transaction_id or ids.transaction_id(now),
        payer_openid=openid,
        payer_id=payer_id,
        bank_type=bank_type,
        cash_fee=order.total_fee,
        fee=fee,
        time_end=now,
        updated_at=now,
        card_id=card_id,
    )
    tx.update_order(paid)
    if merchant.env == LIVE:  # the sandbox keeps its own orders but moves no money (spec §1.6)
        tx.post(ledger.payment(paid.transaction_id, source, merchant, order.total_fee, fee, now))
    return PayOutcome.SUCCESS, paid
