"""The double-entry ledger: account names, fees, and the postings of each money movement.

Every movement is one ``LedgerTxn`` whose postings sum to zero, so the sum over all accounts is
constant (zero). Money that enters from outside the platform (bank cards, wallet top-ups) comes
from ``external:*`` accounts, which are the only ones allowed below zero.
"""

from __future__ import annotations

from datetime import datetime

from wxpay_local.domain.model import Card, LedgerTxn, Merchant, Posting

FEE_INCOME = "platform:fee_income"
TOPUP_SOURCE = "external:topup"
DEFAULT_FEE_RATE_PPM = 6000  # 0.6%


def wallet(payer_id: int) -> str:
    return f"payer:{payer_id}:wallet"


def bank(card: Card) -> str:
    """A card's issuing bank, outside the platform: it funds card payments and takes refunds."""
    return f"external:bank:{card.bank_type}"


def merchant_account(merchant: Merchant, kind: str = "basic") -> str:
    tenant = merchant.mch_id if merchant.env == "live" else f"{merchant.mch_id}@{merchant.env}"
    return f"merchant:{tenant}:{kind}"


def fee_of(amount: int, rate_ppm: int) -> int:
    """The platform fee in fen: amount × rate, rounded half up to the fen (as WeChat bills show).

    Integer arithmetic only: ``(amount × ppm + 500000) // 1000000``.
    """
    return (amount * rate_ppm + 500_000) // 1_000_000


def payment(
    ref: str, source: str, merchant: Merchant, amount: int, fee: int, at: datetime
) -> LedgerTxn:
    """Payer funds → the merchant's basic account, net of the fee → the platform's fee income."""
    return LedgerTxn(
        kind="payment",
        ref=ref,
        postings=(
            Posting(source, -amount),
            Posting(merchant_account(merchant), amount - fee),
            Posting(FEE_INCOME, fee),
        ),
        at=at,
    )


def topup(ref: str, payer_id: int, amount: int, at: datetime) -> LedgerTxn:
    return LedgerTxn(
        kind="topup",
        ref=ref,
        postings=(Posting(TOPUP_SOURCE, -amount), Posting(wallet(payer_id), amount)),
        at=at,
    )


def is_balanced(txn: LedgerTxn) -> bool:
    return sum(p.amount for p in txn.postings) == 0


def reversal(
    ref: str, source: str, merchant: Merchant, amount: int, fee: int, at: datetime
) -> LedgerTxn:
    """A payment undone in full: the payer gets everything back, the fee included."""
    return LedgerTxn(
        kind="reversal",
        ref=ref,
        postings=(
            Posting(merchant_account(merchant), -(amount - fee)),
            Posting(FEE_INCOME, -fee),
            Posting(source, amount),
        ),
        at=at,
    )
