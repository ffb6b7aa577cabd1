"""Issue 16 for the refund endpoints and the bills: literals of refunds spec §2–§3, §6.6, §7.2,
with requests built and answers checked by the reference signer.
"""

from __future__ import annotations

from typing import Any

import pytest
from bill_support import DAY, bill, fund_flow, parse, plain, set_clock
from reference_wire import from_xml, signed, to_xml

from wxpay_local.codes import SignType
from wxpay_local.testing import Harness, MerchantInfo

PLATFORMS = pytest.mark.parametrize(
    ("relaxed", "store"),
    [
        pytest.param("inproc", "sqlite", id="inproc-sqlite"),
        pytest.param("live", "sqlite", id="live-sqlite"),
        pytest.param("live", "postgres", id="live-postgres", marks=pytest.mark.postgres),
    ],
    indirect=True,
)
pytestmark = [pytest.mark.api, PLATFORMS]


def send(h: Harness, path: str, merchant: MerchantInfo, fields: dict[str, object]) -> Any:
    request = {
        "appid": merchant.apps["official_account"],
        "mch_id": merchant.mch_id,
        "nonce_str": "a81c0f9e5d3b47e2b6c1d0f4e7a92358",
        **fields,
    }
    response = h.http.post(path, content=to_xml(signed(request, merchant.api_key)))
    assert response.status_code == 200
    return from_xml(response.content)


def paid_micropay(h: Harness, merchant: MerchantInfo, out_trade_no: str, total_fee: int) -> None:
    payer = h.payer(balance=100_000)
    code = h.control("POST", f"/_local/payers/{payer['payer_id']}/codes")["auth_code"]
    answer = send(
        h,
        "/pay/micropay",
        merchant,
        {
            "body": "Coffee",
            "out_trade_no": out_trade_no,
            "total_fee": total_fee,
            "spbill_create_ip": "203.0.113.10",
            "auth_code": code,
        },
    )
    assert answer["result_code"] == "SUCCESS", answer


# 8. the fee given back with a refund: −round_half_up(refund_fen × rate) ---------------------
def test_refund_rows_give_back_the_spec_fee_of_the_refunded_amount(relaxed: Harness) -> None:
    set_clock(relaxed, "2024-05-01T12:00:00+08:00")
    merchant = relaxed.merchant()  # rate 0.60 %
    paid_micropay(relaxed, merchant, "FEE-888", 888)
    refund = {"out_trade_no": "FEE-888", "out_refund_no": "FEE-R88", "total_fee": 888}
    answer = send(relaxed, "/secapi/pay/refund", merchant, refund | {"refund_fee": 88})
    assert answer["result_code"] == "SUCCESS", answer
    set_clock(relaxed, "2024-05-02T10:00:00+08:00")
    client = relaxed.client(merchant)

    refunds = parse(plain(bill(relaxed, client, bill_date=DAY, bill_type="REFUND")))
    (row,) = refunds.rows
    # Issue 16's example, by the spec's rule: 0.88 × 0.60 % = 0.00528 → 0.01 given back.
    assert (row["退款金额"], row["手续费"]) == ("0.88", "-0.01000")
    payments = parse(plain(bill(relaxed, client, bill_date=DAY, bill_type="SUCCESS")))
    assert payments.rows[0]["手续费"] == "0.05000"  # 8.88 × 0.60 % = 0.05328

    hmac = relaxed.client(merchant, sign_type=SignType.HMAC_SHA256)
    flow = parse(plain(fund_flow(relaxed, hmac, bill_date=DAY, account_type="Basic")))
    (out,) = [r for r in flow.rows if r["业务凭证号"] == "FEE-R88"]
    assert (out["收支类型"], out["收支金额(元)"]) == ("支出", "0.87")
    assert out["备注"] == "退款总金额0.88元;含手续费0.01元"
