"""Refunds (refunds spec §2, §3, §5): request, settle, force an outcome, query.

Money: on acceptance the merchant's basic account pays the refund less the share of the fee
the platform gives back, into ``platform:refunds_in_transit``; on SUCCESS the refund leaves
transit for the payer's wallet (or the card's bank); on CHANGE or REFUNDCLOSE it goes back to
the merchant and the fee share back to the platform. The order row is locked for every
refund, so concurrent refunds of one order can never exceed what was paid.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from wxpay_local.codes import ErrCode, RefundStatus, Rejected, SignType, TradeState
from wxpay_local.domain import ledger
from wxpay_local.domain.clock import Clock
from wxpay_local.domain.ids import Ids
from wxpay_local.domain.model import LIVE, LedgerTxn, Merchant, Order, Posting, Refund
from wxpay_local.domain.notify import refund_fields
from wxpay_local.domain.orders import effective_state
from wxpay_local.domain.ports import RefundDesk

REFUND_WINDOW = timedelta(days=365)
MAX_REFUNDS_PER_ORDER = 50
IN_TRANSIT = "platform:refunds_in_transit"
ACCOUNTS = ("REFUND_SOURCE_UNSETTLED_FUNDS", "REFUND_SOURCE_RECHARGE_FUNDS")
FINAL = frozenset({RefundStatus.SUCCESS, RefundStatus.CHANGE, RefundStatus.REFUNDCLOSE})

BANK_NAMES = {
    "CMB": "招商银行",
    "ICBC": "工商银行",
    "ABC": "农业银行",
    "CCB": "建设银行",
    "BOC": "中国银行",
    "COMM": "交通银行",
    "SPDB": "浦发银行",
    "GDB": "广发银行",
    "CMBC": "民生银行",
    "PAB": "平安银行",
    "CEB": "光大银行",
    "CIB": "兴业银行",
    "CITIC": "中信银行",
    "PSBC": "邮储银行",
    "HXB": "华夏银行",
    "BOSH": "上海银行",
}


@dataclass(frozen=True, slots=True)
class RequestRefund:
    transaction_id: str
    out_trade_no: str
    out_refund_no: str
    total_fee: int
    refund_fee: int
    sign_type: SignType
    refund_fee_type: str = "CNY"
    refund_desc: str = ""
    refund_account: str = "REFUND_SOURCE_UNSETTLED_FUNDS"
    notify_url: str = ""


def _order(tx: RefundDesk, merchant: Merchant, cmd: RequestRefund) -> Order:
    if cmd.transaction_id:
        order = tx.order_by_transaction_id(merchant.id, cmd.transaction_id, lock=True)
        if order is None:
            raise Rejected(ErrCode.INVALID_TRANSACTIONID, "无效的transaction_id")
        return order
    order = tx.order_by_out_trade_no(merchant.id, cmd.out_trade_no, lock=True)
    if order is None:
        raise Rejected(ErrCode.ORDERNOTEXIST, "订单不存在")
    return order


def recv_account(tx: RefundDesk, order: Order) -> str:
    """Where the money goes back: the wallet, or the card as 招商银行信用卡0403."""
    if order.card_id is None or order.payer_id is None:
        return "支付用户零钱"
    card = next((c for c in tx.cards_of(order.payer_id) if c.id == order.card_id), None)
    if card is None:
        return "支付用户零钱"
    bank, _, kind = card.bank_type.partition("_")
    name = BANK_NAMES.get(bank, bank)
    return f"{name}{'信用卡' if kind == 'CREDIT' else '借记卡'}{card.last4}"


def request_refund(
    tx: RefundDesk,
    clock: Clock,
    ids: Ids,
    merchant: Merchant,
    cmd: RequestRefund,
    settle_after: timedelta,
) -> Refund:
    """Accept a refund, or return the earlier one with the same out_refund_no (idempotent)."""
    now = clock.now()
    order = _order(tx, merchant, cmd)  # locked: refunds of one order are serialised here
    earlier = tx.refund_by_out_refund_no(merchant.id, cmd.out_refund_no)
    if earlier is not None:
        if earlier.order_id != order.id:
            raise Rejected(ErrCode.INVALID_REQUEST, "商户退款单号已被使用")
        if earlier.refund_fee != cmd.refund_fee or cmd.total_fee != order.total_fee:
            raise Rejected(ErrCode.REFUND_FEE_MISMATCH)
        return earlier
    order = effective_state(order, now)
    if order.trade_state not in (TradeState.SUCCESS, TradeState.REFUND) or order.time_end is None:
        raise Rejected(ErrCode.ORDERNOTEXIST, "订单状态错误，未支付的订单不能发起退款")
    if cmd.total_fee != order.total_fee:
        raise Rejected(ErrCode.REFUND_FEE_MISMATCH)
    if cmd.refund_fee_type != order.fee_type:
        raise Rejected(ErrCode.PARAM_ERROR, "refund_fee_type与订单币种不一致")
    if now > order.time_end + REFUND_WINDOW:
        raise Rejected(ErrCode.TRADE_OVERDUE, "订单已经超过退款期限")
    earlier_refunds = tx.refunds_of(order.id)
    if len(earlier_refunds) >= MAX_REFUNDS_PER_ORDER:
        raise Rejected(ErrCode.ERROR, "退款次数超过限制，每个订单最多退款50次")
    live = [r for r in earlier_refunds if r.refund_status != RefundStatus.REFUNDCLOSE]
    refunded = sum(r.refund_fee for r in live)
    if refunded >= order.total_fee:
        raise Rejected(ErrCode.ERROR, "订单已全额退款")
    if refunded + cmd.refund_fee > order.total_fee:
        raise Rejected(ErrCode.INVALID_REQUEST, "refund_fee大于可退金额")

    fee_back = _fee_share(
        order, cmd.refund_fee, refunded, sum(r.fee_returned for r in live), merchant.fee_rate_ppm
    )
    debit = cmd.refund_fee - fee_back
    basic = ledger.merchant_account(merchant)
    if merchant.env == LIVE and tx.balance(basic, lock=True) < debit:
        raise Rejected(ErrCode.NOTENOUGH, "基本账户余额不足，请充值后重新发起")
    refund = tx.insert_refund(
        Refund(
            id=0,
            merchant_id=merchant.id,
            order_id=order.id,
            out_refund_no=cmd.out_refund_no,
            refund_id=ids.refund_id(now),
            refund_fee=cmd.refund_fee,
            fee_returned=fee_back,
            refund_fee_type=cmd.refund_fee_type,
            refund_desc=cmd.refund_desc,
            refund_account=cmd.refund_account,
            notify_url=cmd.notify_url or merchant.refund_notify_url,
            refund_status=RefundStatus.PROCESSING,
            refund_channel="ORIGINAL",
            recv_account=recv_account(tx, order),
            request_source="API",
            sign_type=cmd.sign_type,
            created_at=now,
            updated_at=now,
            settle_at=now + settle_after,
        )
    )
    if merchant.env == LIVE:
        tx.post(
            LedgerTxn(
                "refund",
                refund.refund_id,
                (
                    Posting(basic, -debit),
                    Posting(ledger.FEE_INCOME, -fee_back),
                    Posting(IN_TRANSIT, cmd.refund_fee),
                ),
                at=now,
            )
        )
    if order.trade_state is not TradeState.REFUND:
        tx.update_order(replace(order, trade_state=TradeState.REFUND, updated_at=now))
    return refund


def _fee_share(
    order: Order, refund_fee: int, refunded: int, fee_returned: int, rate_ppm: int
) -> int:
    """The fee given back with a refund: ``round_half_up(refund_fee × rate)`` (refunds spec
    §6.6), never more than the order's fee not yet given back; the refund that makes the order
    fully refunded takes what is left, so an order's fee comes back exactly once."""
    if refunded + refund_fee == order.total_fee:
        return order.fee - fee_returned
    return min(ledger.fee_of(refund_fee, rate_ppm), order.fee - fee_returned)


