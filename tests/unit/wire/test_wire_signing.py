"""Unit tests for wxpay_local.wire.signing: the v2 signature of spec §3.

Every worked example and official vector printed in the spec is a parametrised known-answer test
below; the values are copied verbatim from /work/shared/spec (protocol-and-payments.md §3.3,
§6.1-§6.3 and refunds-bills-notifications.md §1 and §4.8).
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from wxpay_local.codes import SignType
from wxpay_local.wire.signing import Mismatch, canonical_string, explain_mismatch, sign, verify

pytestmark = pytest.mark.unit

MD5 = SignType.MD5
HMAC = SignType.HMAC_SHA256

# protocol-and-payments.md §3.3 example key (also used by §6.1-§6.3).
KEY_33 = "Wh7Qx2LmP9sT4vB8nK3dR6yF1gJ5zC0a"
# refunds-bills-notifications.md §1.1 example key.
KEY_RBN = "Zk9s3Hq7Lm2Xc8Vb4Nn6Tt1Rr5Ww0PaE"
# Official signing-guide key and the JSAPI vectors' key (§3.3 table).
KEY_OFFICIAL = "192006250b4c09247ec02edce69f6a2d"
KEY_JSAPI = "qazwsxedcrfvtgbyhnujmikolp111111"

UNIFIEDORDER_33 = {
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

RESPONSE_13 = {
    "return_code": "SUCCESS",
    "return_msg": "OK",
    "appid": "wx8888888888888888",
    "mch_id": "1900000109",
    "nonce_str": "IITRi8Iabbblz1Jc",
    "result_code": "SUCCESS",
    "prepay_id": "wx201411101639507cbf6ffd8b0779950874",
    "trade_type": "JSAPI",
}

OFFICIAL = {
    "appid": "wxd930ea5d5a258f4f",
    "body": "test",
    "device_info": "1000",
    "mch_id": "10000100",
    "nonce_str": "ibuaiVcKdpRxkhJA",
}

JSAPI_OFFICIAL_1 = {
    "appId": "wx619a931576afe069",
    "nonceStr": "RIPb5Upk3ku7knU6",
    "package": "prepay_id=wx2611334392677180ea59742b3744840000",
    "signType": "MD5",
    "timeStamp": "1774495197",
}

JSAPI_OFFICIAL_2 = {
    "appId": "wxd678efh567hg6787",
    "nonceStr": "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
    "package": "prepay_id=wx2017033010242291fcfe0db70013231072",
    "signType": "MD5",
    "timeStamp": "1490840662",
}

JSAPI_61 = {
    "appId": "wx8888888888888888",
    "nonceStr": "e61463f8efa94090b1f366cccfbbb444",
    "package": "prepay_id=wx201411101639507cbf6ffd8b0779950874",
    "signType": "MD5",
    "timeStamp": "1704081600",
}

APP_62 = {
    "appid": "wx8888888888888888",
    "partnerid": "1900000109",
    "prepayid": "wx201411101639507cbf6ffd8b0779950874",
    "package": "Sign=WXPay",
    "noncestr": "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
    "timestamp": "1704081600",
}

NATIVE_MODE1_63 = {
    "appid": "wx8888888888888888",
    "mch_id": "1900000109",
    "time_stamp": "1704081600",
    "nonce_str": "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
    "product_id": "P0001",
}

NOTIFY_48 = {
    "appid": "wx1234567890abcdef",
    "attach": "store=SZ01",
    "bank_type": "CMB_CREDIT",
    "cash_fee": "800",
    "fee_type": "CNY",
    "is_subscribe": "N",
    "mch_id": "1900000109",
    "nonce_str": "5f0c3a8e2b7d4c19a6e0f3b2d1c4a597",
    "openid": "o7LFAt0p3Q8sXl2dKqZ9mYbVhR1c",
    "out_trade_no": "T20240430190001",
    "result_code": "SUCCESS",
    "return_code": "SUCCESS",
    "time_end": "20240430190215",
    "total_fee": "800",
    "trade_type": "JSAPI",
    "transaction_id": "4200000000202404300000000001",
}

# stringSignTemp values exactly as printed in the spec (split only to respect the line length).
STRING_33_MD5 = (
    "appid=wx8888888888888888&body=测试商城-会员充值&mch_id=1900000109"
    "&nonce_str=5K8264ILTKCH16CQ2502SI8ZNMTM67VS"
    "&notify_url=https://merchant.example.com/wxpay/notify"
    "&openid=oUpF8uMuAJO_M2pxb1Q9zNjWeS6o&out_trade_no=ORDER20240101120000"
    "&spbill_create_ip=203.0.113.10&total_fee=1&trade_type=JSAPI"
    "&key=Wh7Qx2LmP9sT4vB8nK3dR6yF1gJ5zC0a"
)
STRING_33_HMAC = (
    "appid=wx8888888888888888&body=测试商城-会员充值&mch_id=1900000109"
    "&nonce_str=5K8264ILTKCH16CQ2502SI8ZNMTM67VS"
    "&notify_url=https://merchant.example.com/wxpay/notify"
    "&openid=oUpF8uMuAJO_M2pxb1Q9zNjWeS6o&out_trade_no=ORDER20240101120000"
    "&sign_type=HMAC-SHA256&spbill_create_ip=203.0.113.10&total_fee=1&trade_type=JSAPI"
    "&key=Wh7Qx2LmP9sT4vB8nK3dR6yF1gJ5zC0a"
)
# "With an explicit sign_type=MD5 the string gains &sign_type=MD5 between out_trade_no and
# spbill_create_ip".
STRING_33_EXPLICIT_MD5 = STRING_33_MD5.replace(
    "&out_trade_no=ORDER20240101120000&",
    "&out_trade_no=ORDER20240101120000&sign_type=MD5&",
)
STRING_13_RESPONSE = (
    "appid=wx8888888888888888&mch_id=1900000109&nonce_str=IITRi8Iabbblz1Jc"
    "&prepay_id=wx201411101639507cbf6ffd8b0779950874&result_code=SUCCESS"
    "&return_code=SUCCESS&return_msg=OK&trade_type=JSAPI"
    "&key=Wh7Qx2LmP9sT4vB8nK3dR6yF1gJ5zC0a"
)
STRING_61_MD5 = (
    "appId=wx8888888888888888&nonceStr=e61463f8efa94090b1f366cccfbbb444"
    "&package=prepay_id=wx201411101639507cbf6ffd8b0779950874&signType=MD5"
    "&timeStamp=1704081600&key=Wh7Qx2LmP9sT4vB8nK3dR6yF1gJ5zC0a"
)
STRING_61_HMAC = (
    "appId=wx8888888888888888&nonceStr=e61463f8efa94090b1f366cccfbbb444"
    "&package=prepay_id=wx201411101639507cbf6ffd8b0779950874&signType=HMAC-SHA256"
    "&timeStamp=1704081600&key=Wh7Qx2LmP9sT4vB8nK3dR6yF1gJ5zC0a"
)
STRING_62_APP = (
    "appid=wx8888888888888888&noncestr=5K8264ILTKCH16CQ2502SI8ZNMTM67VS"
    "&package=Sign=WXPay&partnerid=1900000109"
    "&prepayid=wx201411101639507cbf6ffd8b0779950874&timestamp=1704081600"
    "&key=Wh7Qx2LmP9sT4vB8nK3dR6yF1gJ5zC0a"
)
STRING_63_NATIVE = (
    "appid=wx8888888888888888&mch_id=1900000109&nonce_str=5K8264ILTKCH16CQ2502SI8ZNMTM67VS"
    "&product_id=P0001&time_stamp=1704081600&key=Wh7Qx2LmP9sT4vB8nK3dR6yF1gJ5zC0a"
)
STRING_48_NOTIFY = (
    "appid=wx1234567890abcdef&attach=store=SZ01&bank_type=CMB_CREDIT&cash_fee=800"
    "&fee_type=CNY&is_subscribe=N&mch_id=1900000109"
    "&nonce_str=5f0c3a8e2b7d4c19a6e0f3b2d1c4a597&openid=o7LFAt0p3Q8sXl2dKqZ9mYbVhR1c"
    "&out_trade_no=T20240430190001&result_code=SUCCESS&return_code=SUCCESS"
    "&time_end=20240430190215&total_fee=800&trade_type=JSAPI"
    "&transaction_id=4200000000202404300000000001&key=Zk9s3Hq7Lm2Xc8Vb4Nn6Tt1Rr5Ww0PaE"
)

# (fields, key, sign type, stringSignTemp as printed or None, expected sign)
VECTORS = [
    pytest.param(
        UNIFIEDORDER_33,
        KEY_33,
        MD5,
        STRING_33_MD5,
        "781503FB03A2F9A1CEFCE1602D4E79B9",
        id="s3.3-unifiedorder-md5",
    ),
    pytest.param(
        {**UNIFIEDORDER_33, "sign_type": "HMAC-SHA256"},
        KEY_33,
        HMAC,
        STRING_33_HMAC,
        "544563A44BF3BF492DAF6A0B9BF6DE1166880AF5930760F59F4CB50879990C8D",
        id="s3.3-unifiedorder-hmac-sha256",
    ),
    pytest.param(
        {**UNIFIEDORDER_33, "sign_type": "MD5"},
        KEY_33,
        MD5,
        STRING_33_EXPLICIT_MD5,
        "1B3936530F39477E2538B70D13F40134",
        id="s3.3-unifiedorder-explicit-sign_type-md5",
    ),
    pytest.param(
        RESPONSE_13,
        KEY_33,
        MD5,
        STRING_13_RESPONSE,
        "3988271B6557459891A41589CEBB5860",
        id="s3.3-response-md5",
    ),
    pytest.param(
        OFFICIAL,
        KEY_OFFICIAL,
        MD5,
        None,
        "9A0A8659F005D6984697E2CA0A9CF3B7",
        id="s3.3-official-md5",
    ),
    pytest.param(
        OFFICIAL,
        KEY_OFFICIAL,
        HMAC,
        None,
        "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6",
        id="rbn-s1-official-hmac-sha256",
    ),
    pytest.param(
        JSAPI_OFFICIAL_1,
        KEY_JSAPI,
        MD5,
        None,
        "1F2E9533D7D483FBCDBD0B9BCA76F97D",
        id="s3.3-official-jsapi-paysign-md5",
    ),
    pytest.param(
        {**JSAPI_OFFICIAL_1, "signType": "HMAC-SHA256"},
        KEY_JSAPI,
        HMAC,
        None,
        "4A04CF5B979A4920409A9DEF2322C33C96DE8E9A96830E648719C60EF991700E",
        id="s3.3-official-jsapi-paysign-hmac-sha256",
    ),
    pytest.param(
        JSAPI_OFFICIAL_2,
        KEY_JSAPI,
        MD5,
        None,
        "22D9B4E54AB1950F51E0649E8810ACD6",
        id="s3.3-official-jsapi-paysign-md5-2017",
    ),
    pytest.param(
        JSAPI_61,
        KEY_33,
        MD5,
        STRING_61_MD5,
        "D76D8B5DE2F259965C0AE0C58FC3D6E6",
        id="s6.1-jsapi-paysign-md5",
    ),
    pytest.param(
        {**JSAPI_61, "signType": "HMAC-SHA256"},
        KEY_33,
        HMAC,
        STRING_61_HMAC,
        "9D095E3598B98817958201A7119406C289419981A62EB3ED7C703D2BABD15457",
        id="s6.1-jsapi-paysign-hmac-sha256",
    ),
    pytest.param(
        APP_62,
        KEY_33,
        MD5,
        STRING_62_APP,
        "ADA80905840E422B4E15D38798301848",
        id="s6.2-app-md5",
    ),
    pytest.param(
        NATIVE_MODE1_63,
        KEY_33,
        MD5,
        STRING_63_NATIVE,
        "B288830D71850ADD2956E0B55023D4C2",
        id="s6.3-native-mode1-md5",
    ),
    pytest.param(
        NOTIFY_48,
        KEY_RBN,
        MD5,
        STRING_48_NOTIFY,
        "D9001E3EBAEAB07BF31F2683D008529B",
        id="rbn-s4.8-notification-md5",
    ),
    pytest.param(
        NOTIFY_48,
        KEY_RBN,
        HMAC,
        STRING_48_NOTIFY,
        "F1A27F7AF52BFE9EF9D501811248114DCF58B99C8196A2B315A3BDAE0743B84D",
        id="rbn-s4.8-notification-hmac-sha256-without-sign_type",
    ),
]

#: The vectors for which the spec also prints stringSignTemp.
PRINTED_STRINGS = [vector for vector in VECTORS if vector.values[3] is not None]


def v2_sign(params: dict, api_key: str, sign_type: str = "MD5") -> str:
    """The reference implementation printed in spec §3.3, copied verbatim (used as an oracle)."""
    items = sorted(
        (k, v) for k, v in params.items() if k != "sign" and v is not None and str(v) != ""
    )
    s = "&".join(f"{k}={v}" for k, v in items) + "&key=" + api_key
    if sign_type == "HMAC-SHA256":
        return hmac.new(api_key.encode(), s.encode(), hashlib.sha256).hexdigest().upper()
    return hashlib.md5(s.encode()).hexdigest().upper()


def _other(sign_type: SignType) -> SignType:
    return HMAC if sign_type is MD5 else MD5


# --- known-answer vectors ---------------------------------------------------------------------


@pytest.mark.parametrize(("fields", "key", "sign_type", "string", "expected"), VECTORS)
def test_sign_spec_vector_matches(fields, key, sign_type, string, expected):
    assert sign(fields, key, sign_type) == expected


@pytest.mark.parametrize(("fields", "key", "sign_type", "string", "expected"), PRINTED_STRINGS)
def test_canonical_string_spec_vector_matches_printed_string(
    fields, key, sign_type, string, expected
):
    assert canonical_string(fields) + "&key=" + key == string


@pytest.mark.parametrize(("fields", "key", "sign_type", "string", "expected"), VECTORS)
def test_verify_spec_vector_accepts_sign_under_its_algorithm(
    fields, key, sign_type, string, expected
):
    assert verify({**fields, "sign": expected}, key, sign_type) is True


@pytest.mark.parametrize(("fields", "key", "sign_type", "string", "expected"), VECTORS)
def test_verify_spec_vector_rejects_sign_under_other_algorithm(
    fields, key, sign_type, string, expected
):
    assert verify({**fields, "sign": expected}, key, _other(sign_type)) is False


@pytest.mark.parametrize(("fields", "key", "sign_type", "string", "expected"), VECTORS)
def test_verify_spec_vector_rejects_wrong_key(fields, key, sign_type, string, expected):
    wrong_key = key[:-1] + ("A" if key[-1] != "A" else "B")
    assert verify({**fields, "sign": expected}, wrong_key, sign_type) is False


@pytest.mark.parametrize(("fields", "key", "sign_type", "string", "expected"), VECTORS)
def test_sign_spec_vector_matches_reference_implementation(
    fields, key, sign_type, string, expected
):
    assert v2_sign(fields, key, str(sign_type)) == expected


def test_sign_hmac_message_includes_key_suffix():
    # §3.1 step 6: the &key=... suffix is still appended to the HMAC message.
    message = (STRING_33_HMAC).encode("utf-8")
    digest = hmac.new(KEY_33.encode(), message, hashlib.sha256).hexdigest().upper()
    assert sign({**UNIFIEDORDER_33, "sign_type": "HMAC-SHA256"}, KEY_33, HMAC) == digest


# --- canonical string rules -------------------------------------------------------------------


def test_canonical_string_sorts_by_byte_order_uppercase_first():
    assert canonical_string({"b": "1", "a": "2", "B": "3", "_": "4"}) == "B=3&_=4&a=2&b=1"


def test_canonical_string_jsapi_key_order():
    assert canonical_string(JSAPI_61).split("&")[0].startswith("appId=")
    names = [pair.split("=", 1)[0] for pair in canonical_string(JSAPI_61).split("&")]
    assert names == ["appId", "nonceStr", "package", "signType", "timeStamp"]


def test_canonical_string_drops_sign_and_empty_values():
    fields = {"a": "1", "sign": "XYZ", "device_info": "", "b": "2"}
    assert canonical_string(fields) == "a=1&b=2"


def test_canonical_string_drops_none_values():
    assert canonical_string({"a": "1", "b": None}) == "a=1"


def test_canonical_string_keeps_zero():
    # §3.1: a value of 0 is not empty and is signed.
    assert canonical_string({"a": "0", "b": 0}) == "a=0&b=0"


def test_canonical_string_keeps_sign_type_and_unknown_fields():
    fields = {"sign_type": "MD5", "zz_extension": "x", "appid": "wx1"}
    assert canonical_string(fields) == "appid=wx1&sign_type=MD5&zz_extension=x"


def test_canonical_string_uses_values_raw():
    # No URL encoding, no trimming, no XML escaping.
    fields = {"a": " x ", "b": "q=1&r=2", "c": "<&>", "d": "%20"}
    assert canonical_string(fields) == "a= x &b=q=1&r=2&c=<&>&d=%20"


def test_canonical_string_whitespace_only_value_is_not_empty():
    assert canonical_string({"a": " "}) == "a= "


def test_canonical_string_is_case_sensitive_on_names():
    assert canonical_string({"appid": "1", "appId": "2"}) == "appId=2&appid=1"


def test_canonical_string_empty_mapping():
    assert canonical_string({}) == ""


def test_sign_default_algorithm_is_md5():
    assert sign(OFFICIAL, KEY_OFFICIAL) == sign(OFFICIAL, KEY_OFFICIAL, MD5)


def test_sign_ignores_existing_sign_field():
    assert sign({**OFFICIAL, "sign": "WHATEVER"}, KEY_OFFICIAL) == sign(OFFICIAL, KEY_OFFICIAL)


def test_sign_chinese_values_hash_utf8_bytes():
    expected = hashlib.md5(STRING_33_MD5.encode("utf-8")).hexdigest().upper()
    assert sign(UNIFIEDORDER_33, KEY_33) == expected


def test_verify_default_algorithm_is_md5():
    assert verify({**OFFICIAL, "sign": "9A0A8659F005D6984697E2CA0A9CF3B7"}, KEY_OFFICIAL)


def test_verify_missing_sign_is_false():
    assert verify(OFFICIAL, KEY_OFFICIAL, MD5) is False


def test_verify_empty_sign_is_false():
    assert verify({**OFFICIAL, "sign": ""}, KEY_OFFICIAL, MD5) is False


def test_verify_lowercase_sign_is_false():
    # §3.1: the comparison is case-sensitive on the uppercase hex.
    lower = "9a0a8659f005d6984697e2ca0a9cf3b7"
    assert verify({**OFFICIAL, "sign": lower}, KEY_OFFICIAL, MD5) is False


def test_verify_sign_with_surrounding_whitespace_is_false():
    padded = " 9A0A8659F005D6984697E2CA0A9CF3B7 "
    assert verify({**OFFICIAL, "sign": padded}, KEY_OFFICIAL, MD5) is False


def test_verify_extra_unknown_field_must_be_signed():
    fields = {**OFFICIAL, "sign": "9A0A8659F005D6984697E2CA0A9CF3B7", "new_field": "x"}
    assert verify(fields, KEY_OFFICIAL, MD5) is False
    fields["sign"] = sign(fields, KEY_OFFICIAL)
    assert verify(fields, KEY_OFFICIAL, MD5) is True


def test_verify_extra_empty_field_does_not_matter():
    fields = {**OFFICIAL, "sign": "9A0A8659F005D6984697E2CA0A9CF3B7", "new_field": ""}
    assert verify(fields, KEY_OFFICIAL, MD5) is True


@pytest.mark.parametrize("bad_sign", ["签名错误", "9A0A8659F005D6984697E2CA0A9CF3B\u00e9", "Ｘ"])
def test_verify_non_ascii_sign_is_false(bad_sign):
    # A client can send any text in <sign>; verify() runs before field validation in the
    # pipeline, so it must answer False rather than raise.
    assert verify({**OFFICIAL, "sign": bad_sign}, KEY_OFFICIAL, MD5) is False


# --- explain_mismatch -------------------------------------------------------------------------


def _hints(mismatch: Mismatch) -> str:
    return "\n".join(mismatch.hints)


def test_explain_mismatch_reports_expected_and_received():
    fields = {**OFFICIAL, "sign": "0" * 32}
    mismatch = explain_mismatch(fields, KEY_OFFICIAL, MD5)
    assert mismatch.expected == "9A0A8659F005D6984697E2CA0A9CF3B7"
    assert mismatch.received == "0" * 32
    assert mismatch.algorithm == "MD5"
    assert mismatch.fields == ("appid", "body", "device_info", "mch_id", "nonce_str")


def test_explain_mismatch_plain_wrong_sign_has_no_hints():
    mismatch = explain_mismatch({**OFFICIAL, "sign": "0" * 32}, KEY_OFFICIAL, MD5)
    assert mismatch.hints == ()


def test_explain_mismatch_lowercase_hex_hint():
    fields = {**OFFICIAL, "sign": "9a0a8659f005d6984697e2ca0a9cf3b7"}
    hints = _hints(explain_mismatch(fields, KEY_OFFICIAL, MD5))
    assert "not uppercase hex" in hints


def test_explain_mismatch_64_char_sign_with_md5_hint():
    hmac_sign = sign(OFFICIAL, KEY_OFFICIAL, HMAC)
    hints = _hints(explain_mismatch({**OFFICIAL, "sign": hmac_sign}, KEY_OFFICIAL, MD5))
    assert "64-character sign looks like HMAC-SHA256" in hints


def test_explain_mismatch_32_char_sign_with_hmac_hint():
    md5_sign = sign(OFFICIAL, KEY_OFFICIAL, MD5)
    hints = _hints(explain_mismatch({**OFFICIAL, "sign": md5_sign}, KEY_OFFICIAL, HMAC))
    assert "32-character sign looks like MD5" in hints


def test_explain_mismatch_sign_matches_other_algorithm_hmac_hint():
    hmac_sign = sign(OFFICIAL, KEY_OFFICIAL, HMAC)
    mismatch = explain_mismatch({**OFFICIAL, "sign": hmac_sign}, KEY_OFFICIAL, MD5)
    assert "the sign matches HMAC-SHA256" in _hints(mismatch)


def test_explain_mismatch_sign_matches_other_algorithm_md5_hint():
    md5_sign = sign(OFFICIAL, KEY_OFFICIAL, MD5)
    mismatch = explain_mismatch({**OFFICIAL, "sign": md5_sign}, KEY_OFFICIAL, HMAC)
    assert "the sign matches MD5" in _hints(mismatch)


def test_explain_mismatch_random_64_char_sign_does_not_claim_other_algorithm():
    mismatch = explain_mismatch({**OFFICIAL, "sign": "A" * 64}, KEY_OFFICIAL, MD5)
    hints = _hints(mismatch)
    assert "64-character" in hints
    assert "the sign matches" not in hints


def test_explain_mismatch_whitespace_values_hint_names_fields():
    fields = {**OFFICIAL, "body": " test", "attach": "x\n", "sign": "0" * 32}
    hints = [h for h in explain_mismatch(fields, KEY_OFFICIAL, MD5).hints if "whitespace" in h]
    assert len(hints) == 1
    assert "attach" in hints[0] and "body" in hints[0]
    assert "mch_id" not in hints[0]


def test_explain_mismatch_empty_fields_hint():
    fields = {**OFFICIAL, "device_info": "", "attach": "", "sign": "0" * 32}
    mismatch = explain_mismatch(fields, KEY_OFFICIAL, MD5)
    hint = next(h for h in mismatch.hints if "empty fields" in h)
    assert hint.endswith("attach, device_info")
    assert "device_info" not in mismatch.fields


def test_explain_mismatch_signed_string_masks_key():
    mismatch = explain_mismatch({**UNIFIEDORDER_33, "sign": "0" * 32}, KEY_33, MD5)
    canonical = canonical_string(UNIFIEDORDER_33)
    assert mismatch.signed_string == canonical + "&key=Wh7" + "*" * 26 + "C0a"
    assert KEY_33 not in mismatch.signed_string


def test_explain_mismatch_never_exposes_key_anywhere():
    mismatch = explain_mismatch({**OFFICIAL, "sign": "0" * 32}, KEY_OFFICIAL, HMAC)
    for value in dataclasses.asdict(mismatch).values():
        assert KEY_OFFICIAL not in str(value)
    assert KEY_OFFICIAL not in repr(mismatch)


def test_explain_mismatch_non_ascii_sign_does_not_raise():
    mismatch = explain_mismatch({**OFFICIAL, "sign": "签名"}, KEY_OFFICIAL, MD5)
    assert mismatch.received == "签名"


# --- properties -------------------------------------------------------------------------------

# Signing works on decoded text: any Unicode except lone surrogates (which UTF-8 cannot encode).
TEXT = st.characters(exclude_categories=("Cs",))
NAMES = st.text(TEXT, min_size=1, max_size=10).filter(lambda n: n != "sign")
VALUES = st.text(TEXT, max_size=16)
MAPPINGS = st.dictionaries(NAMES, VALUES, max_size=8)
KEYS = st.text(TEXT, min_size=1, max_size=40)
SIGN_TYPES = st.sampled_from(list(SignType))
API_KEYS = st.text(
    st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"),
    min_size=32,
    max_size=32,
)

PROPS = settings(max_examples=200, deadline=None)


@PROPS
@given(fields=MAPPINGS, key=KEYS, sign_type=SIGN_TYPES)
def test_sign_property_matches_reference_and_verifies(fields, key, sign_type):
    result = sign(fields, key, sign_type)
    assert result == v2_sign(fields, key, str(sign_type))
    assert len(result) == (32 if sign_type is MD5 else 64)
    assert set(result) <= set("0123456789ABCDEF")
    assert verify({**fields, "sign": result}, key, sign_type) is True
    assert verify({**fields, "sign": result}, key, _other(sign_type)) is False


@PROPS
@given(data=st.data(), fields=MAPPINGS, key=KEYS, sign_type=SIGN_TYPES)
def test_verify_property_rejects_after_changing_one_value(data, fields, key, sign_type):
    non_empty = sorted(name for name, value in fields.items() if value != "")
    assume(non_empty)
    name = data.draw(st.sampled_from(non_empty), label="changed field")
    new_value = data.draw(
        st.text(TEXT, min_size=1, max_size=16).filter(lambda v: v != fields[name]),
        label="new value",
    )
    signed = {**fields, "sign": sign(fields, key, sign_type)}
    signed[name] = new_value
    assert verify(signed, key, sign_type) is False


@PROPS
@given(
    data=st.data(),
    fields=MAPPINGS,
    extra=st.lists(NAMES, max_size=3),
    received_sign=st.text(TEXT, max_size=64),
)
def test_canonical_string_property_ignores_empty_sign_and_order(data, fields, extra, received_sign):
    expected = canonical_string(fields)
    padded = {**{name: "" for name in extra if name not in fields}, **fields}
    padded["sign"] = received_sign
    shuffled = dict(data.draw(st.permutations(list(padded.items())), label="order"))
    assert canonical_string(shuffled) == expected


@PROPS
@given(
    fields=MAPPINGS,
    key=API_KEYS,
    sign_type=SIGN_TYPES,
    # ASCII only: non-ASCII signs are covered by a dedicated example test.
    received=st.text(st.characters(max_codepoint=0x7F), max_size=64),
)
def test_explain_mismatch_property_never_shows_key(fields, key, sign_type, received):
    assume(key not in canonical_string(fields))
    mismatch = explain_mismatch({**fields, "sign": received}, key, sign_type)
    assert key not in mismatch.signed_string
    assert mismatch.signed_string.startswith(canonical_string(fields) + "&key=")
    assert mismatch.expected == sign(fields, key, sign_type)
