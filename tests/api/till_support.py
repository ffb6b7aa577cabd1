"""A merchant's till for the fault and payer-outcome tests: a shop with a funded payer, and one
micropay with a fresh payment code."""

from __future__ import annotations

from wxpay_local.sdk import Client
from wxpay_local.testing import Harness, MerchantInfo


def shop(h: Harness) -> tuple[MerchantInfo, Client, int]:
    merchant = h.merchant()
    payer = h.payer(balance=10_000)["payer_id"]
    return merchant, h.client(merchant), payer


def micropay(h: Harness, client: Client, payer: int, out_trade_no: str) -> dict[str, str]:
    code = h.control("POST", f"/_local/payers/{payer}/codes")["auth_code"]
    return client.call(
        "/pay/micropay",
        body="Test shop-Coffee",
        out_trade_no=out_trade_no,
        total_fee=1800,
        spbill_create_ip="203.0.113.10",
        auth_code=code,
    )
