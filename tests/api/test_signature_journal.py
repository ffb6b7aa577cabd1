"""The request journal (GET /_local/journal): every merchant API call, and why a failure failed.

Signature failures carry explanation.signature (algorithm, the string the platform signed with the
key masked, the fields that took part, expected and received signs, hints); format faults carry
explanation.detail. The API key itself must never reach the journal.
"""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import pytest

from reference_wire import HMAC, MD5, canonical, signed, to_xml, v2_sign
from wxpay_local.testing import Harness, MerchantInfo, wait_for

pytestmark = pytest.mark.api

PATHS = {
    "unifiedorder": "/pay/unifiedorder",
    "orderquery": "/pay/orderquery",
    "closeorder": "/pay/closeorder",
}
ENDPOINTS = list(PATHS)
SIGNATURE_KEYS = {"algorithm", "signed_string", "fields", "expected", "received", "hints"}


def post(platform: Harness, path: str, body: bytes, method: str = "POST") -> dict[str, str]:
    response = platform.http.request(method, path, content=body)
    assert response.status_code == 200, (response.status_code, response.text[:300])
    root = ET.fromstring(response.content)
    assert root.tag == "xml"
    return {child.tag: child.text or "" for child in root}


def common(merchant: MerchantInfo) -> dict[str, object]:
    return {
        "appid": merchant.apps["official_account"],
        "mch_id": merchant.mch_id,
        "nonce_str": "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
    }


def order(**extra: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "body": "测试商城-咖啡",
        "out_trade_no": "T20240101001",
        "total_fee": 1800,
        "spbill_create_ip": "203.0.113.10",
        "notify_url": "http://127.0.0.1:9/wxpay/notify",
        "trade_type": "NATIVE",
        "product_id": "latte",
    }
    fields.update(extra)
    return {k: v for k, v in fields.items() if v is not None}


def valid_request(merchant: MerchantInfo, endpoint: str) -> dict[str, object]:
    if endpoint == "unifiedorder":
        return {**common(merchant), **order()}
    return {**common(merchant), "out_trade_no": "T20240101001"}


def newest(platform: Harness, predicate: Callable[[dict[str, Any]], bool], **params: Any) -> Any:
    """The newest journal entry (with params as filters) that satisfies predicate."""

    def find() -> dict[str, Any] | None:
        return next((e for e in platform.journal(**params) if predicate(e)), None)

    return wait_for(find, timeout=5)


def last_entry(platform: Harness, mch_id: str, count: int = 1) -> dict[str, Any]:
    """The newest entry for mch_id once at least count entries were journaled for it."""
    entries = wait_for(
        lambda: (found := platform.journal(mch_id=mch_id)) and len(found) >= count and found,
        timeout=5,
    )
    entry: dict[str, Any] = entries[0]
    return entry


# --- signature failures -------------------------------------------------------------------------
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_endpoint_bad_signature_journal_explains_with_masked_key(
    platform: Harness, endpoint: str
) -> None:
    merchant = platform.merchant()
    other = platform.merchant()
    request = signed({**valid_request(merchant, endpoint), "zz_extra": "x"}, other.api_key)
    body = to_xml(request)
    answer = post(platform, PATHS[endpoint], body)
    assert answer == {"return_code": "FAIL", "return_msg": "签名错误"}

    entry = last_entry(platform, merchant.mch_id)
    assert entry["return_code"] == "FAIL"
    assert entry["message"] == "签名错误"
    assert entry["endpoint"] == endpoint
    assert entry["method"] == "POST"
    assert entry["path"] == PATHS[endpoint]
    assert entry["mch_id"] == merchant.mch_id
    assert entry["request"] == body.decode()
    assert "签名错误" in entry["response"]

    signature = entry["explanation"]["signature"]
    assert SIGNATURE_KEYS <= set(signature), signature
    assert signature["algorithm"] == MD5
    prefix = canonical(request) + "&key="
    assert signature["signed_string"].startswith(prefix), signature["signed_string"]
    masked = signature["signed_string"][len(prefix) :]
    assert masked and masked != merchant.api_key and "*" in masked
    assert list(signature["fields"]) == sorted(k for k in request if k != "sign")
    assert "zz_extra" in signature["fields"]  # unknown fields take part too
    assert signature["expected"] == v2_sign(request, merchant.api_key)
    assert signature["received"] == request["sign"]
    assert isinstance(signature["hints"], list)
    assert entry["explanation"].get("detail")

    dumped = json.dumps(entry, ensure_ascii=False)
    assert merchant.api_key not in dumped
    assert merchant.api_key.lower() not in dumped.lower()


