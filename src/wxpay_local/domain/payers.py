"""The payer's own view: payment history, wallet movements, and the payment-password setting.

History is read a page at a time in (time, id) order, newest first, from a keyset cursor, so a
payer with thousands of payments costs the same per page as one with ten.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from wxpay_local import secure
from wxpay_local.domain.model import Order, Refund

if TYPE_CHECKING:
    from wxpay_local.domain.ports import Payers

#: A position in the payment history: (time_end, order id) of the last line shown.
PaymentKey = tuple[datetime, int]
HISTORY_PAGE = 20
MOVEMENTS_PAGE = 20


@dataclass(frozen=True, slots=True)
class PaymentLine:
    """One payment the payer made (paid at ``order.time_end``) and what was refunded of it."""

    order: Order
    merchant_name: str
    refunds: tuple[Refund, ...] = ()

    @property
    def key(self) -> PaymentKey:
        if self.order.time_end is None:  # the store only lists paid orders
            raise ValueError("an unpaid order has no place in the history")
        return self.order.time_end, self.order.id


@dataclass(frozen=True, slots=True)
class WalletMovement:
    """One posting on the payer's wallet account (top-up, payment, refund, reversal)."""

    posting_id: int
    kind: str
    ref: str
    at: datetime
    amount: int
    balance_after: int


@dataclass(frozen=True, slots=True)
class HistoryPage:
    lines: tuple[PaymentLine, ...]
    #: Where the next (older) page starts; None on the last page.
    next_key: PaymentKey | None


def history(
    tx: Payers, payer_id: int, before: PaymentKey | None, limit: int = HISTORY_PAGE
) -> HistoryPage:
    """One page of the payer's payments, newest first, each with its refunds.

    One row more than the page is read to know whether an older page exists; the refunds of
    the page come in one query over the refunds' order index.
    """
    found = tx.payer_payments(payer_id, before, limit + 1)
    page, more = found[:limit], len(found) > limit
    refunds: dict[int, list[Refund]] = {}
    for refund in tx.refunds_of_orders([line.order.id for line in page]):
        refunds.setdefault(refund.order_id, []).append(refund)
    lines = tuple(
        PaymentLine(line.order, line.merchant_name, tuple(refunds.get(line.order.id, ())))
        for line in page
    )
    return HistoryPage(lines, lines[-1].key if more and lines else None)


class PasswordChange(StrEnum):
    CHANGED = "CHANGED"
    WRONG_PASSWORD = "WRONG_PASSWORD"
    NOT_SIX_DIGITS = "NOT_SIX_DIGITS"
    MISMATCH = "MISMATCH"
    UNCHANGED = "UNCHANGED"
    NO_SUCH_PAYER = "NO_SUCH_PAYER"

    @property
    def message(self) -> str:
        return _MESSAGES[self]


_MESSAGES = {
    PasswordChange.CHANGED: "支付密码已修改",
    PasswordChange.WRONG_PASSWORD: "原支付密码错误",
    PasswordChange.NOT_SIX_DIGITS: "支付密码为6位数字",
    PasswordChange.MISMATCH: "两次输入的新密码不一致",
    PasswordChange.UNCHANGED: "新密码不能与原密码相同",
    PasswordChange.NO_SUCH_PAYER: "用户不存在",
}


def change_password(tx: Payers, payer_id: int, old: str, new: str, repeat: str) -> PasswordChange:
    """Replace the payment password when the old one is right and the new one well formed.

    The old password is checked first (in constant time), so a wrong guess learns nothing
    about the rules the new one breaks.
    """
    payer = tx.payer(payer_id)
    if payer is None:
        return PasswordChange.NO_SUCH_PAYER
    if not secure.equal(old, payer.pay_password):
        return PasswordChange.WRONG_PASSWORD
    if not (len(new) == 6 and new.isascii() and new.isdigit()):
        return PasswordChange.NOT_SIX_DIGITS
    if not secure.equal(new, repeat):
        return PasswordChange.MISMATCH
    if new == old:
        return PasswordChange.UNCHANGED
    tx.set_pay_password(payer_id, new)
    return PasswordChange.CHANGED