def finish(
    tx: RefundDesk,
    ids: Ids,
    refund: Refund,
    status: RefundStatus | str,
    now: datetime,
    *,
    settling: bool = False,
) -> Refund:
    """Move a PROCESSING refund to a final state, with its money and its notification.

    The order row is locked first and the refund read again under it, so two settlers (the
    dispatcher, a refundquery, the control plane) can never both pay one refund out.
    """
    status = RefundStatus(status)  # a control-plane caller passes the checked text
    order = tx.order_by_id(refund.order_id, lock=True)
    current = tx.refund_by_any_id(refund.refund_id)
    if order is None or current is None:
        raise Rejected(ErrCode.SYSTEMERROR)
    refund = current
    if settling and refund.refund_status != RefundStatus.PROCESSING:
        return refund  # another settler got there first
    if refund.refund_status != RefundStatus.PROCESSING:
        if refund.refund_status == RefundStatus.CHANGE and status == RefundStatus.SUCCESS:
            return _change_to_success(tx, ids, refund, order, now)
        raise Rejected(ErrCode.PARAM_ERROR, f"refund is already {refund.refund_status}")
    merchant = tx.merchant_by_id(refund.merchant_id)
    done = replace(
        refund,
        refund_status=status,
        updated_at=now,
        success_time=now if status == RefundStatus.SUCCESS else None,
        recv_account="商户基本账户" if status == RefundStatus.CHANGE else refund.recv_account,
    )
    tx.update_refund(done)
    if merchant.env == LIVE:
        tx.post(_settlement(done, order, merchant, now))
    if done.notify_url:
        tx.enqueue_notification(
            "refund",
            merchant.id,
            order.id,
            done.notify_url,
            refund_fields(done, order, ids.nonce_hex()),
            done.sign_type,
            now,
        )
    return done