def test_unifiedorder_hmac_bad_signature_journal_names_hmac_algorithm(platform: Harness) -> None:
    merchant = platform.merchant()
    request = {**common(merchant), **order(), "sign_type": HMAC}
    request["sign"] = "A" * 64
    post(platform, PATHS["unifiedorder"], to_xml(request))
    signature = last_entry(platform, merchant.mch_id)["explanation"]["signature"]
    assert signature["algorithm"] == HMAC
    assert signature["expected"] == v2_sign(request, merchant.api_key, HMAC)
    assert "sign_type" in signature["fields"]
    assert "&sign_type=HMAC-SHA256&" in signature["signed_string"]
    assert merchant.api_key not in json.dumps(signature)


def _hmac_without_sign_type(merchant: MerchantInfo) -> dict[str, object]:
    request = {**common(merchant), **order()}
    request["sign"] = v2_sign({**request, "sign_type": HMAC}, merchant.api_key, HMAC)
    return request


def _hmac_sign_without_sign_type_field(merchant: MerchantInfo) -> dict[str, object]:
    request = {**common(merchant), **order()}
    request["sign"] = v2_sign(request, merchant.api_key, HMAC)
    return request


def _md5_with_hmac_sign_type(merchant: MerchantInfo) -> dict[str, object]:
    return signed({**common(merchant), **order(), "sign_type": HMAC}, merchant.api_key, MD5)


def _lowercase(merchant: MerchantInfo) -> dict[str, object]:
    request = signed({**common(merchant), **order()}, merchant.api_key)
    request["sign"] = str(request["sign"]).lower()
    return request


def _trimmed_value_signed(merchant: MerchantInfo) -> dict[str, object]:
    request = signed({**common(merchant), **order(attach="table=7")}, merchant.api_key)
    request["attach"] = "table=7 "
    return request


def _signed_empty_field(merchant: MerchantInfo) -> dict[str, object]:
    request = {**common(merchant), **order(), "device_info": ""}
    s = "&".join(f"{k}={v}" for k, v in sorted(request.items())) + "&key=" + merchant.api_key
    request["sign"] = hashlib.md5(s.encode()).hexdigest().upper()
    return request


@pytest.mark.parametrize(
    ("build", "hint_words"),
    [
        pytest.param(_hmac_without_sign_type, ["HMAC-SHA256"], id="hmac sign, no sign_type"),
        pytest.param(
            _hmac_sign_without_sign_type_field, ["HMAC-SHA256"], id="hmac over fields only"
        ),
        pytest.param(_md5_with_hmac_sign_type, ["MD5"], id="md5 sign, sign_type hmac"),
        pytest.param(_lowercase, ["uppercase"], id="lowercase hex"),
        pytest.param(_trimmed_value_signed, ["whitespace", "attach"], id="trailing space"),
        pytest.param(_signed_empty_field, ["empty", "device_info"], id="empty field signed"),
    ],
)
def test_unifiedorder_bad_signature_journal_gives_hint(
    platform: Harness, build: Callable[[MerchantInfo], dict[str, object]], hint_words: list[str]
) -> None:
    merchant = platform.merchant()
    request = build(merchant)
    answer = post(platform, PATHS["unifiedorder"], to_xml(request))
    assert answer == {"return_code": "FAIL", "return_msg": "签名错误"}
    hints = last_entry(platform, merchant.mch_id)["explanation"]["signature"]["hints"]
    assert any(all(word in hint for word in hint_words) for hint in hints), hints


def test_unifiedorder_unrelated_bad_signature_journal_gives_no_misleading_hint(
    platform: Harness,
) -> None:
    merchant = platform.merchant()
    request = signed({**common(merchant), **order()}, platform.merchant().api_key)
    post(platform, PATHS["unifiedorder"], to_xml(request))
    hints = last_entry(platform, merchant.mch_id)["explanation"]["signature"]["hints"]
    assert not any("HMAC" in h or "uppercase" in h for h in hints), hints


