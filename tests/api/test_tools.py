"""The tool endpoints around payments: shorturl (spec §4.7) and the 交易保障 report (§4.6).

shorturl answers are signed like any other; report answers are not (``return_code``,
``return_msg``, ``result_code`` only). Reports are kept for inspection on the control plane.
"""

from __future__ import annotations

import json
import secrets
from typing import Any
from urllib.parse import quote

import pytest

from reference_wire import from_xml, to_xml, v2_sign, verify
from wxpay_local.sdk import Client, FaultError
from wxpay_local.testing import Harness, MerchantInfo

pytestmark = pytest.mark.api

SHORT_PREFIX = "weixin://wxpay/s/"
UNIFIEDORDER_URL = "https://api.mch.weixin.qq.com/pay/unifiedorder"
MICROPAY_TOTAL_URL = "https://api.mch.weixin.qq.com/pay/micropay/total"
BATCH_URL = "https://api.mch.weixin.qq.com/pay/batchreport/micropay/total"


def _native_code_url(platform: Harness, client: Client, out_trade_no: str) -> str:
    answer = client.unifiedorder(
        body="Test shop-Coffee",
        out_trade_no=out_trade_no,
        total_fee=1800,
        spbill_create_ip="203.0.113.10",
        notify_url="http://127.0.0.1:9/notify",
        trade_type="NATIVE",
        product_id="latte",
    )
    code_url = answer["code_url"]
    assert code_url.startswith("weixin://wxpay/bizpayurl?pr="), answer
    return code_url


def _short(client: Client, long_url: str) -> str:
    answer = client.call("/tools/shorturl", long_url=long_url)  # the SDK checks the answer's sign
    assert answer["result_code"] == "SUCCESS"
    return answer["short_url"]


def _post(platform: Harness, path: str, body: bytes) -> dict[str, str]:
    response = platform.http.post(path, content=body)
    assert response.status_code == 200, response.text
    return from_xml(response.content)


