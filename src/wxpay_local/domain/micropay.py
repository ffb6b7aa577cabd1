"""Micropay (付款码支付), the payer's password step, and reverse (spec §4.1, §4.5, §5).

A charge either completes at once, or, when the payer must confirm, leaves the order USERPAYING
for a 30-second password window: the payer then enters the password (SUCCESS), cancels
(PAYERROR), or lets it time out (PAYERROR, applied when the order is next read).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from wxpay_local import secure
from wxpay_local.codes import ErrCode, Rejected, SignType, TradeState, TradeType
from wxpay_local.domain import ledger
from wxpay_local.domain.clock import Clock
from wxpay_local.domain.ids import Ids
from wxpay_local.domain.model import LIVE, LedgerTxn, Merchant, Order, Payer
from wxpay_local.domain.orders import effective_state, new_order
from wxpay_local.domain.paycodes import live_code
from wxpay_local.domain.payer import WALLET_BANK_TYPE, PayOutcome, charge
from wxpay_local.domain.payer_scripts import PayerScript
from wxpay_local.domain.ports import OrderDesk
from wxpay_local.domain.setup import openid_for

PASSWORD_WINDOW = timedelta(seconds=30)
MIN_EXPIRE_INTERVAL = timedelta(minutes=1)
#: Payments above 1000 CNY always need the password; at most 10 password-free ones a day.
FREE_LIMIT_FEN = 100_000
DAILY_FREE_PAYMENTS = 10
MIN_REVERSE_AGE = timedelta(seconds=15)
REVERSE_WINDOW = timedelta(days=7)

#: Payer password policies: when micropay asks for the password.
POLICIES = ("platform", "always", "never")

#: Fields an identical re-submission repeats (spec §5.3).
REPEAT_FIELDS = ("auth_code", "total_fee", "body", "appid", "attach", "detail", "goods_tag")


@dataclass(frozen=True, slots=True)
class Micropay:
    appid: str
    out_trade_no: str
    total_fee: int
    body: str
    auth_code: str
    spbill_create_ip: str
    sign_type: SignType
    nonce_str: str
    device_info: str = ""
    detail: str = ""
    attach: str = ""
    fee_type: str = "CNY"
    time_start: datetime | None = None
    time_expire: datetime | None = None
    goods_tag: str = ""
    limit_pay: str = ""
    receipt: str = ""
    profit_sharing: str = ""
    scene_info: str = ""


@dataclass(frozen=True, slots=True)
class MicropayResult:
    """The order, and the refusal to answer with when the charge did not complete at once."""

    order: Order
    refusal: Rejected | None = None


USERPAYING = "需要用户输入支付密码"


def micropay(
    tx: OrderDesk,
    clock: Clock,
    ids: Ids,
    merchant: Merchant,
    cmd: Micropay,
    script: PayerScript | None = None,
) -> MicropayResult:
    """Charge a payment code; ``script`` (a rule's payer outcome) decides what the payer does."""
    now = clock.now()
    existing = tx.order_by_out_trade_no(merchant.id, cmd.out_trade_no, lock=True)
    if existing is not None:
        return _repeat(tx, existing, cmd, now)
    if (
        cmd.time_expire is not None
        and cmd.time_expire - (cmd.time_start or now) < MIN_EXPIRE_INTERVAL
    ):
        raise Rejected(ErrCode.PARAM_ERROR, "time_expire时间过短，刷卡至少1分钟，其他5分钟")
    code = live_code(tx, cmd.auth_code, now, lock=True)
    if code.reserved_mch_id and code.reserved_mch_id != merchant.mch_id:
        raise Rejected(ErrCode.AUTH_CODE_ERROR, "101 付款码无效，请重新扫码")
    payer = tx.payer(code.payer_id)
    if payer is None:
        raise Rejected(ErrCode.AUTH_CODE_INVALID)
    scripted = script.refusal() if script is not None else None
    if scripted is not None:
        raise scripted
    if tx.balance(ledger.wallet(payer.id), lock=True) < cmd.total_fee:
        raise Rejected(ErrCode.NOTENOUGH, "101 余额不足")
    openid = openid_for(tx, ids, payer.id, cmd.appid)
    order = tx.insert_order(
        new_order(
            merchant,
            cmd,
            now,
            trade_type=TradeType.MICROPAY,
            payer_id=payer.id,
            payer_openid=openid,
        )
    )
    if order is None:  # a concurrent request created it first
        raise Rejected(ErrCode.SYSTEMERROR)
    tx.update_auth_code(replace(code, used_at=now, order_id=order.id))

    if script is not None:
        return _scripted(tx, ids, replace(order, payer_openid=openid), script, now)
    if _needs_password(tx, payer, cmd.total_fee, now):
        waiting = replace(
            order, trade_state=TradeState.USERPAYING, password_deadline=now + PASSWORD_WINDOW
        )
        tx.update_order(waiting)
        return MicropayResult(waiting, Rejected(ErrCode.USERPAYING, USERPAYING))
    _, paid = charge(tx, ids, now, replace(order, password_free=True), payer.id, openid, None)
    if paid is None:  # checked above under the wallet's lock; cannot happen
        raise Rejected(ErrCode.SYSTEMERROR)
    return MicropayResult(paid)


def _scripted(
    tx: OrderDesk, ids: Ids, order: Order, script: PayerScript, now: datetime
) -> MicropayResult:
    """USERPAYING now; the order resolves when the script's payer acts (platform time)."""
    refusal = Rejected(ErrCode.USERPAYING, USERPAYING)
    if script.outcome == "payer_pays":
        at = now + script.at
        waiting = replace(order, password_deadline=at)
        if order.payer_id is None:
            raise ValueError("a micropay order always has a payer")
        # Booked now for the moment the payer enters the password; effective_state shows the
        # order USERPAYING until then.
        outcome, paid = charge(tx, ids, at, waiting, order.payer_id, order.payer_openid, None)
        if paid is None:  # the balance was checked under the wallet's lock
            raise Rejected(ErrCode.NOTENOUGH, "101 余额不足")
        return MicropayResult(replace(paid, trade_state=TradeState.USERPAYING), refusal)
    window = script.at if script.outcome == "payer_wrong_password" else PASSWORD_WINDOW
    waiting = replace(order, trade_state=TradeState.USERPAYING, password_deadline=now + window)
    tx.update_order(waiting)
    return MicropayResult(waiting, refusal)


def _needs_password(tx: OrderDesk, payer: Payer, amount: int, now: datetime) -> bool:
    if payer.password_policy == "always":
        return True
    if payer.password_policy == "never":
        return False
    if amount > FREE_LIMIT_FEN:
        return True
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return tx.password_free_payments_since(payer.id, day_start) >= DAILY_FREE_PAYMENTS


def _repeat(tx: OrderDesk, existing: Order, cmd: Micropay, now: datetime) -> MicropayResult:
    """A second micropay with the same out_trade_no (spec §5.3)."""
    if existing.trade_type is not TradeType.MICROPAY:
        raise Rejected(ErrCode.OUT_TRADE_NO_USED)
    order = effective_state(existing, now)
    code = tx.auth_code(cmd.auth_code)
    if code is not None and code.payer_id != order.payer_id:
        raise Rejected(ErrCode.BUYER_MISMATCH, "支付帐号错误，请确认后重新支付")
    identical = all(str(getattr(order, f)) == str(getattr(cmd, f)) for f in REPEAT_FIELDS)
    state = order.trade_state
    if state is TradeState.REVOKED:
        raise Rejected(ErrCode.ORDERREVERSED)
    if state is TradeState.CLOSED:
        raise Rejected(ErrCode.ORDERCLOSED)
    if state is TradeState.PAYERROR:
        if order is not existing:
            tx.update_order(order)
            return MicropayResult(order, Rejected(ErrCode.TRADE_ERROR, PAYERROR_DES))
        raise Rejected(ErrCode.TRADE_ERROR, PAYERROR_DES)
    if not identical:
        if state in (TradeState.SUCCESS, TradeState.REFUND):
            raise Rejected(ErrCode.ORDERPAID)
        raise Rejected(ErrCode.INVALID_REQUEST, "201 商户订单号重复")
    if state is TradeState.USERPAYING:
        return MicropayResult(order, Rejected(ErrCode.USERPAYING, USERPAYING))
    return MicropayResult(order)  # SUCCESS or REFUND: replay the success


PAYERROR_DES = "支付失败，请撤销订单后使用新的商户订单号重新支付"


# the payer's side of a USERPAYING order ----------------------------------------------------
def waiting_orders(tx: OrderDesk, clock: Clock, payer_id: int) -> list[Order]:
    """The payer's micropay orders still waiting for the password."""
    now = clock.now()
    current = [effective_state(o, now) for o in tx.orders_awaiting_password(payer_id)]
    return [o for o in current if o.trade_state is TradeState.USERPAYING]


def confirm_payment(
    tx: OrderDesk,
    clock: Clock,
    ids: Ids,
    order_id: int,
    payer_id: int,
    *,
    password: str | None = None,
    cancel: bool = False,
    card_id: int | None = None,
) -> tuple[PayOutcome, Order | None]:
    """The payer answers the password prompt: right password pays, cancel fails the order."""
    now = clock.now()
    found = tx.order_by_id(order_id, lock=True)
    if found is None or found.payer_id != payer_id:
        return PayOutcome.ORDER_NOT_FOUND, None
    if found.trade_state is TradeState.SUCCESS:  # a scripted payer already paid it
        return PayOutcome.ORDER_PAID, found
    order = effective_state(found, now)
    if order.trade_state is not TradeState.USERPAYING:
        if order is not found:
            tx.update_order(order)
        closed = order.trade_state in (TradeState.PAYERROR, TradeState.REVOKED, TradeState.CLOSED)
        return (PayOutcome.ORDER_CLOSED if closed else PayOutcome.ORDER_PAID), order
    if cancel:
        failed = replace(order, trade_state=TradeState.PAYERROR, updated_at=now)
        tx.update_order(failed)
        return PayOutcome.CANCELLED, failed
    payer = tx.payer(payer_id)
    if payer is None or password is None or not secure.equal(password, payer.pay_password):
        return PayOutcome.WRONG_PASSWORD, order
    outcome, paid = charge(tx, ids, now, order, payer_id, order.payer_openid, card_id)
    return outcome, paid or order


# reverse ------------------------------------------------------------------------------------
def reverse(
    tx: OrderDesk, clock: Clock, merchant: Merchant, transaction_id: str, out_trade_no: str
) -> Order:
    """Reverse a micropay order: unpaid ones are closed, paid ones refunded in full."""
    now = clock.now()
    found = (
        tx.order_by_transaction_id(merchant.id, transaction_id, lock=True)
        if transaction_id
        else tx.order_by_out_trade_no(merchant.id, out_trade_no, lock=True)
    )
    if found is None:  # reverse's table (spec §4.5) has no ORDERNOTEXIST: "order not found"
        # is INVALID_TRANSACTIONID, whichever id named it.
        raise Rejected(ErrCode.INVALID_TRANSACTIONID, "无效transaction_id", recall="N")
    order = effective_state(found, now)
    if order.trade_type is not TradeType.MICROPAY:
        raise Rejected(ErrCode.INVALID_REQUEST, "非付款码支付订单，请使用退款接口", recall="N")
    if order.trade_state is TradeState.REVOKED:
        return order
    if now - order.created_at > REVERSE_WINDOW:
        raise Rejected(ErrCode.REVERSE_EXPIRE, "订单已超过撤销时间，请使用退款接口", recall="N")
    if order.trade_state is TradeState.REFUND:
        raise Rejected(ErrCode.INVALID_REQUEST, "订单已发生退款，不能撤销", recall="N")
    if order.trade_state is TradeState.USERPAYING and now - order.created_at < MIN_REVERSE_AGE:
        raise Rejected(ErrCode.TRADE_ERROR, "用户支付中，请15秒后再撤销", recall="Y")
    if found.trade_state is TradeState.SUCCESS:
        # Paid, possibly by a scripted payer still shown as USERPAYING: give the money back.
        order = found
        if merchant.env == LIVE:
            tx.post(_reversal(tx, order, now))
    revoked = replace(order, trade_state=TradeState.REVOKED, updated_at=now)
    tx.update_order(revoked)
    return revoked


def _reversal(tx: OrderDesk, order: Order, now: datetime) -> LedgerTxn:
    merchant = tx.merchant_by_id(order.merchant_id)
    if order.payer_id is None:
        raise ValueError("a paid order always has a payer")
    source = (
        ledger.wallet(order.payer_id)
        if order.bank_type == WALLET_BANK_TYPE
        else f"external:bank:{order.bank_type}"
    )
    return ledger.reversal(order.transaction_id, source, merchant, order.total_fee, order.fee, now)