# --- successes and business failures ------------------------------------------------------------
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_endpoint_success_journal_keeps_request_and_response(
    platform: Harness, endpoint: str
) -> None:
    merchant = platform.merchant()
    if endpoint != "unifiedorder":
        post(
            platform,
            PATHS["unifiedorder"],
            to_xml(signed(valid_request(merchant, "unifiedorder"), merchant.api_key)),
        )
        platform.advance(301)
    body = to_xml(signed(valid_request(merchant, endpoint), merchant.api_key))
    response = platform.http.post(PATHS[endpoint], content=body)
    assert b"<result_code><![CDATA[SUCCESS]]></result_code>" in response.content

    entry = newest(
        platform,
        lambda e: e["endpoint"] == endpoint and e["request"] == body.decode(),
        mch_id=merchant.mch_id,
    )
    assert entry["return_code"] == "SUCCESS"
    assert entry["result_code"] == "SUCCESS"
    assert entry["err_code"] == ""
    assert entry["method"] == "POST"
    assert entry["path"] == PATHS[endpoint]
    assert entry["mch_id"] == merchant.mch_id
    assert entry["response"] == response.text
    assert isinstance(entry["at"], int) and isinstance(entry["duration_us"], int)
    assert merchant.api_key not in json.dumps(entry, ensure_ascii=False)


def test_orderquery_business_failure_journal_keeps_err_code(platform: Harness) -> None:
    merchant = platform.merchant()
    body = to_xml(signed(valid_request(merchant, "orderquery"), merchant.api_key))
    response = platform.http.post(PATHS["orderquery"], content=body)
    entry = last_entry(platform, merchant.mch_id)
    assert entry["endpoint"] == "orderquery"
    assert entry["return_code"] == "SUCCESS"
    assert entry["result_code"] == "FAIL"
    assert entry["err_code"] == "ORDERNOTEXIST"
    assert entry["message"] == "订单不存在"
    assert entry["request"] == body.decode()
    assert entry["response"] == response.text


def test_journal_failures_filter_keeps_only_failures(platform: Harness) -> None:
    merchant = platform.merchant()
    good = to_xml(signed({**common(merchant), **order()}, merchant.api_key))
    bad_sign = to_xml(signed({**common(merchant), **order()}, "x" * 32))
    bad_field = to_xml(signed({**common(merchant), **order(total_fee="abc")}, merchant.api_key))
    rejected = to_xml(signed({**common(merchant), "out_trade_no": "TNOPE"}, merchant.api_key))
    post(platform, PATHS["unifiedorder"], good)
    post(platform, PATHS["unifiedorder"], bad_sign)
    post(platform, PATHS["unifiedorder"], bad_field)
    post(platform, PATHS["orderquery"], rejected)
    post(platform, PATHS["unifiedorder"], good)  # identical re-entry: a success

    everything = wait_for(lambda: len(j := platform.journal(mch_id=merchant.mch_id)) >= 5 and j)
    assert len(everything) == 5
    assert [e["request"] for e in everything] == [
        b.decode() for b in (good, rejected, bad_field, bad_sign, good)
    ]
    failures = platform.journal(mch_id=merchant.mch_id, failures="1")
    assert [e["request"] for e in failures] == [b.decode() for b in (rejected, bad_field, bad_sign)]
    assert all(e["return_code"] == "FAIL" or e["result_code"] == "FAIL" for e in failures)
    assert [e["message"] for e in failures] == [
        "订单不存在",
        "total_fee参数格式错误",
        "签名错误",
    ]


def test_journal_is_per_merchant(platform: Harness) -> None:
    first = platform.merchant()
    second = platform.merchant()
    post(
        platform,
        PATHS["orderquery"],
        to_xml(signed(valid_request(first, "orderquery"), first.api_key)),
    )
    post(
        platform,
        PATHS["orderquery"],
        to_xml(signed(valid_request(second, "orderquery"), second.api_key)),
    )
    wait_for(lambda: platform.journal(mch_id=second.mch_id))
    assert {e["mch_id"] for e in platform.journal(mch_id=first.mch_id)} == {first.mch_id}
    assert len(platform.journal(mch_id=first.mch_id)) == 1


# --- format and protocol faults -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "return_msg", "field"),
    [
        pytest.param({"total_fee": "1.5"}, "total_fee参数格式错误", "total_fee", id="total_fee"),
        pytest.param({"body": None}, "缺少参数", "body", id="missing body"),
        pytest.param({"body": "x" * 129}, "body参数长度有误", "body", id="long body"),
        pytest.param(
            {"notify_url": "https://shop.example/n?a=1"},
            "notify_url参数格式错误",
            "notify_url",
            id="notify_url",
        ),
        pytest.param(
            {"spbill_create_ip": "999.1.1.1"},
            "spbill_create_ip参数格式错误",
            "spbill_create_ip",
            id="ip",
        ),
        pytest.param(
            {"trade_type": "JSAPI", "product_id": None},
            "JSAPI支付必须传openid",
            "openid",
            id="openid",
        ),
        pytest.param(
            {"product_id": None},
            "trade_type=NATIVE时，product_id为必填参数",
            "product_id",
            id="product_id",
        ),
    ],
)
def test_unifiedorder_format_fault_journal_detail_names_field(
    platform: Harness, change: dict[str, object], return_msg: str, field: str
) -> None:
    merchant = platform.merchant()
    request = {**common(merchant), **order(**change)}
    answer = post(platform, PATHS["unifiedorder"], to_xml(signed(request, merchant.api_key)))
    assert answer == {"return_code": "FAIL", "return_msg": return_msg}
    entry = last_entry(platform, merchant.mch_id)
    assert entry["return_code"] == "FAIL"
    assert entry["message"] == return_msg
    assert field in entry["explanation"]["detail"], entry["explanation"]
    assert "signature" not in entry["explanation"]


