"""Protocol-level and malformed-input behaviour of unifiedorder, orderquery and closeorder.

Spec §1.2–§1.4 (HTTP rules, XML format, the return_code → result_code layering), §1.7, §2, §3
(signatures) and §4.2–§4.4. Requests are built and signed here with the spec's reference
implementation (§3.3) and answers parsed with the standard library, so a bug in the platform's
own codec or signer cannot hide behind itself.
"""

from __future__ import annotations

import hashlib
import socket
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from reference_wire import HMAC, MD5, signed, to_xml, v2_sign
from wxpay_local.testing import Harness, MerchantInfo

pytestmark = pytest.mark.api

BEIJING = timezone(timedelta(hours=8))
PATHS = {
    "unifiedorder": "/pay/unifiedorder",
    "orderquery": "/pay/orderquery",
    "closeorder": "/pay/closeorder",
}
ENDPOINTS = list(PATHS)


# --- the wire, independently of the platform's codec -------------------------------------------


def parse_answer(content: bytes) -> dict[str, str]:
    """A platform answer: a flat <xml> document, each child a field (checked, not trusted)."""
    root = ET.fromstring(content)
    assert root.tag == "xml", content
    fields: dict[str, str] = {}
    for child in root:
        assert not child.attrib and len(child) == 0, content
        assert child.tag not in fields, content
        fields[child.tag] = child.text or ""
    return fields


def post(platform: Harness, path: str, body: bytes, method: str = "POST") -> dict[str, str]:
    """Send body as is; the answer must be HTTP 200 text/xml with an <xml> root and return_code."""
    response = platform.http.request(method, path, content=body)
    assert response.status_code == 200, (response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith("text/xml"), response.headers
    answer = parse_answer(response.content)
    assert answer.get("return_code") in ("SUCCESS", "FAIL"), answer
    return answer


def assert_fault(answer: Mapping[str, str], return_msg: str) -> None:
    """A protocol failure: exactly return_code=FAIL and return_msg, never signed."""
    assert dict(answer) == {"return_code": "FAIL", "return_msg": return_msg}


def assert_signed(answer: Mapping[str, str], key: str, sign_type: str = MD5) -> None:
    assert answer["return_code"] == "SUCCESS", answer
    assert "sign_type" not in answer, answer
    assert len(answer["sign"]) == (64 if sign_type == HMAC else 32), answer
    assert answer["sign"] == v2_sign(answer, key, sign_type), answer
    assert answer.get("nonce_str"), answer


def assert_rejected(
    answer: Mapping[str, str],
    merchant: MerchantInfo,
    request: Mapping[str, object],
    err_code: str,
    err_code_des: str,
    sign_type: str = MD5,
) -> None:
    """A business refusal: return SUCCESS, result FAIL, signed, echoing appid and mch_id."""
    assert_signed(answer, merchant.api_key, sign_type)
    assert answer["return_msg"] == "OK", answer
    assert answer["result_code"] == "FAIL", answer
    assert answer["err_code"] == err_code, answer
    assert answer["err_code_des"] == err_code_des, answer
    assert answer["mch_id"] == request["mch_id"], answer
    assert answer["appid"] == request["appid"], answer


# --- requests ---------------------------------------------------------------------------------
def common(merchant: MerchantInfo, kind: str = "official_account") -> dict[str, object]:
    return {
        "appid": merchant.apps[kind],
        "mch_id": merchant.mch_id,
        "nonce_str": "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
    }


def order(**extra: object) -> dict[str, object]:
    """A valid NATIVE unifiedorder's own fields."""
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


def valid_request(
    merchant: MerchantInfo, endpoint: str, out_trade_no: str = "T20240101001"
) -> dict[str, object]:
    """A request of the endpoint that passes every protocol check (unsigned)."""
    if endpoint == "unifiedorder":
        return {**common(merchant), **order(out_trade_no=out_trade_no)}
    return {**common(merchant), "out_trade_no": out_trade_no}


def beijing_now(platform: Harness) -> datetime:
    return datetime.fromisoformat(platform.control("GET", "/_local/clock")["now"]).astimezone(
        BEIJING
    )


def wire(moment: datetime) -> str:
    return moment.astimezone(BEIJING).strftime("%Y%m%d%H%M%S")


def place(platform: Harness, merchant: MerchantInfo, **extra: object) -> dict[str, str]:
    """Place a NATIVE order over the wire; its successful, signed answer."""
    request = signed({**common(merchant), **order(**extra)}, merchant.api_key)
    answer = post(platform, PATHS["unifiedorder"], to_xml(request))
    assert_signed(answer, merchant.api_key)
    assert answer["result_code"] == "SUCCESS", answer
    return answer


# --- malformed bodies: 200 + XML, never a 500 --------------------------------------------------
BILLION_LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
    + b"".join(
        f' <!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n'.encode()
        for i in range(1, 10)
    )
    + b"]>\n<xml><mch_id>&lol9;</mch_id></xml>"
)


