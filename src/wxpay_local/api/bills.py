"""Handlers for downloadbill and downloadfundflow, and the bill preparation the control plane
shares with them (refunds spec §6, §7; docs/behaviour.md "Bills").

Preparing a bill checks the request and the day inside the request's transaction and returns
a ``Download`` whose chunks are read afterwards (``api.bill_files``).
"""

from __future__ import annotations

import hashlib
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from wxpay_local.api.bill_files import Reads, file_answer, fund_text, trade_text
from wxpay_local.api.context import Call, Download, Platform
from wxpay_local.codes import Fault, SignType
from wxpay_local.domain import ledger
from wxpay_local.domain.bills import (
    BILL_TYPES,
    OLDEST_DAYS,
    PAYMENT,
    REFUND,
    REVOKED,
    DayQuery,
    TradeLine,
    availability,
    day_range,
    kinds_of,
    parse_day,
    rate_text,
)
from wxpay_local.domain.fundflow import ACCOUNT_TYPES, FundTotals
from wxpay_local.domain.model import LIVE, Merchant
from wxpay_local.domain.ports import Store
from wxpay_local.timefmt import SHANGHAI


@dataclass(frozen=True, slots=True)
class BillFile:
    """A prepared bill: the answer to stream, and how many detail rows it holds (or None)."""

    download: Download
    rows: int | None = None


def _bad(message: str, detail: str, code: str = "20001") -> Fault:
    return Fault(message, detail=detail, error_code=code)


def _store(platform: Platform) -> Store:
    if platform.store is None:
        raise RuntimeError("bills stream from the store: Platform.store is not set")
    return platform.store


def _ready(day: date, platform: Platform, now: datetime) -> str:
    return availability(
        day,
        now,
        generation_hour=platform.bill_generation_hour,
        immediate=platform.bills_available_immediately,
    )


def _why_not(day: date, now: datetime) -> str:
    today = now.astimezone(SHANGHAI).date()
    if day > today:
        return f"{day} is in the future (platform time {now})"
    if day == today:
        return (
            f"{day} is today (platform time {now}): a day's bill exists from the next morning "
            "(serve --bills-available-immediately serves it at once)"
        )
    return f"{day} is more than {OLDEST_DAYS} days before {today}: bills are kept three months"


def _first(tx: Reads, q: DayQuery, kind: str) -> list[TradeLine]:
    fetch = {PAYMENT: tx.bill_payments, REFUND: tx.bill_refunds, REVOKED: tx.bill_reversals}[kind]
    return fetch(q, None, 1)


def trade_bill(
    tx: Reads,
    platform: Platform,
    merchant: Merchant,
    bill_date: str,
    bill_type: str = "ALL",
    tar_type: str = "",
    device_info: str = "",
    *,
    count: bool = False,
) -> BillFile:
    """The trade bill of a day, or the ``Fault`` the platform answers instead (§6.8)."""
    day = parse_day(bill_date)
    if day is None:
        raise _bad("invalid bill_date", f"bill_date {bill_date!r} is not a yyyyMMdd date")
    if bill_type not in BILL_TYPES:
        raise _bad("invalid bill_type", f"bill_type {bill_type!r} is not one of {BILL_TYPES}")
    if tar_type not in ("", "GZIP"):
        raise _bad("invalid tar_type, Only GZIP supported", f"tar_type {tar_type!r}")
    now = platform.clock.now()
    ready = _ready(day, platform, now)
    if ready == "invalid":
        raise _bad("invalid bill_date", _why_not(day, now))
    if ready == "creating":
        raise _bad(
            "Bill Creating",
            f"the bill of {day} is generated at {platform.bill_generation_hour:02d}:00 on "
            f"{day + timedelta(days=1)} (platform time {now}); try again later",
            "20002",
        )
    start, end = day_range(day)
    upto_order, upto_refund, _ = tx.bill_bounds()
    q = DayQuery(
        merchant.id,
        start,
        end,
        upto_order,
        upto_refund,
        as_of=now,
        device_info=device_info,
        recharge=bill_type == "RECHARGE_REFUND",
    )
    kinds = kinds_of(bill_type)
    if not any(_first(tx, q, kind) for kind in kinds):
        raise _bad(
            "No Bill Exist",
            f"merchant {merchant.mch_id} has no {bill_type} rows on {day} (payments count on "
            "the day they were paid, refunds on the day they were asked for)",
            "20002",
        )
    rows = tx.bill_count(q, kinds) if count else None
    store = _store(platform)
    texts = trade_text(
        lambda: store.begin(write=False),
        q,
        bill_type,
        merchant.mch_id,
        rate_text(merchant.fee_rate_ppm),
    )
    return BillFile(file_answer(texts, tar_type == "GZIP"), rows)