def test_unifiedorder_unknown_mch_id_journaled_under_that_mch_id(platform: Harness) -> None:
    request = signed({"mch_id": "1999999999", "nonce_str": "n", **order()}, "k" * 32)
    post(platform, PATHS["unifiedorder"], to_xml(request))
    entry = last_entry(platform, "1999999999")
    assert entry["message"] == "mch_id不存在"
    assert "1999999999" in entry["explanation"]["detail"]


@pytest.mark.parametrize(
    ("body", "return_msg", "word"),
    [
        pytest.param(
            b'<!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml><a>&x;</a></xml>',
            "XML格式错误",
            "DOCTYPE",
            id="doctype",
        ),
        pytest.param(b"<xml><a><b>1</b></a></xml>", "XML格式错误", "nested", id="nested"),
        pytest.param(b"", "post数据为空", "empty", id="empty"),
        pytest.param(
            "<xml><body>测试</body></xml>".encode("gbk"), "编码格式错误", "UTF-8", id="gbk"
        ),
        pytest.param(b"\x00" * 64, "XML格式错误", "XML", id="nul bytes"),
    ],
)
def test_unifiedorder_malformed_body_journaled_with_detail(
    platform: Harness, body: bytes, return_msg: str, word: str
) -> None:
    answer = post(platform, PATHS["unifiedorder"], body)
    assert answer == {"return_code": "FAIL", "return_msg": return_msg}
    merchant = platform.merchant()  # a later, good request is journaled as well
    good = to_xml(signed(valid_request(merchant, "orderquery"), merchant.api_key))
    post(platform, PATHS["orderquery"], good)

    entry = newest(platform, lambda e: e["message"] == return_msg)
    assert entry["return_code"] == "FAIL"
    assert entry["endpoint"] == "unifiedorder"
    assert entry["path"] == PATHS["unifiedorder"]
    assert word.lower() in entry["explanation"]["detail"].lower(), entry["explanation"]
    last_entry(platform, merchant.mch_id)


def test_orderquery_get_method_journaled(platform: Harness) -> None:
    answer = post(platform, PATHS["orderquery"], b"", method="GET")
    assert answer == {"return_code": "FAIL", "return_msg": "请使用post方法"}
    entry = newest(platform, lambda e: e["method"] == "GET")
    assert entry["endpoint"] == "orderquery"
    assert entry["return_code"] == "FAIL"
    assert entry["message"] == "请使用post方法"
    assert "GET" in entry["explanation"]["detail"]


def test_journal_never_contains_the_api_key(platform: Harness) -> None:
    merchant = platform.merchant()
    key = merchant.api_key
    requests = [
        {**common(merchant), **order(), "sign": "0" * 32},
        {**common(merchant), **order(), "sign_type": HMAC, "sign": "0" * 64},
        _lowercase(merchant),
        _hmac_without_sign_type(merchant),
        signed({**common(merchant), **order(attach=key[:16])}, "y" * 32),
        signed({**common(merchant), **order()}, key),
    ]
    for request in requests:
        post(platform, PATHS["unifiedorder"], to_xml(request))
    entries = wait_for(lambda: len(j := platform.journal(mch_id=merchant.mch_id)) >= 6 and j)
    dumped = json.dumps(entries, ensure_ascii=False)
    assert key not in dumped


def test_getsignkey_success_not_listed_as_failure(platform: Harness) -> None:
    merchant = platform.merchant()
    request = signed({"mch_id": merchant.mch_id, "nonce_str": "n1"}, merchant.api_key)
    answer = post(platform, "/sandboxnew/pay/getsignkey", to_xml(request))
    assert answer["return_code"] == "SUCCESS", answer
    entry = last_entry(platform, merchant.mch_id)
    assert entry["endpoint"] == "getsignkey"
    assert entry["return_code"] == "SUCCESS"
    assert platform.journal(mch_id=merchant.mch_id, failures="1") == []