def nasty_bodies(merchant: MerchantInfo, endpoint: str) -> list[tuple[str, bytes, str]]:
    """(name, body, expected return_msg) for every hostile or broken body we can think of."""
    good = to_xml(signed(valid_request(merchant, endpoint), merchant.api_key))
    mch = merchant.mch_id.encode()
    gbk = (
        f"<xml><mch_id>{merchant.mch_id}</mch_id><body>测试商品</body>"
        "<nonce_str>abc</nonce_str><sign>0</sign></xml>"
    ).encode("gbk")
    many = "".join(f"<extra_{i}>v{i}</extra_{i}>" for i in range(300))
    return [
        ("empty", b"", "post数据为空"),
        ("whitespace", b" \r\n\t  \n", "post数据为空"),
        ("not xml", b"mch_id=1900000109&sign=ABC", "XML格式错误"),
        ("json", b'{"mch_id": "1900000109", "sign": "ABC"}', "XML格式错误"),
        ("truncated", good[: len(good) // 2], "XML格式错误"),
        ("unclosed root", good[: -len(b"</xml>")], "XML格式错误"),
        ("billion laughs", BILLION_LAUGHS, "XML格式错误"),
        (
            "xxe file",
            b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
            b"<xml><mch_id>" + mch + b"</mch_id><attach>&xxe;</attach></xml>",
            "XML格式错误",
        ),
        (
            "xxe http",
            b'<!DOCTYPE xml [<!ENTITY xxe SYSTEM "http://127.0.0.1:9/secret">]>'
            b"<xml><mch_id>" + mch + b"</mch_id><attach>&xxe;</attach></xml>",
            "XML格式错误",
        ),
        (
            "parameter entity",
            b'<!DOCTYPE xml [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x.dtd"> %p;]>'
            b"<xml><mch_id>" + mch + b"</mch_id></xml>",
            "XML格式错误",
        ),
        ("doctype", b"<!DOCTYPE xml>" + good, "XML格式错误"),
        ("undeclared entity", b"<xml><mch_id>&xxe;</mch_id></xml>", "XML格式错误"),
        (
            "processing instruction",
            b'<?xml-stylesheet href="http://127.0.0.1:9/x.xsl"?>' + good,
            "XML格式错误",
        ),
        (
            "nested elements",
            b"<xml><mch_id>" + mch + b"</mch_id><detail><goods><id>1</id></goods></detail></xml>",
            "XML格式错误",
        ),
        (
            "attributes",
            b'<xml><mch_id type="string">' + mch + b"</mch_id></xml>",
            "XML格式错误",
        ),
        (
            "attribute on root",
            good.replace(b"<xml>", b'<xml a="1">', 1),
            "XML格式错误",
        ),
        (
            "wrong root",
            good.replace(b"<xml>", b"<request>").replace(b"</xml>", b"</request>"),
            "XML格式错误",
        ),
        ("two roots", good + good, "XML格式错误"),
        (
            "duplicate field",
            good.replace(b"</xml>", b"<mch_id>" + mch + b"</mch_id></xml>"),
            "XML格式错误",
        ),
        ("text in root", b"<xml>just text</xml>", "XML格式错误"),
        (
            "nul character reference",
            b"<xml><mch_id>&#0;</mch_id></xml>",
            "XML格式错误",
        ),
        ("gbk chinese", gbk, "编码格式错误"),
        ("latin-1 byte", b"<xml><body>caf\xe9</body></xml>", "编码格式错误"),
        (
            "70 kB",
            b"<xml><mch_id>" + mch + b"</mch_id><attach>" + b"a" * 70_000 + b"</attach></xml>",
            "请求数据过长",
        ),
        ("nul bytes", b"\x00" * 256, "XML格式错误"),
        (
            "300 fields",
            good.replace(b"</xml>", many.encode() + b"</xml>"),
            "XML格式错误",
        ),
    ]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_endpoint_nasty_bodies_answer_200_fault_and_server_survives(
    platform: Harness, endpoint: str
) -> None:
    merchant = platform.merchant()
    wrong: list[tuple[str, Any]] = []
    for name, body, expected in nasty_bodies(merchant, endpoint):
        response = platform.http.post(PATHS[endpoint], content=body)
        if response.status_code != 200:
            wrong.append((name, f"HTTP {response.status_code}: {response.text[:200]}"))
            continue
        try:
            answer = parse_answer(response.content)
        except (ET.ParseError, AssertionError):
            wrong.append((name, f"not a flat <xml> answer: {response.text[:200]!r}"))
            continue
        if answer != {"return_code": "FAIL", "return_msg": expected}:
            wrong.append((name, answer))
        if "root:" in response.text:
            wrong.append((name, "the answer leaks a local file"))
    assert not wrong, wrong

    # The platform still serves a good request after all that.
    request = signed(valid_request(merchant, endpoint), merchant.api_key)
    answer = post(platform, PATHS[endpoint], to_xml(request))
    assert_signed(answer, merchant.api_key)
    if endpoint == "unifiedorder":
        assert answer["result_code"] == "SUCCESS", answer
    else:
        assert answer["err_code"] == "ORDERNOTEXIST", answer


def test_unifiedorder_external_entities_never_fetched_answer_xml_format_error(
    platform: Harness,
) -> None:
    merchant = platform.merchant()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.settimeout(0.3)
        port = listener.getsockname()[1]
        for body in (
            f'<!DOCTYPE xml [<!ENTITY x SYSTEM "http://127.0.0.1:{port}/x">]>'
            f"<xml><mch_id>{merchant.mch_id}</mch_id><attach>&x;</attach></xml>",
            f'<!DOCTYPE xml [<!ENTITY % p SYSTEM "http://127.0.0.1:{port}/p.dtd"> %p;]>'
            f"<xml><mch_id>{merchant.mch_id}</mch_id></xml>",
            f'<!DOCTYPE xml SYSTEM "http://127.0.0.1:{port}/d.dtd">'
            f"<xml><mch_id>{merchant.mch_id}</mch_id></xml>",
        ):
            answer = post(platform, PATHS["unifiedorder"], body.encode())
            assert_fault(answer, "XML格式错误")
        with pytest.raises(TimeoutError):
            listener.accept()  # nobody dialled the entity's URL


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_endpoint_non_post_method_answers_require_post(platform: Harness, endpoint: str) -> None:
    merchant = platform.merchant()
    body = to_xml(signed(valid_request(merchant, endpoint), merchant.api_key))
    for method in ("GET", "PUT", "DELETE", "PATCH"):
        answer = post(platform, PATHS[endpoint], b"" if method == "GET" else body, method=method)
        assert_fault(answer, "请使用post方法")
    # ... and nothing was done: the PUT of a valid unifiedorder placed no order.
    assert platform.control("GET", "/_local/orders", mch_id=merchant.mch_id)["orders"] == []


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_endpoint_any_content_type_accepted(platform: Harness, endpoint: str) -> None:
    merchant = platform.merchant()
    for n, content_type in enumerate(
        ("text/xml", "application/xml; charset=utf-8", "application/json", "")
    ):
        request = signed(valid_request(merchant, endpoint, f"TCT{n}"), merchant.api_key)
        response = platform.http.post(
            PATHS[endpoint], content=to_xml(request), headers={"content-type": content_type}
        )
        assert response.status_code == 200
        answer = parse_answer(response.content)
        assert_signed(answer, merchant.api_key)


# --- protocol layer: merchant, signature, sign_type --------------------------------------------
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_endpoint_missing_mch_id_answers_lack_params(platform: Harness, endpoint: str) -> None:
    merchant = platform.merchant()
    request = valid_request(merchant, endpoint)
    del request["mch_id"]
    answer = post(platform, PATHS[endpoint], to_xml(signed(request, merchant.api_key)))
    assert_fault(answer, "缺少参数")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_endpoint_empty_mch_id_answers_lack_params(platform: Harness, endpoint: str) -> None:
    merchant = platform.merchant()
    request = {**valid_request(merchant, endpoint), "mch_id": ""}
    answer = post(platform, PATHS[endpoint], to_xml(signed(request, merchant.api_key)))
    assert_fault(answer, "缺少参数")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_endpoint_unknown_mch_id_answers_mchid_not_exist(platform: Harness, endpoint: str) -> None:
    merchant = platform.merchant()
    request = {**valid_request(merchant, endpoint), "mch_id": "1999999999"}
    answer = post(platform, PATHS[endpoint], to_xml(signed(request, merchant.api_key)))
    assert_fault(answer, "mch_id不存在")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_endpoint_missing_sign_answers_lack_params(platform: Harness, endpoint: str) -> None:
    merchant = platform.merchant()
    answer = post(platform, PATHS[endpoint], to_xml(valid_request(merchant, endpoint)))
    assert_fault(answer, "缺少参数")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_endpoint_empty_sign_answers_lack_params(platform: Harness, endpoint: str) -> None:
    merchant = platform.merchant()
    request = {**valid_request(merchant, endpoint), "sign": ""}
    answer = post(platform, PATHS[endpoint], to_xml(request))
    assert_fault(answer, "缺少参数")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_endpoint_wrong_key_answers_sign_error(platform: Harness, endpoint: str) -> None:
    merchant = platform.merchant()
    other = platform.merchant()
    request = signed(valid_request(merchant, endpoint), other.api_key)
    answer = post(platform, PATHS[endpoint], to_xml(request))
    assert_fault(answer, "签名错误")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_endpoint_overlong_sign_answers_sign_length_error(platform: Harness, endpoint: str) -> None:
    """§1.4: a sign longer than String(64) is a length fault, observed as sign参数长度有误."""
    merchant = platform.merchant()
    request = {**valid_request(merchant, endpoint), "sign": "A" * 65}
    answer = post(platform, PATHS[endpoint], to_xml(request))
    assert_fault(answer, "sign参数长度有误")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_endpoint_tampered_field_answers_sign_error(platform: Harness, endpoint: str) -> None:
    merchant = platform.merchant()
    request = signed(valid_request(merchant, endpoint), merchant.api_key)
    request["out_trade_no"] = "T20240101002"
    answer = post(platform, PATHS[endpoint], to_xml(request))
    assert_fault(answer, "签名错误")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("sign_type", ["SHA1", "md5", "HMAC-SHA1"])
def test_endpoint_unknown_sign_type_answers_sign_type_error(
    platform: Harness, endpoint: str, sign_type: str
) -> None:
    merchant = platform.merchant()
    request = signed(
        {**valid_request(merchant, endpoint), "sign_type": sign_type}, merchant.api_key
    )
    answer = post(platform, PATHS[endpoint], to_xml(request))
    assert_fault(answer, "签名类型错误")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_endpoint_explicit_md5_sign_type_answers_signed_md5(
    platform: Harness, endpoint: str
) -> None:
    merchant = platform.merchant()
    request = signed({**valid_request(merchant, endpoint), "sign_type": MD5}, merchant.api_key)
    answer = post(platform, PATHS[endpoint], to_xml(request))
    assert_signed(answer, merchant.api_key, MD5)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_endpoint_empty_sign_type_means_md5(platform: Harness, endpoint: str) -> None:
    merchant = platform.merchant()
    request = signed(valid_request(merchant, endpoint), merchant.api_key)
    request["sign_type"] = ""  # empty: takes no part in the signature, defaults to MD5
    answer = post(platform, PATHS[endpoint], to_xml(request))
    assert_signed(answer, merchant.api_key, MD5)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_endpoint_hmac_sha256_request_answers_signed_hmac_success(
    platform: Harness, endpoint: str
) -> None:
    merchant = platform.merchant()
    if endpoint != "unifiedorder":
        place(platform, merchant)
        platform.advance(301)  # closeorder needs the order to be five minutes old
    request = signed(
        {**valid_request(merchant, endpoint), "sign_type": HMAC}, merchant.api_key, HMAC
    )
    answer = post(platform, PATHS[endpoint], to_xml(request))
    assert_signed(answer, merchant.api_key, HMAC)
    assert answer["result_code"] == "SUCCESS", answer
    assert answer["sign"] != v2_sign(answer, merchant.api_key, MD5)
    assert all(c in "0123456789ABCDEF" for c in answer["sign"])


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_endpoint_hmac_business_failure_answers_signed_hmac(
    platform: Harness, endpoint: str
) -> None:
    merchant = platform.merchant()
    if endpoint == "unifiedorder":
        place(platform, merchant)
        request = {**valid_request(merchant, endpoint), "total_fee": 1, "sign_type": HMAC}
        expected = ("INVALID_REQUEST", "201 商户订单号重复")
    else:
        request = {**valid_request(merchant, endpoint), "sign_type": HMAC}
        expected = ("ORDERNOTEXIST", "订单不存在")
    request = signed(request, merchant.api_key, HMAC)
    answer = post(platform, PATHS[endpoint], to_xml(request))
    assert_rejected(answer, merchant, request, *expected, sign_type=HMAC)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_endpoint_md5_sign_with_hmac_sign_type_answers_sign_error(
    platform: Harness, endpoint: str
) -> None:
    merchant = platform.merchant()
    request = signed(
        {**valid_request(merchant, endpoint), "sign_type": HMAC}, merchant.api_key, MD5
    )
    answer = post(platform, PATHS[endpoint], to_xml(request))
    assert_fault(answer, "签名错误")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_endpoint_hmac_sign_without_sign_type_answers_sign_error(
    platform: Harness, endpoint: str
) -> None:
    merchant = platform.merchant()
    request = valid_request(merchant, endpoint)
    request["sign"] = v2_sign({**request, "sign_type": HMAC}, merchant.api_key, HMAC)
    answer = post(platform, PATHS[endpoint], to_xml(request))
    assert_fault(answer, "签名错误")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("sign_type", [MD5, HMAC])
def test_endpoint_lowercase_hex_sign_answers_sign_error(
    platform: Harness, endpoint: str, sign_type: str
) -> None:
    merchant = platform.merchant()
    request = valid_request(merchant, endpoint)
    if sign_type == HMAC:
        request["sign_type"] = HMAC
    request = signed(request, merchant.api_key, sign_type)
    request["sign"] = str(request["sign"]).lower()
    answer = post(platform, PATHS[endpoint], to_xml(request))
    assert_fault(answer, "签名错误")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_endpoint_unknown_field_signed_accepted(platform: Harness, endpoint: str) -> None:
    merchant = platform.merchant()
    request = signed(
        {**valid_request(merchant, endpoint), "zz_future_field": "x", "Aa_upper": "y"},
        merchant.api_key,
    )
    answer = post(platform, PATHS[endpoint], to_xml(request))
    assert_signed(answer, merchant.api_key)
    assert "zz_future_field" not in answer


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_endpoint_unknown_field_left_out_of_signature_answers_sign_error(
    platform: Harness, endpoint: str
) -> None:
    merchant = platform.merchant()
    request = signed(valid_request(merchant, endpoint), merchant.api_key)
    request["zz_future_field"] = "x"
    answer = post(platform, PATHS[endpoint], to_xml(request))
    assert_fault(answer, "签名错误")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_endpoint_empty_elements_ignored_in_signature(platform: Harness, endpoint: str) -> None:
    merchant = platform.merchant()
    request = signed(valid_request(merchant, endpoint), merchant.api_key)
    body = to_xml(request).replace(
        b"</xml>",
        b"<device_info></device_info><attach><![CDATA[]]></attach><zz_extra/><version></version>"
        b"</xml>",
    )
    answer = post(platform, PATHS[endpoint], body)
    assert_signed(answer, merchant.api_key)
    assert "device_info" not in answer  # an empty device_info is not echoed


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_endpoint_empty_element_signed_by_client_answers_sign_error(
    platform: Harness, endpoint: str
) -> None:
    """A client that (wrongly) signed 'device_info=' is refused: empty fields never take part."""
    merchant = platform.merchant()
    request = {**valid_request(merchant, endpoint), "device_info": ""}
    s = "&".join(f"{k}={v}" for k, v in sorted(request.items())) + "&key=" + merchant.api_key
    request["sign"] = hashlib.md5(s.encode()).hexdigest().upper()
    answer = post(platform, PATHS[endpoint], to_xml(request))
    assert_fault(answer, "签名错误")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_endpoint_values_not_trimmed_before_verification(platform: Harness, endpoint: str) -> None:
    merchant = platform.merchant()
    request = signed(valid_request(merchant, endpoint), merchant.api_key)
    request["nonce_str"] = f" {request['nonce_str']} "  # the client signed the trimmed value
    answer = post(platform, PATHS[endpoint], to_xml(request))
    assert_fault(answer, "签名错误")


def test_unifiedorder_java_sdk_style_body_accepted(platform: Harness) -> None:
    """XML declaration, indentation, escaped text instead of CDATA, unsorted elements (§1.3)."""
    merchant = platform.merchant()
    request = signed(
        {**common(merchant), **order(body="Tea & <Cake>", attach="a\"b'c")}, merchant.api_key
    )
    items = sorted(request.items(), reverse=True)
    lines = ['<?xml version="1.0" encoding="UTF-8" standalone="no"?>', "<xml>"]
    for name, value in items:
        text = str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        lines.append(f"    <{name}>{text}</{name}>")
    lines.append("</xml>")
    answer = post(platform, PATHS["unifiedorder"], "\n".join(lines).encode())
    assert_signed(answer, merchant.api_key)
    assert answer["result_code"] == "SUCCESS", answer


def test_unifiedorder_utf8_bom_and_bare_integers_accepted(platform: Harness) -> None:
    merchant = platform.merchant()
    request = signed({**common(merchant), **order()}, merchant.api_key)
    body = to_xml(request).replace(
        b"<total_fee><![CDATA[1800]]></total_fee>", b"<total_fee>1800</total_fee>"
    )
    answer = post(platform, PATHS["unifiedorder"], b"\xef\xbb\xbf" + body)
    assert_signed(answer, merchant.api_key)
    assert answer["result_code"] == "SUCCESS", answer


def test_unifiedorder_bad_signature_wins_over_bad_fields(platform: Harness) -> None:
    """The signature is checked before the fields: a bad sign is reported as such."""
    merchant = platform.merchant()
    request = {**common(merchant), **order(total_fee="abc")}
    request["sign"] = "0" * 32
    answer = post(platform, PATHS["unifiedorder"], to_xml(request))
    assert_fault(answer, "签名错误")


def test_unifiedorder_errors_keep_their_order_once_the_merchant_key_is_cached(
    platform: Harness,
) -> None:
    """Fields and (with the merchant's key cached by an earlier call) the signature are checked
    before the transaction; the answers still follow signature → fields → appid binding."""
    merchant = platform.merchant()
    first = signed({**common(merchant), **order()}, merchant.api_key)
    assert post(platform, PATHS["unifiedorder"], to_xml(first))["result_code"] == "SUCCESS"
    bad_sign = {**common(merchant), **order(out_trade_no="T2", total_fee="abc")}
    bad_sign["sign"] = "0" * 32
    assert_fault(post(platform, PATHS["unifiedorder"], to_xml(bad_sign)), "签名错误")
    unbound = {**common(merchant), "appid": "wx0000000000000000"}
    bad_fee = signed({**unbound, **order(out_trade_no="T3", total_fee="abc")}, merchant.api_key)
    assert_fault(post(platform, PATHS["unifiedorder"], to_xml(bad_fee)), "total_fee参数格式错误")
    good_fee = signed({**unbound, **order(out_trade_no="T4")}, merchant.api_key)
    answer = post(platform, PATHS["unifiedorder"], to_xml(good_fee))
    assert answer["return_code"] == "SUCCESS" and answer["err_code"] == "APPID_NOT_EXIST", answer


# --- field validation: return_code=FAIL ---------------------------------------------------------
Mutation = Callable[[dict[str, object]], None]


def drop(name: str) -> Mutation:
    def mutate(fields: dict[str, object]) -> None:
        fields.pop(name, None)

    return mutate


def put(**values: object) -> Mutation:
    def mutate(fields: dict[str, object]) -> None:
        for name, value in values.items():
            if value is None:
                fields.pop(name, None)
            else:
                fields[name] = value

    return mutate


UNIFIEDORDER_FAULTS: list[tuple[str, Mutation, str]] = [
    *[
        (f"missing {name}", drop(name), "缺少参数")
        for name in (
            "body",
            "out_trade_no",
            "total_fee",
            "spbill_create_ip",
            "notify_url",
            "trade_type",
            "appid",
            "nonce_str",
        )
    ],
    ("empty body field", put(body=""), "缺少参数"),
    *[
        (f"total_fee {value!r}", put(total_fee=value), "total_fee参数格式错误")
        for value in ("0", "1.5", "-1", "abc", "+5", "1e3", "１００", " 100", "0x10")
    ],
    ("body 129 chars", put(body="x" * 129), "body参数长度有误"),
    ("body 129 chinese chars", put(body="咖" * 129), "body参数长度有误"),
    ("out_trade_no with #", put(out_trade_no="T2024#01"), "out_trade_no参数格式错误"),
    ("out_trade_no chinese", put(out_trade_no="订单001"), "out_trade_no参数格式错误"),
    ("out_trade_no space", put(out_trade_no="T 001"), "out_trade_no参数格式错误"),
    ("out_trade_no 33 chars", put(out_trade_no="T" * 33), "out_trade_no参数长度有误"),
    *[
        (
            f"spbill_create_ip {ip!r}",
            put(spbill_create_ip=ip),
            "spbill_create_ip参数格式错误",
        )
        for ip in ("not-an-ip", "256.1.1.1", "1.2.3", "203.0.113.10:8080", "localhost")
    ],
    *[
        (f"notify_url {url!r}", put(notify_url=url), "notify_url参数格式错误")
        for url in (
            "https://shop.example/notify?order=1",
            "https://shop.example/notify#frag",
            "/wxpay/notify",
            "ftp://shop.example/notify",
            "shop.example/notify",
        )
    ],
    (
        "notify_url 257 chars",
        put(notify_url="https://shop.example/" + "n" * 236),
        "notify_url参数长度有误",
    ),
    *[
        (f"trade_type {t!r}", put(trade_type=t), "trade_type参数格式错误")
        for t in ("WAP", "MICROPAY", "CASHPAY", "native")
    ],
    ("jsapi without openid", put(trade_type="JSAPI", product_id=None), "JSAPI支付必须传openid"),
    (
        "native without product_id",
        put(product_id=None),
        "trade_type=NATIVE时，product_id为必填参数",
    ),
    (
        "mweb without scene_info",
        put(trade_type="MWEB", product_id=None),
        "trade_type=MWEB时，scene_info为必填参数",
    ),
    (
        "mweb scene_info without h5_info",
        put(
            trade_type="MWEB",
            scene_info='{"store_info":{"id":"SZTX001","name":"腾大餐厅"}}',
        ),
        "trade_type=MWEB时，scene_info为必填参数",
    ),
    ("time_expire 7 digits", put(time_expire="2024131"), "time_expire参数格式错误"),
    (
        "time_expire month 13",
        put(time_expire="20241301120000"),
        "time_expire参数格式错误",
    ),
    (
        "time_expire with dashes",
        put(time_expire="2024-01-01T120"),
        "time_expire参数格式错误",
    ),
    ("time_start feb 30", put(time_start="20240230120000"), "time_start参数格式错误"),
    ("fee_type USD", put(fee_type="USD"), "fee_type参数格式错误"),
    ("limit_pay credit", put(limit_pay="credit"), "limit_pay参数格式错误"),
    ("detail not json", put(detail="{goods_detail:["), "detail参数格式错误"),
    ("scene_info not json", put(scene_info="h5_info"), "scene_info参数格式错误"),
    ("attach 128 chars", put(attach="a" * 128), "attach参数长度有误"),
    ("nonce_str 33 chars", put(nonce_str="n" * 33), "nonce_str参数长度有误"),
    ("appid 33 chars", put(appid="w" * 33), "appid参数长度有误"),
]


@pytest.mark.parametrize(
    ("mutate", "return_msg"),
    [pytest.param(m, msg, id=name) for name, m, msg in UNIFIEDORDER_FAULTS],
)
def test_unifiedorder_invalid_field_answers_fault(
    platform: Harness, mutate: Mutation, return_msg: str
) -> None:
    merchant = platform.merchant()
    request = {**common(merchant), **order()}
    mutate(request)
    answer = post(platform, PATHS["unifiedorder"], to_xml(signed(request, merchant.api_key)))
    assert_fault(answer, return_msg)


UNIFIEDORDER_ACCEPTED: list[tuple[str, Mutation]] = [
    ("total_fee 1", put(total_fee="1")),
    ("body 128 chars", put(body="x" * 128)),
    ("body 128 chinese chars", put(body="咖" * 128)),
    ("out_trade_no 32 chars", put(out_trade_no="T" * 32)),
    ("out_trade_no symbols", put(out_trade_no="a-b_c|d*e@f")),
    ("spbill_create_ip ipv6", put(spbill_create_ip="2001:db8::1")),
    ("notify_url https", put(notify_url="https://shop.example/wxpay/notify")),
    ("fee_type CNY", put(fee_type="CNY")),
    ("limit_pay no_credit", put(limit_pay="no_credit")),
    ("app", put(trade_type="APP", product_id=None)),
    (
        "mweb with h5_info",
        put(
            trade_type="MWEB",
            product_id=None,
            scene_info='{"h5_info":{"type":"Wap","wap_url":"https://pay.qq.com","wap_name":"腾讯充值"}}',
        ),
    ),
    ("detail json", put(detail='{"goods_detail":[{"goods_id":"1","quantity":1,"price":1800}]}')),
    ("attach 127 chars", put(attach="a" * 127)),
    ("device_info WEB", put(device_info="WEB")),
]


@pytest.mark.parametrize("mutate", [pytest.param(m, id=name) for name, m in UNIFIEDORDER_ACCEPTED])
def test_unifiedorder_boundary_value_accepted(platform: Harness, mutate: Mutation) -> None:
    merchant = platform.merchant()
    request = {**common(merchant), **order()}
    mutate(request)
    request = signed(request, merchant.api_key)
    answer = post(platform, PATHS["unifiedorder"], to_xml(request))
    assert_signed(answer, merchant.api_key)
    assert answer["result_code"] == "SUCCESS", answer
    assert answer["trade_type"] == request["trade_type"]
    assert answer.get("device_info", "") == request.get("device_info", "")


@pytest.mark.parametrize(
    ("endpoint", "mutate", "return_msg"),
    [
        pytest.param("orderquery", drop("out_trade_no"), "缺少参数", id="orderquery no id"),
        pytest.param(
            "orderquery",
            put(out_trade_no="", transaction_id=""),
            "缺少参数",
            id="orderquery empty ids",
        ),
        pytest.param(
            "orderquery",
            put(out_trade_no="T#1"),
            "out_trade_no参数格式错误",
            id="orderquery out_trade_no with #",
        ),
        pytest.param(
            "orderquery",
            put(transaction_id="4" * 33),
            "transaction_id参数长度有误",
            id="orderquery transaction_id 33 chars",
        ),
        pytest.param("orderquery", drop("appid"), "缺少参数", id="orderquery no appid"),
        pytest.param(
            "closeorder",
            drop("out_trade_no"),
            "缺少参数",
            id="closeorder no out_trade_no",
        ),
        pytest.param(
            "closeorder",
            put(out_trade_no="T" * 33),
            "out_trade_no参数长度有误",
            id="closeorder out_trade_no 33 chars",
        ),
        pytest.param(
            "closeorder",
            put(out_trade_no="订单"),
            "out_trade_no参数格式错误",
            id="closeorder out_trade_no chinese",
        ),
        pytest.param("closeorder", drop("nonce_str"), "缺少参数", id="closeorder no nonce"),
    ],
)
def test_query_and_close_invalid_field_answers_fault(
    platform: Harness, endpoint: str, mutate: Mutation, return_msg: str
) -> None:
    merchant = platform.merchant()
    request = valid_request(merchant, endpoint)
    mutate(request)
    answer = post(platform, PATHS[endpoint], to_xml(signed(request, merchant.api_key)))
    assert_fault(answer, return_msg)


# --- business layer: return_code=SUCCESS, result_code=FAIL, signed ------------------------------
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_endpoint_appid_of_another_merchant_answers_appid_mchid_not_match(
    platform: Harness, endpoint: str
) -> None:
    merchant = platform.merchant()
    other = platform.merchant()
    request = {**valid_request(merchant, endpoint), "appid": other.apps["official_account"]}
    request = signed(request, merchant.api_key)
    answer = post(platform, PATHS[endpoint], to_xml(request))
    assert_rejected(answer, merchant, request, "APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_endpoint_unknown_appid_answers_appid_not_exist(platform: Harness, endpoint: str) -> None:
    merchant = platform.merchant()
    request = {**valid_request(merchant, endpoint), "appid": "wx0000000000000000"}
    request = signed(request, merchant.api_key)
    answer = post(platform, PATHS[endpoint], to_xml(request))
    assert_rejected(answer, merchant, request, "APPID_NOT_EXIST", "APPID不存在")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_endpoint_business_failure_echoes_device_info(platform: Harness, endpoint: str) -> None:
    merchant = platform.merchant()
    request = {**valid_request(merchant, endpoint), "appid": "wx0000000000000000"}
    request = signed({**request, "device_info": "WEB"}, merchant.api_key)
    answer = post(platform, PATHS[endpoint], to_xml(request))
    assert_rejected(answer, merchant, request, "APPID_NOT_EXIST", "APPID不存在")
    assert answer["device_info"] == "WEB"


def test_unifiedorder_jsapi_unknown_openid_answers_param_error(platform: Harness) -> None:
    merchant = platform.merchant()
    request = {
        **common(merchant),
        **order(trade_type="JSAPI", product_id=None, openid="oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"),
    }
    request = signed(request, merchant.api_key)
    answer = post(platform, PATHS["unifiedorder"], to_xml(request))
    assert_rejected(answer, merchant, request, "PARAM_ERROR", "无效的openid")


def test_unifiedorder_jsapi_openid_of_another_appid_answers_param_error(
    platform: Harness,
) -> None:
    merchant = platform.merchant()
    payer = platform.payer()
    foreign = platform.openid(payer["payer_id"], merchant.apps["mini_program"])
    request = {
        **common(merchant, "official_account"),
        **order(trade_type="JSAPI", product_id=None, openid=foreign),
    }
    request = signed(request, merchant.api_key)
    answer = post(platform, PATHS["unifiedorder"], to_xml(request))
    assert_rejected(answer, merchant, request, "PARAM_ERROR", "appid和openid不匹配")


def test_unifiedorder_jsapi_openid_of_its_appid_answers_success(platform: Harness) -> None:
    merchant = platform.merchant()
    payer = platform.payer()
    openid = platform.openid(payer["payer_id"], merchant.apps["mini_program"])
    request = {
        **common(merchant, "mini_program"),
        **order(trade_type="JSAPI", product_id=None, openid=openid),
    }
    answer = post(platform, PATHS["unifiedorder"], to_xml(signed(request, merchant.api_key)))
    assert_signed(answer, merchant.api_key)
    assert answer["result_code"] == "SUCCESS", answer


@pytest.mark.parametrize("minutes", [-10, 0, 1, 4])
def test_unifiedorder_time_expire_under_five_minutes_answers_param_error(
    platform: Harness, minutes: int
) -> None:
    merchant = platform.merchant()
    expire = wire(beijing_now(platform) + timedelta(minutes=minutes))
    request = signed({**common(merchant), **order(time_expire=expire)}, merchant.api_key)
    answer = post(platform, PATHS["unifiedorder"], to_xml(request))
    assert_rejected(
        answer,
        merchant,
        request,
        "PARAM_ERROR",
        "time_expire时间过短，刷卡至少1分钟，其他5分钟",
    )


def test_unifiedorder_time_expire_under_five_minutes_after_time_start_answers_param_error(
    platform: Harness,
) -> None:
    merchant = platform.merchant()
    start = beijing_now(platform) + timedelta(hours=1)
    request = {
        **common(merchant),
        **order(time_start=wire(start), time_expire=wire(start + timedelta(minutes=4))),
    }
    request = signed(request, merchant.api_key)
    answer = post(platform, PATHS["unifiedorder"], to_xml(request))
    assert_rejected(
        answer,
        merchant,
        request,
        "PARAM_ERROR",
        "time_expire时间过短，刷卡至少1分钟，其他5分钟",
    )


def test_unifiedorder_time_expire_in_the_past_answers_param_error(platform: Harness) -> None:
    merchant = platform.merchant()
    now = beijing_now(platform)
    request = {
        **common(merchant),
        **order(
            time_start=wire(now - timedelta(hours=1)),
            time_expire=wire(now - timedelta(minutes=10)),
        ),
    }
    request = signed(request, merchant.api_key)
    answer = post(platform, PATHS["unifiedorder"], to_xml(request))
    assert_rejected(answer, merchant, request, "PARAM_ERROR", "交易有效截止时间非法")


def test_unifiedorder_time_expire_over_five_minutes_answers_success(platform: Harness) -> None:
    merchant = platform.merchant()
    expire = wire(beijing_now(platform) + timedelta(minutes=6))
    place(platform, merchant, time_expire=expire)


@pytest.mark.parametrize(
    "change",
    [
        {"total_fee": 1801},
        {"body": "测试商城-红茶"},
        {"attach": "table=9"},
        {"product_id": "mocha"},
        {"trade_type": "APP", "product_id": None},
    ],
    ids=lambda change: ",".join(change),
)
def test_unifiedorder_reentry_with_changed_field_answers_invalid_request(
    platform: Harness, change: dict[str, object]
) -> None:
    merchant = platform.merchant()
    place(platform, merchant)
    request = signed({**common(merchant), **order(**change)}, merchant.api_key)
    answer = post(platform, PATHS["unifiedorder"], to_xml(request))
    assert_rejected(answer, merchant, request, "INVALID_REQUEST", "201 商户订单号重复")


def test_unifiedorder_identical_reentry_answers_success(platform: Harness) -> None:
    merchant = platform.merchant()
    first = place(platform, merchant)
    again = place(platform, merchant, notify_url="http://127.0.0.1:9/other/notify")
    assert again["prepay_id"].startswith("wx")
    assert again["trade_type"] == first["trade_type"]
    assert again["code_url"].startswith("weixin://wxpay/bizpayurl?pr=")


@pytest.mark.parametrize("by", ["out_trade_no", "transaction_id"])
def test_orderquery_unknown_order_answers_ordernotexist(platform: Harness, by: str) -> None:
    merchant = platform.merchant()
    place(platform, merchant, out_trade_no="TKNOWN")
    request = {
        **common(merchant),
        by: "4200000695202401011234567890" if by == "transaction_id" else "TNOPE",
    }
    request = signed(request, merchant.api_key)
    answer = post(platform, PATHS["orderquery"], to_xml(request))
    assert_rejected(answer, merchant, request, "ORDERNOTEXIST", "订单不存在")


def test_orderquery_order_of_another_merchant_answers_ordernotexist(platform: Harness) -> None:
    merchant = platform.merchant()
    other = platform.merchant()
    place(platform, other)
    request = signed(valid_request(merchant, "orderquery"), merchant.api_key)
    answer = post(platform, PATHS["orderquery"], to_xml(request))
    assert_rejected(answer, merchant, request, "ORDERNOTEXIST", "订单不存在")


def test_orderquery_failed_unifiedorder_answers_ordernotexist(platform: Harness) -> None:
    merchant = platform.merchant()
    refused = signed(
        {**common(merchant), **order(trade_type="JSAPI", product_id=None, openid="o-unknown")},
        merchant.api_key,
    )
    assert post(platform, PATHS["unifiedorder"], to_xml(refused))["result_code"] == "FAIL"
    request = signed(valid_request(merchant, "orderquery"), merchant.api_key)
    answer = post(platform, PATHS["orderquery"], to_xml(request))
    assert_rejected(answer, merchant, request, "ORDERNOTEXIST", "订单不存在")


def test_closeorder_unknown_order_answers_ordernotexist(platform: Harness) -> None:
    merchant = platform.merchant()
    request = signed(valid_request(merchant, "closeorder"), merchant.api_key)
    answer = post(platform, PATHS["closeorder"], to_xml(request))
    assert_rejected(answer, merchant, request, "ORDERNOTEXIST", "订单不存在")


def test_closeorder_within_five_minutes_answers_param_error(platform: Harness) -> None:
    merchant = platform.merchant()
    place(platform, merchant)
    platform.advance(290)
    request = signed(valid_request(merchant, "closeorder"), merchant.api_key)
    answer = post(platform, PATHS["closeorder"], to_xml(request))
    assert_rejected(answer, merchant, request, "PARAM_ERROR", "订单生成后5分钟内不能关单")
    query = post(
        platform,
        PATHS["orderquery"],
        to_xml(signed(valid_request(merchant, "orderquery"), merchant.api_key)),
    )
    assert query["trade_state"] == "NOTPAY"


def test_closeorder_after_five_minutes_closes_for_good(platform: Harness) -> None:
    merchant = platform.merchant()
    placed = place(platform, merchant)
    platform.advance(301)

    request = signed(valid_request(merchant, "closeorder"), merchant.api_key)
    answer = post(platform, PATHS["closeorder"], to_xml(request))
    assert_signed(answer, merchant.api_key)
    assert answer["result_code"] == "SUCCESS", answer
    assert answer["result_msg"] == "OK"
    assert answer["appid"] == request["appid"] and answer["mch_id"] == request["mch_id"]

    query = post(
        platform,
        PATHS["orderquery"],
        to_xml(signed(valid_request(merchant, "orderquery"), merchant.api_key)),
    )
    assert query["trade_state"] == "CLOSED"
    assert query["trade_state_desc"] == "订单已关闭"

    again = signed({**valid_request(merchant, "closeorder"), "nonce_str": "n2"}, merchant.api_key)
    answer = post(platform, PATHS["closeorder"], to_xml(again))
    assert_rejected(answer, merchant, again, "ORDERCLOSED", "该订单已关闭")

    reentry = signed({**common(merchant), **order()}, merchant.api_key)
    answer = post(platform, PATHS["unifiedorder"], to_xml(reentry))
    assert_rejected(answer, merchant, reentry, "ORDERCLOSED", "该订单已关闭")

    payer = platform.payer()
    paid = platform.pay(payer["payer_id"], code_url=placed["code_url"])
    assert paid["outcome"] == "ORDER_CLOSED", paid
    paid = platform.pay(payer["payer_id"], prepay_id=placed["prepay_id"])
    assert paid["outcome"] == "ORDER_CLOSED", paid


# --- nothing is written by a refused request ---------------------------------------------------
def test_unifiedorder_refused_requests_write_no_order(platform: Harness) -> None:
    merchant = platform.merchant()
    other = platform.merchant()
    now = beijing_now(platform)
    base = {**common(merchant), **order()}
    refused: list[bytes] = [
        to_xml(signed(base, other.api_key)),  # bad signature
        to_xml({**base, "sign": v2_sign(base, merchant.api_key).lower()}),
        to_xml(signed({**base, "sign_type": "SHA1"}, merchant.api_key)),
        to_xml(signed({**base, "total_fee": "0"}, merchant.api_key)),
        to_xml(signed({**base, "body": "x" * 129}, merchant.api_key)),
        to_xml(signed({**base, "product_id": ""}, merchant.api_key)),
        to_xml(signed({**base, "appid": other.apps["app"]}, merchant.api_key)),
        to_xml(signed({**base, "appid": "wx0000000000000000"}, merchant.api_key)),
        to_xml(
            signed(
                {**base, "trade_type": "JSAPI", "product_id": "", "openid": "o-unknown"},
                merchant.api_key,
            )
        ),
        to_xml(signed({**base, "time_expire": wire(now + timedelta(minutes=2))}, merchant.api_key)),
        b"<!DOCTYPE xml>" + to_xml(signed(base, merchant.api_key)),
        to_xml(signed(base, merchant.api_key)).replace(b"</xml>", b"<a><b/></a></xml>"),
    ]
    for body in refused:
        answer = post(platform, PATHS["unifiedorder"], body)
        assert answer["return_code"] == "FAIL" or answer["result_code"] == "FAIL", answer
    assert platform.control("GET", "/_local/orders", mch_id=merchant.mch_id)["orders"] == []
    assert platform.control("GET", "/_local/orders", mch_id=other.mch_id)["orders"] == []
    query = signed({**common(merchant), "out_trade_no": base["out_trade_no"]}, merchant.api_key)
    answer = post(platform, PATHS["orderquery"], to_xml(query))
    assert answer["err_code"] == "ORDERNOTEXIST", answer
