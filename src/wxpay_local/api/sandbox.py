"""The sandbox key handler (spec §1.6)."""

from __future__ import annotations

from collections.abc import Mapping

from wxpay_local.api.context import Call
from wxpay_local.domain.model import SANDBOX


def getsignkey(call: Call) -> Mapping[str, str | int]:
    """Issue (once) the sandbox tenant's signing key; the sandbox has its own orders."""
    tx, merchant = call.tx, call.merchant
    sandbox = tx.merchant(merchant.mch_id, SANDBOX)
    if sandbox is None:
        sandbox = tx.insert_merchant(
            merchant.mch_id,
            SANDBOX,
            merchant.name + " (sandbox)",
            call.platform.ids.api_key(),
            merchant.fee_rate_ppm,
            merchant.console_password,
        )
    return {"mch_id": merchant.mch_id, "sandbox_signkey": sandbox.api_key}