def _report_fields(merchant: MerchantInfo, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "interface_url": UNIFIEDORDER_URL,
        "execute_time_": 187,
        "return_code": "SUCCESS",
        "return_msg": "OK",
        "result_code": "SUCCESS",
        "out_trade_no": "RPT-1",
        "user_ip": "203.0.113.10",
        "time": "20240101120000",
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def _reports(platform: Harness, mch_id: str) -> list[dict[str, Any]]:
    reports: list[dict[str, Any]] = platform.control("GET", "/_local/reports", mch_id=mch_id)[
        "reports"
    ]
    return reports


def _assert_unsigned_success(answer: dict[str, str]) -> None:
    assert answer["return_code"] == "SUCCESS", answer
    assert answer["result_code"] == "SUCCESS", answer
    assert "sign" not in answer, "report answers are not signed (spec §4.6)"


# shorturl -------------------------------------------------------------------------------------
def test_shorturl_is_stable_per_long_url_and_resolves(platform: Harness) -> None:
    merchant = platform.merchant()
    client = platform.client(merchant)
    first = "weixin://wxpay/bizpayurl?sign=A1&appid=wx1&mch_id=1&product_id=latte&nonce_str=n1"
    second = "weixin://wxpay/bizpayurl?sign=B2&appid=wx1&mch_id=1&product_id=tea&nonce_str=n2"

    short = _short(client, first)
    assert short.startswith(SHORT_PREFIX) and len(short) > len(SHORT_PREFIX)
    assert len(short) <= 64  # String(64)
    assert _short(client, first) == short, "the same long URL always gets the same short URL"
    other = _short(client, second)
    assert other.startswith(SHORT_PREFIX) and other != short

    code = short.removeprefix(SHORT_PREFIX)
    resolved = platform.control("GET", f"/_local/shorturl/{code}")
    assert resolved == {"short_url": short, "long_url": first}
    other_code = other.removeprefix(SHORT_PREFIX)
    assert platform.control("GET", f"/_local/shorturl/{other_code}")["long_url"] == second
    platform.control("GET", "/_local/shorturl/nosuchcode", expect=404)


def test_shorturl_answer_is_signed_with_the_merchant_key(platform: Harness) -> None:
    merchant = platform.merchant()
    client = platform.client(merchant)
    answer = _post(
        platform, "/tools/shorturl", client.body({"long_url": "weixin://wxpay/bizpayurl?pr=x"})
    )
    assert answer["return_code"] == "SUCCESS" and answer["result_code"] == "SUCCESS"
    assert answer["mch_id"] == merchant.mch_id and answer["appid"] == client.appid
    assert verify(answer, merchant.api_key)


def test_paying_the_short_url_of_a_native_code_url(platform: Harness) -> None:
    merchant = platform.merchant()
    client = platform.client(merchant)
    payer = platform.payer(balance=10_000)
    code_url = _native_code_url(platform, client, "SHORT-PAY-1")
    short = _short(client, code_url)

    paid = platform.pay(payer["payer_id"], code_url=short)
    assert paid["outcome"] == "SUCCESS", paid
    query = client.orderquery(out_trade_no="SHORT-PAY-1")
    assert query["trade_state"] == "SUCCESS"
    assert query["total_fee"] == "1800"


@pytest.mark.parametrize("signed_over", ["raw URL (documented)", "transmitted text (observed)"])
def test_url_encoded_long_url_is_accepted_and_shortens_the_url_itself(
    platform: Harness, signed_over: str
) -> None:
    """Spec §4.7/§3.1: long_url is signed raw and URL-encoded for transport; the emulator
    accepts a sign over the received text or over its URL-decoded form. What is shortened is
    the URL itself, so the short URL pays the order like the raw one."""
    merchant = platform.merchant()
    client = platform.client(merchant)
    payer = platform.payer(balance=10_000)
    code_url = _native_code_url(platform, client, "SHORT-ENC-1")
    encoded = quote(code_url, safe="")
    assert encoded != code_url
    fields: dict[str, str] = {
        "appid": merchant.apps["official_account"],
        "mch_id": merchant.mch_id,
        "nonce_str": secrets.token_hex(16),
        "long_url": code_url if signed_over.startswith("raw") else encoded,
    }
    fields["sign"] = v2_sign(fields, merchant.api_key)
    fields["long_url"] = encoded

    answer = _post(platform, "/tools/shorturl", to_xml(fields))
    assert answer["return_code"] == "SUCCESS", answer
    assert answer["result_code"] == "SUCCESS", answer
    short = answer["short_url"]
    assert short.startswith(SHORT_PREFIX)
    code = short.removeprefix(SHORT_PREFIX)
    assert platform.control("GET", f"/_local/shorturl/{code}")["long_url"] == code_url
    assert platform.pay(payer["payer_id"], code_url=short)["outcome"] == "SUCCESS"


def test_shorturl_refusals(platform: Harness) -> None:
    merchant = platform.merchant()
    client = platform.client(merchant)
    with pytest.raises(FaultError) as missing:
        client.call("/tools/shorturl")
    assert missing.value.return_msg == "缺少参数"
    bad = Client(
        platform.base_url,
        mch_id=merchant.mch_id,
        api_key="0" * 32,
        appid=merchant.apps["official_account"],
        http=platform.http,
    )
    with pytest.raises(FaultError) as unsigned:
        bad.call("/tools/shorturl", long_url="weixin://wxpay/bizpayurl?pr=x")
    assert unsigned.value.return_msg == "签名错误"


# report ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("latency", ["execute_time_", "execute_time"])
def test_report_per_call_is_accepted_unsigned_and_stored(platform: Harness, latency: str) -> None:
    merchant = platform.merchant()
    client = platform.client(merchant)
    fields = _report_fields(merchant, execute_time_=None)
    fields[latency] = 187
    answer = _post(platform, "/payitil/report", client.body(fields))
    _assert_unsigned_success(answer)
    assert set(answer) <= {"return_code", "return_msg", "result_code"}, answer

    reports = _reports(platform, merchant.mch_id)
    assert len(reports) == 1
    stored = reports[0]
    assert stored["interface_url"] == UNIFIEDORDER_URL
    assert stored["fields"][latency] == "187"
    assert stored["fields"]["user_ip"] == "203.0.113.10"
    assert stored["fields"]["out_trade_no"] == "RPT-1"
    assert stored["fields"]["mch_id"] == merchant.mch_id
    assert _reports(platform, platform.merchant().mch_id) == [], "reports are per merchant"


def test_report_of_the_whole_micropay_flow_and_reports_listed_newest_first(
    platform: Harness,
) -> None:
    merchant = platform.merchant()
    client = platform.client(merchant)
    _assert_unsigned_success(
        _post(platform, "/payitil/report", client.body(_report_fields(merchant)))
    )
    flow = _report_fields(merchant, interface_url=MICROPAY_TOTAL_URL, execute_time_=5321)
    _assert_unsigned_success(_post(platform, "/payitil/report", client.body(flow)))
    reports = _reports(platform, merchant.mch_id)
    assert [r["interface_url"] for r in reports] == [MICROPAY_TOTAL_URL, UNIFIEDORDER_URL]


@pytest.mark.parametrize("missing", ["user_ip", "interface_url"])
def test_report_without_a_required_field_lacks_params(platform: Harness, missing: str) -> None:
    merchant = platform.merchant()
    client = platform.client(merchant)
    answer = _post(
        platform, "/payitil/report", client.body(_report_fields(merchant, **{missing: None}))
    )
    assert answer["return_code"] == "FAIL", answer
    assert answer["return_msg"] == "缺少参数"
    assert _reports(platform, merchant.mch_id) == []


def test_report_without_latency_lacks_params(platform: Harness) -> None:
    merchant = platform.merchant()
    client = platform.client(merchant)
    fields = _report_fields(merchant, execute_time_=None)
    answer = _post(platform, "/payitil/report", client.body(fields))
    assert answer["return_code"] == "FAIL" and answer["return_msg"] == "缺少参数", answer


def test_batch_pos_report_with_trades(platform: Harness) -> None:
    merchant = platform.merchant()
    client = platform.client(merchant)
    trades = json.dumps(
        [
            {
                "out_trade_no": "ORDER1",
                "begin_time": "20240101120000",
                "end_time": "20240101120003",
                "state": "OK",
                "err_msg": "",
            },
            {
                "out_trade_no": "ORDER2",
                "begin_time": "20240101121000",
                "end_time": "20240101121045",
                "state": "FAIL",
                "err_msg": "SYSTEMERROR",
            },
        ],
        separators=(",", ":"),
    )
    fields = {"interface_url": BATCH_URL, "user_ip": "203.0.113.10", "trades": trades}
    answer = _post(platform, "/payitil/report", client.body(fields))
    _assert_unsigned_success(answer)
    stored = _reports(platform, merchant.mch_id)[0]
    assert stored["interface_url"] == BATCH_URL
    assert json.loads(stored["fields"]["trades"])[1]["err_msg"] == "SYSTEMERROR"


def test_report_on_the_old_path(platform: Harness) -> None:
    merchant = platform.merchant()
    client = platform.client(merchant)
    answer = _post(platform, "/pay/report", client.body(_report_fields(merchant)))
    _assert_unsigned_success(answer)
    assert len(_reports(platform, merchant.mch_id)) == 1


def test_report_with_a_bad_signature(platform: Harness) -> None:
    merchant = platform.merchant()
    forged = Client(
        platform.base_url,
        mch_id=merchant.mch_id,
        api_key="0" * 32,
        appid=merchant.apps["official_account"],
        http=platform.http,
    )
    answer = _post(platform, "/payitil/report", forged.body(_report_fields(merchant)))
    assert answer["return_code"] == "FAIL", answer
    assert answer["return_msg"] == "签名错误"
    assert _reports(platform, merchant.mch_id) == []
