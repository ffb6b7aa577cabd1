"""Issue 16 for the refund endpoints and the bills: literals of refunds spec §2–§3, §6.6, §7.2,
with requests built and answers checked by the reference signer.
"""

from __future__ import annotations

from typing import Any

import pytest
from bill_support import DAY, bill, fund_flow, parse, plain, set_clock

from reference_wire import from_xml, signed, to_xml, v2_sign
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


# 5. syntactic errors of refund and refundquery: the protocol layer (spec §1.4 (a)) -----------
#: Protocol §1.4's observed texts: 缺少参数 and the pattern <field>参数格式错误. Evidence that
#: refunds answer them at the protocol layer: docs/behaviour.md "Refund parameter errors".
REFUND_BASE = {"out_trade_no": "SX-1", "out_refund_no": "SX-R1", "total_fee": 100}


@pytest.mark.parametrize(
    ("path", "fields", "return_msg"),
    [
        (
            "/secapi/pay/refund",
            {"out_refund_no": "SX-R1", "total_fee": 100, "refund_fee": 1},
            "缺少参数",
        ),
        ("/secapi/pay/refund", REFUND_BASE | {"refund_fee": 0}, "refund_fee参数格式错误"),
        (
            "/secapi/pay/refund",
            REFUND_BASE | {"refund_fee": 1, "refund_fee_type": "USD"},
            "refund_fee_type参数格式错误",
        ),
        (
            "/secapi/pay/refund",
            REFUND_BASE | {"refund_fee": 1, "refund_account": "BALANCE"},
            "refund_account参数格式错误",
        ),
        ("/pay/refundquery", {"offset": 0}, "缺少参数"),
        ("/pay/refundquery", {"out_trade_no": "SX-1", "offset": "-1"}, "offset参数格式错误"),
        ("/pay/refundquery", {"out_trade_no": "SX-1", "offset": "x"}, "offset参数格式错误"),
    ],
)
def test_refund_syntax_errors_are_protocol_failures(
    relaxed: Harness, path: str, fields: dict[str, object], return_msg: str
) -> None:
    merchant = relaxed.merchant()
    answer = send(relaxed, path, merchant, fields)
    assert answer == {"return_code": "FAIL", "return_msg": return_msg}


# 6. refundquery offset: PARAM_ERROR only when greater than the refund count (spec §3.2) -----
def test_refundquery_offset_equal_to_the_count_is_an_empty_page(relaxed: Harness) -> None:
    merchant = relaxed.merchant()
    paid_micropay(relaxed, merchant, "OFF-1", 300)
    for n in (1, 2):
        refund = {"out_trade_no": "OFF-1", "out_refund_no": f"OFF-R{n}", "total_fee": 300}
        assert (
            send(relaxed, "/secapi/pay/refund", merchant, refund | {"refund_fee": 100})[
                "result_code"
            ]
            == "SUCCESS"
        )
    at_end = send(relaxed, "/pay/refundquery", merchant, {"out_trade_no": "OFF-1", "offset": 2})
    assert at_end["sign"] == v2_sign(at_end, merchant.api_key)
    assert at_end["result_code"] == "SUCCESS", at_end
    assert (at_end["total_refund_count"], at_end["refund_count"]) == ("2", "0")
    assert "out_refund_no_0" not in at_end
    past = send(relaxed, "/pay/refundquery", merchant, {"out_trade_no": "OFF-1", "offset": 3})
    assert past["sign"] == v2_sign(past, merchant.api_key)
    assert (past["err_code"], past["err_code_des"]) == ("PARAM_ERROR", "offset大于退款笔数")


# 7. reverse of an unknown order: INVALID_TRANSACTIONID, reverse's own code (spec §4.5) -------
def test_reverse_of_an_unknown_order_is_invalid_transactionid(relaxed: Harness) -> None:
    merchant = relaxed.merchant()
    for fields in ({"out_trade_no": "NO-SUCH"}, {"transaction_id": "4200000000" + "9" * 18}):
        answer = send(relaxed, "/secapi/pay/reverse", merchant, fields)
        assert answer["sign"] == v2_sign(answer, merchant.api_key)
        assert (answer["result_code"], answer["err_code"], answer["recall"]) == (
            "FAIL",
            "INVALID_TRANSACTIONID",
            "N",
        ), fields


# 9. orderquery of a REVOKED order: identification and state only (spec §4.3) ----------------
def test_orderquery_of_a_reversed_paid_order_has_no_paid_fields(relaxed: Harness) -> None:
    merchant = relaxed.merchant()
    paid_micropay(relaxed, merchant, "REV-1", 500)
    relaxed.advance(15)
    reversed_ = send(relaxed, "/secapi/pay/reverse", merchant, {"out_trade_no": "REV-1"})
    assert reversed_["result_code"] == "SUCCESS", reversed_
    answer = send(relaxed, "/pay/orderquery", merchant, {"out_trade_no": "REV-1"})
    assert answer["sign"] == v2_sign(answer, merchant.api_key)
    assert set(answer) == {
        "return_code",
        "return_msg",
        "appid",
        "mch_id",
        "nonce_str",
        "sign",
        "result_code",
        "out_trade_no",
        "trade_state",
        "trade_state_desc",
        "total_fee",
    }
    assert (answer["trade_state"], answer["trade_state_desc"]) == ("REVOKED", "订单已撤销")