def downloadbill(call: Call) -> Download:
    bill = trade_bill(
        call.tx,
        call.platform,
        call.merchant,
        call.text("bill_date"),
        call.text("bill_type") or "ALL",
        call.text("tar_type"),
        call.text("device_info"),
    )
    return bill.download


# the fund flow --------------------------------------------------------------------------------
class FundFlowRefused(Exception):
    """A business failure of downloadfundflow (§7.4): result_code=FAIL, unsigned."""

    def __init__(self, err_code: str, err_code_des: str) -> None:
        super().__init__(f"{err_code}: {err_code_des}")
        self.err_code, self.err_code_des = err_code, err_code_des

    @property
    def body(self) -> bytes:
        """Laid out as the real captures are: one element per line, no sign."""
        return (
            "<xml><return_code><![CDATA[SUCCESS]]></return_code>\n"
            "<return_msg><![CDATA[OK]]></return_msg>\n"
            "<result_code><![CDATA[FAIL]]></result_code>\n"
            f"<err_code><![CDATA[{self.err_code}]]></err_code>\n"
            f"<err_code_des><![CDATA[{self.err_code_des}]]></err_code_des>\n"
            "</xml>"
        ).encode()


NO_BILL_EXIST_DES = "流水账单不存在"
BILL_CREATING_DES = "账单生成中，请于10点后再下载"


def fund_flow(
    tx: Reads,
    platform: Platform,
    merchant: Merchant,
    bill_date: str,
    account_type: str = "",
    tar_type: str = "",
) -> BillFile:
    """One account's fund flow of a day, with its ``Digest`` header; or ``FundFlowRefused``.

    The Digest (SHA-1 of the uncompressed file) must be sent before the file, so the file is
    produced twice: once here, hashed and thrown away chunk by chunk, then again as it is sent
    (same rows: the ledger transactions up to the last one seen here).
    """
    day = parse_day(bill_date)
    if day is None:
        raise FundFlowRefused("PARAM_ERROR", "bill_date参数错误，格式为yyyyMMdd")
    suffix = ACCOUNT_TYPES.get((account_type or "Basic").lower())
    if suffix is None:
        raise FundFlowRefused("PARAM_ERROR", "account_type参数错误，取值Basic、Operation或Fees")
    if tar_type not in ("", "GZIP"):
        raise FundFlowRefused("PARAM_ERROR", "tar_type参数错误，仅支持GZIP")
    now = platform.clock.now()
    ready = _ready(day, platform, now)
    if ready == "invalid":
        raise FundFlowRefused("PARAM_ERROR", "bill_date参数错误，只能下载近三个月内当日以前的账单")
    if ready == "creating":
        raise FundFlowRefused("BILL_CREATING", BILL_CREATING_DES)
    account = ledger.merchant_account(merchant, suffix)
    span = day_range(day)
    upto_txn = tx.bill_bounds()[2]
    totals = FundTotals()
    digest = hashlib.sha1()  # noqa: S324 - the platform's Digest is SHA-1
    here = nullcontext(tx)
    for text in fund_text(lambda: here, account, span, upto_txn, merchant.mch_id, totals):
        digest.update(text.encode())
    if totals.count == 0:
        raise FundFlowRefused("NO_BILL_EXIST", NO_BILL_EXIST_DES)
    store = _store(platform)
    texts = fund_text(lambda: store.begin(write=False), account, span, upto_txn, merchant.mch_id)
    headers = (("Digest", f"SHA={digest.hexdigest()}"),)
    return BillFile(file_answer(texts, tar_type == "GZIP", headers), totals.count)


def refusal_answer(refused: FundFlowRefused) -> Download:
    return Download(iter([refused.body]), "text/xml; charset=utf-8")


def downloadfundflow(call: Call) -> Download:
    if call.merchant.env == LIVE and call.sign_type is not SignType.HMAC_SHA256:
        # The sandbox signs with MD5 only, so only production insists.
        raise Fault(
            "Param Error",
            detail="downloadfundflow accepts HMAC-SHA256 only: send sign_type=HMAC-SHA256 "
            f"and sign with it (this request: {call.sign_type})",
        )
    try:
        bill = fund_flow(
            call.tx,
            call.platform,
            call.merchant,
            call.text("bill_date"),
            call.text("account_type"),
            call.text("tar_type"),
        )
    except FundFlowRefused as refused:
        return refusal_answer(refused)
    return bill.download
