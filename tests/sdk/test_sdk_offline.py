"""wxpay_sdk without a network: signatures, payer-side parameters, notifications, bills and
the core's reading of answers, against the spec's own worked examples (literals)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from spec_vectors import BILL_ALL, PAYMENT_NOTIFICATION, REFUND_KEY, REQ_INFO

from reference_wire import signed, to_xml, v2_sign
from wxpay_sdk import ResultError, ReturnError, SignatureError, bills, notify, params, wire
from wxpay_sdk.core import ENDPOINTS, Config, interpret, interpret_file, prepare

pytestmark = pytest.mark.unit

KEY = "Wh7Qx2LmP9sT4vB8nK3dR6yF1gJ5zC0a"  # spec §3.3
REQUEST = {
    "appid": "wx8888888888888888",
    "mch_id": "1900000109",
    "nonce_str": "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
    "body": "测试商城-会员充值",
    "out_trade_no": "ORDER20240101120000",
    "total_fee": "1",
    "spbill_create_ip": "203.0.113.10",
    "notify_url": "https://merchant.example.com/wxpay/notify",
    "trade_type": "JSAPI",
    "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
    "device_info": "",
}


def test_sign_matches_the_spec_worked_example() -> None:
    assert wire.sign(REQUEST, KEY) == "781503FB03A2F9A1CEFCE1602D4E79B9"
    hmac_fields = {**REQUEST, "sign_type": "HMAC-SHA256"}
    assert wire.sign(hmac_fields, KEY, "HMAC-SHA256") == (
        "544563A44BF3BF492DAF6A0B9BF6DE1166880AF5930760F59F4CB50879990C8D"
    )
    assert wire.sign({**REQUEST, "sign_type": "MD5"}, KEY) == "1B3936530F39477E2538B70D13F40134"
    official = {
        "appid": "wxd930ea5d5a258f4f",
        "body": "test",
        "device_info": "1000",
        "mch_id": "10000100",
        "nonce_str": "ibuaiVcKdpRxkhJA",
    }
    assert wire.sign(official, "192006250b4c09247ec02edce69f6a2d") == (
        "9A0A8659F005D6984697E2CA0A9CF3B7"
    )


def test_prepare_signs_what_it_sends_as_an_independent_signer_reads_it() -> None:
    config = Config("1900000109", KEY, "wx8888888888888888", "HMAC-SHA256")
    out = prepare(config, ENDPOINTS["orderquery"], {"out_trade_no": "T1"}, nonce="N" * 32)
    sent = wire.decode(out.body)
    assert out.path == "/pay/orderquery"
    assert sent["sign_type"] == "HMAC-SHA256"
    assert sent["sign"] == v2_sign(sent, KEY, "HMAC-SHA256")
    sandbox = prepare(Config("1900000109", KEY, sandbox=True), ENDPOINTS["micropay"], {})
    assert sandbox.path == "/sandboxnew/pay/micropay"
    assert "sign_type" not in wire.decode(sandbox.body)  # the sandbox signs MD5 only


def test_jsapi_app_and_miniprogram_parameters_match_the_spec() -> None:
    prepay = "wx201411101639507cbf6ffd8b0779950874"
    common = {"prepay_id": prepay, "api_key": KEY, "timestamp": "1704081600"}
    js = params.jsapi(
        appid="wx8888888888888888", nonce="e61463f8efa94090b1f366cccfbbb444", **common
    )
    assert js["paySign"] == "D76D8B5DE2F259965C0AE0C58FC3D6E6"
    assert js["package"] == "prepay_id=" + prepay
    js_hmac = params.jsapi(
        appid="wx8888888888888888",
        nonce="e61463f8efa94090b1f366cccfbbb444",
        sign_type="HMAC-SHA256",
        **common,
    )
    assert js_hmac["paySign"] == (
        "9D095E3598B98817958201A7119406C289419981A62EB3ED7C703D2BABD15457"
    )
    mini = params.miniprogram(
        appid="wx8888888888888888", nonce="e61463f8efa94090b1f366cccfbbb444", **common
    )
    assert "appId" not in mini and mini["paySign"] == "D76D8B5DE2F259965C0AE0C58FC3D6E6"
    app = params.app(
        appid="wx8888888888888888",
        mch_id="1900000109",
        nonce="5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
        **common,
    )
    assert app["sign"] == "ADA80905840E422B4E15D38798301848"
    assert app["package"] == "Sign=WXPay"


def test_native_mode1_url_is_signed_over_its_five_fields() -> None:
    url = params.native_mode1_url(
        appid="wx8888888888888888",
        mch_id="1900000109",
        product_id="P 1",
        api_key=KEY,
        timestamp="1704081600",
        nonce="abc",
    )
    fields = {
        "appid": "wx8888888888888888",
        "mch_id": "1900000109",
        "nonce_str": "abc",
        "product_id": "P 1",
        "time_stamp": "1704081600",
    }
    assert url == (
        f"weixin://wxpay/bizpayurl?sign={v2_sign(fields, KEY)}&appid=wx8888888888888888"
        "&mch_id=1900000109&nonce_str=abc&product_id=P+1&time_stamp=1704081600"
    )


def test_payment_notification_verifies_the_spec_example_and_refuses_a_tampered_one() -> None:
    fields = notify.payment_notification(PAYMENT_NOTIFICATION, REFUND_KEY)
    assert fields["out_trade_no"] == "T20240430190001"
    assert fields["total_fee"] == 800
    tampered = PAYMENT_NOTIFICATION.replace(b"<total_fee>800<", b"<total_fee>1<")
    with pytest.raises(SignatureError):
        notify.payment_notification(tampered, REFUND_KEY)
    with pytest.raises(SignatureError):
        notify.payment_notification(PAYMENT_NOTIFICATION, KEY)
    with pytest.raises(SignatureError):
        notify.payment_notification(PAYMENT_NOTIFICATION, REFUND_KEY, expected_mch_id="1")


def test_refund_notification_decrypts_the_spec_example() -> None:
    body = (
        "<xml>\n<return_code>SUCCESS</return_code>\n"
        "<appid><![CDATA[wx1234567890abcdef]]></appid>\n"
        "<mch_id><![CDATA[1900000109]]></mch_id>\n"
        "<nonce_str><![CDATA[0c6e2f71a9d84b35be17c4a2f9083d56]]></nonce_str>\n"
        f"<req_info><![CDATA[{REQ_INFO}]]></req_info>\n</xml>"
    ).encode()
    inner = notify.refund_notification(body, REFUND_KEY, expected_mch_id="1900000109")
    assert inner["out_refund_no"] == "R20240501162011001"
    assert inner["refund_status"] == "SUCCESS"
    assert inner["refund_fee"] == 300
    assert inner["refund_recv_accout"] == "支付用户零钱"
    assert inner["success_time"] == "2024-05-01 16:20:15"
    with pytest.raises(SignatureError):
        notify.refund_notification(body, KEY)


def test_ack_bodies() -> None:
    assert wire.decode(notify.ack()) == {"return_code": "SUCCESS", "return_msg": "OK"}
    assert wire.decode(notify.ack(False, "busy")) == {"return_code": "FAIL", "return_msg": "busy"}


def test_bill_parses_the_spec_sample_with_its_bom() -> None:
    bill = bills.parse(("\ufeff" + BILL_ALL).encode())
    assert [r.out_trade_no for r in bill.rows] == [
        "T20240501091455",
        "T20240501123012",
        "T20240430190001",
    ]
    first, second, refund = bill.rows
    assert (first.total_fee, first.poundage, first.attach) == (
        1000,
        Decimal("0.06000"),
        "store=SZ01",
    )
    assert (second.device_info, second.settlement_total_fee) == ("POS-01", 2550)
    assert (refund.trade_state, refund.refund_fee, refund.out_refund_no) == (
        "REFUND",
        300,
        "R20240501162011001",
    )
    assert refund.poundage == Decimal("-0.02000")
    assert bill.totals.count == 3
    assert bill.totals.settlement_total_fee == 3550
    assert bill.totals.refund_fee == 300
    assert bill.totals.poundage == Decimal("0.19000")


def test_interpret_reads_both_error_layers_and_refuses_a_bad_signature() -> None:
    config = Config("1900000109", KEY, "wx8888888888888888")
    out = prepare(config, ENDPOINTS["orderquery"], {"out_trade_no": "T1"})
    with pytest.raises(ReturnError) as fault:
        interpret(out, to_xml({"return_code": "FAIL", "return_msg": "签名错误"}))
    assert fault.value.return_msg == "签名错误"
    refusal = {
        "return_code": "SUCCESS",
        "appid": "wx8888888888888888",
        "mch_id": "1900000109",
        "nonce_str": "x",
        "result_code": "FAIL",
        "err_code": "ORDERNOTEXIST",
        "err_code_des": "订单不存在",
    }
    with pytest.raises(ResultError) as refused:
        interpret(out, to_xml(signed(refusal, KEY)))
    assert refused.value.err_code == "ORDERNOTEXIST"
    paid = {**refusal, "result_code": "SUCCESS", "trade_state": "SUCCESS", "total_fee": "1800"}
    del paid["err_code"], paid["err_code_des"]
    assert interpret(out, to_xml(signed(paid, KEY)))["total_fee"] == 1800
    with pytest.raises(SignatureError):
        interpret(out, to_xml(signed(paid, "k" * 32)))
    bill_out = prepare(config, ENDPOINTS["downloadbill"], {"bill_date": "20240501"})
    with pytest.raises(ReturnError) as no_bill:
        interpret_file(bill_out, to_xml({"return_code": "FAIL", "return_msg": "No Bill Exist"}))
    assert no_bill.value.return_msg == "No Bill Exist"


def test_decode_refuses_entities() -> None:
    evil = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "boom">]><xml><a>&e;</a></xml>'
    with pytest.raises(wire.WireError):
        wire.decode(evil)


def test_an_hmac_notification_without_sign_type_verifies_by_its_length() -> None:
    hmac_body = PAYMENT_NOTIFICATION.replace(
        b"D9001E3EBAEAB07BF31F2683D008529B",
        b"F1A27F7AF52BFE9EF9D501811248114DCF58B99C8196A2B315A3BDAE0743B84D",  # refunds §4.8
    )
    assert notify.payment_notification(hmac_body, REFUND_KEY)["total_fee"] == 800


def test_the_sdk_never_imports_the_platform() -> None:
    """It ships alone (sdk/pyproject.toml: httpx and cryptography only)."""
    import ast
    from pathlib import Path

    package = Path(__file__).resolve().parents[2] / "sdk" / "src" / "wxpay_sdk"
    imported = set()
    for source in package.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module.split(".")[0])
    third_party = imported - set(__import__("sys").stdlib_module_names) - {"wxpay_sdk"}
    assert third_party == {"httpx", "cryptography"}


def test_both_clients_offer_the_same_calls() -> None:
    from wxpay_sdk import AsyncClient, Client

    def public(cls: type) -> set[str]:
        return {n for n in dir(cls) if not n.startswith("_")}

    assert public(Client) ^ public(AsyncClient) == {"close", "aclose"}