def _settlement(refund: Refund, order: Order, merchant: Merchant, now: datetime) -> LedgerTxn:
    if refund.refund_status == RefundStatus.SUCCESS:
        return LedgerTxn(
            "refund_success",
            refund.refund_id,
            (
                Posting(IN_TRANSIT, -refund.refund_fee),
                Posting(_payer_account(order), refund.refund_fee),
            ),
            at=now,
        )
    return LedgerTxn(
        "refund_returned",
        refund.refund_id,
        (
            Posting(IN_TRANSIT, -refund.refund_fee),
            Posting(ledger.merchant_account(merchant), refund.refund_fee - refund.fee_returned),
            Posting(ledger.FEE_INCOME, refund.fee_returned),
        ),
        at=now,
    )


def _payer_account(order: Order) -> str:
    if order.payer_id is None:
        raise ValueError("a paid order has a payer")
    if order.bank_type in ("OTHERS", "CFT", ""):
        return ledger.wallet(order.payer_id)
    return f"external:bank:{order.bank_type}"


def _change_to_success(
    tx: RefundDesk, ids: Ids, refund: Refund, order: Order, now: datetime
) -> Refund:
    """A CHANGE refund handled by hand in the merchant platform: paid out after all."""
    merchant = tx.merchant_by_id(refund.merchant_id)
    done = replace(
        refund,
        refund_status=RefundStatus.SUCCESS,
        success_time=now,
        updated_at=now,
        recv_account=recv_account(tx, order),
    )
    tx.update_refund(done)
    if merchant.env == LIVE:
        tx.post(
            LedgerTxn(
                "refund_manual",
                refund.refund_id,
                (
                    Posting(
                        ledger.merchant_account(merchant),
                        -(refund.refund_fee - refund.fee_returned),
                    ),
                    Posting(ledger.FEE_INCOME, -refund.fee_returned),
                    Posting(_payer_account(order), refund.refund_fee),
                ),
                at=now,
            )
        )
    if done.notify_url:
        tx.enqueue_notification(
            "refund",
            merchant.id,
            order.id,
            done.notify_url,
            refund_fields(done, order, ids.nonce_hex()),
            done.sign_type,
            now,
        )
    return done


def settle_due(tx: RefundDesk, clock: Clock, ids: Ids, limit: int = 100) -> int:
    """Refunds whose settling delay has passed become SUCCESS; returns how many."""
    now = clock.now()
    due = tx.due_refunds(now, limit)
    for refund in due:
        finish(tx, ids, refund, RefundStatus.SUCCESS, refund.settle_at or now, settling=True)
    return len(due)


def settle_order(tx: RefundDesk, clock: Clock, ids: Ids, order_id: int) -> None:
    """Settle the due refunds of one order (refundquery reads them as they are now)."""
    now = clock.now()
    for refund in tx.refunds_of(order_id):
        if (
            refund.refund_status == RefundStatus.PROCESSING
            and refund.settle_at
            and refund.settle_at <= now
        ):
            finish(tx, ids, refund, RefundStatus.SUCCESS, refund.settle_at, settling=True)


@dataclass(frozen=True, slots=True)
class RefundPage:
    order: Order
    refunds: list[Refund]
    total_count: int
    all_refunds: list[Refund]


PAGE_SIZE = 10


def query_refunds(
    tx: RefundDesk,
    clock: Clock,
    ids: Ids,
    merchant: Merchant,
    *,
    refund_id: str = "",
    out_refund_no: str = "",
    transaction_id: str = "",
    out_trade_no: str = "",
    offset: int | None = None,
) -> RefundPage:
    """refundquery: one refund (by its ids) or a page of an order's refunds."""
    single: Refund | None = None
    if refund_id or out_refund_no:
        single = (
            tx.refund_by_refund_id(merchant.id, refund_id)
            if refund_id
            else tx.refund_by_out_refund_no(merchant.id, out_refund_no)
        )
        if single is None:
            raise Rejected(ErrCode.REFUNDNOTEXIST)
        order = tx.order_by_id(single.order_id, lock=True)
    elif transaction_id:
        order = tx.order_by_transaction_id(merchant.id, transaction_id, lock=True)
    else:
        order = tx.order_by_out_trade_no(merchant.id, out_trade_no, lock=True)
    if order is None:
        raise Rejected(ErrCode.REFUNDNOTEXIST)
    settle_order(tx, clock, ids, order.id)
    refunds = tx.refunds_of(order.id)
    if not refunds:
        raise Rejected(ErrCode.REFUNDNOTEXIST)
    if single is not None:
        chosen = [r for r in refunds if r.id == single.id]
        return RefundPage(order, chosen, len(refunds), refunds)
    start = offset or 0
    if start > len(refunds):  # refunds spec §3.2: greater than total_refund_count
        raise Rejected(ErrCode.PARAM_ERROR, "offset大于退款笔数")
    # offset == total_refund_count is not greater: an empty page (refund_count=0).
    return RefundPage(order, refunds[start : start + PAGE_SIZE], len(refunds), refunds)
