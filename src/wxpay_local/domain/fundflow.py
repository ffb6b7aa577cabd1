"""Fund-flow bills (refunds spec §7): a merchant account's movements of a day, as text.

Pure, like ``domain.bills`` whose formatting it shares.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import NamedTuple, Protocol

from wxpay_local.domain.bills import BOM, Key, clean, row, when, yuan

FUND_HEADER = "记账时间,微信支付业务单号,资金流水单号,业务名称,业务类型,收支类型,收支金额(元),账户结余(元),资金变更提交申请人,备注,业务凭证号"  # noqa: E501
FUND_SUMMARY_HEADER = "资金流水总笔数,收入笔数,收入金额,支出笔数,支出金额"
#: account_type (case-insensitive on input) -> the merchant ledger account's suffix.
ACCOUNT_TYPES = {"basic": "basic", "operation": "operation", "fees": "fees"}


class FundLine(NamedTuple):
    """One posting on a merchant account, with what the bill says about its ledger entry."""

    at: datetime  # 记账时间
    txn_id: int
    kind: str  # the ledger transaction's kind: payment, refund, reversal, refund_returned, …
    ref: str
    amount: int  # the posting, fen: positive credits the account
    balance_after: int
    transaction_id: str = ""
    out_trade_no: str = ""
    total_fee: int = 0
    fee: int = 0
    refund_id: str = ""
    out_refund_no: str = ""
    refund_fee: int = 0
    fee_returned: int = 0


class FundReads(Protocol):
    """The postings of one account in a day, in (booking time, ledger entry) order."""

    def fund_lines(
        self,
        account: str,
        day: tuple[datetime, datetime],
        upto_txn: int,
        after: Key | None,
        limit: int,
    ) -> list[FundLine]: ...


class FundTotals:
    """The fund-flow summary (§7.2): entries, incomes and expenses."""

    __slots__ = ("count", "income_count", "income", "expense_count", "expense")

    def __init__(self) -> None:
        self.count = self.income_count = self.income = self.expense_count = self.expense = 0

    def add(self, line: FundLine) -> None:
        self.count += 1
        if line.amount >= 0:
            self.income_count += 1
            self.income += line.amount
        else:
            self.expense_count += 1
            self.expense -= line.amount

    def line(self) -> str:
        return (
            FUND_SUMMARY_HEADER
            + "\n"
            + row(
                [
                    str(self.count),
                    str(self.income_count),
                    yuan(self.income),
                    str(self.expense_count),
                    yuan(self.expense),
                ]
            )
        )


def fund_row(line: FundLine, mch_id: str) -> str:
    """One fund-flow row: 业务名称/业务类型, who asked for it, the remark and the voucher."""
    kind = line.kind
    if kind == "payment":
        names, who = "交易,`交易", "system"
        remark = f"结算总金额 {yuan(line.total_fee)} 元;含手续费 {yuan(line.fee)} 元"
        business_id, voucher = line.transaction_id, line.out_trade_no
    elif kind == "reversal":
        names, who = "退款,`撤销", f"{mch_id}API"
        remark = f"退款总金额{yuan(line.total_fee)}元;含手续费{yuan(line.fee)}元"
        business_id, voucher = line.transaction_id, line.out_trade_no
    elif kind in ("refund", "refund_manual", "refund_returned"):
        amounts = f"{yuan(line.refund_fee)}元;含手续费{yuan(line.fee_returned)}元"
        if kind == "refund_returned":
            names, who, remark = "退款,`退款退回", "system", f"退款退回总金额{amounts}"
        else:
            who = f"{mch_id}API" if kind == "refund" else "system"
            names, remark = "退款,`退款", f"退款总金额{amounts}"
        business_id, voucher = line.refund_id, line.out_refund_no
    else:
        names, who, remark = f"其他,`{clean(kind)}", "system", ""
        business_id, voucher = line.ref, ""
    flow_id = line.transaction_id or f"{line.txn_id:028d}"
    amount = line.amount
    direction = "收入" if amount >= 0 else "支出"
    return (
        f"`{when(line.at)},`{business_id},`{flow_id},`{names},`{direction},"
        f"`{yuan(abs(amount))},`{yuan(line.balance_after)},`{who},`{remark},`{voucher}\n"
    )


def fund_file(
    lines: Iterable[FundLine],
    mch_id: str,
    totals: FundTotals | None = None,
    *,
    chunk_rows: int = 2000,
    bom: bool = True,
) -> Iterator[str]:
    """The fund flow (§7.2) in chunks of text; ``totals`` is filled in as the rows go by."""
    totals = totals if totals is not None else FundTotals()
    out = [(BOM if bom else "") + FUND_HEADER + "\n"]
    for line in lines:
        out.append(fund_row(line, mch_id))
        totals.add(line)
        if len(out) >= chunk_rows:
            yield "".join(out)
            out = []
    out.append(totals.line())
    yield "".join(out)
