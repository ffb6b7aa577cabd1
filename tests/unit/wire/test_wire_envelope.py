"""Unit tests for wxpay_local.wire.envelope: the three v2 answers (spec §1.4)."""

from __future__ import annotations

import pytest

from wxpay_local.codes import ErrCode, Rejected, SignType
from wxpay_local.wire import envelope
from wxpay_local.wire.signing import sign, verify
from wxpay_local.wire.xml import decode

pytestmark = pytest.mark.unit

KEY = "Wh7Qx2LmP9sT4vB8nK3dR6yF1gJ5zC0a"
NONCE = "IITRi8Iabbblz1Jc"

REQUEST = {
    "appid": "wx8888888888888888",
    "mch_id": "1900000109",
    "device_info": "WEB",
    "nonce_str": "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
    "out_trade_no": "ORDER20240101120000",
    "sign": "IGNORED",
}

SIGN_TYPES = [pytest.param(SignType.MD5, id="md5"), pytest.param(SignType.HMAC_SHA256, id="hmac")]


def _other(sign_type: SignType) -> SignType:
    return SignType.HMAC_SHA256 if sign_type is SignType.MD5 else SignType.MD5


# --- signed success -----------------------------------------------------------------------------


def test_signed_reproduces_spec_response_example():
    # §1.3: the unifiedorder success response and its signature 3988271B... under the §3.3 key.
    request = {"appid": "wx8888888888888888", "mch_id": "1900000109", "sign": "X"}
    outcome = {"prepay_id": "wx201411101639507cbf6ffd8b0779950874", "trade_type": "JSAPI"}
    body = envelope.signed(request, outcome, KEY, SignType.MD5, NONCE)
    fields = decode(body)
    assert fields == {
        "return_code": "SUCCESS",
        "return_msg": "OK",
        "appid": "wx8888888888888888",
        "mch_id": "1900000109",
        "nonce_str": "IITRi8Iabbblz1Jc",
        "sign": "3988271B6557459891A41589CEBB5860",
        "result_code": "SUCCESS",
        "prepay_id": "wx201411101639507cbf6ffd8b0779950874",
        "trade_type": "JSAPI",
    }
    assert list(fields) == [
        "return_code",
        "return_msg",
        "appid",
        "mch_id",
        "nonce_str",
        "sign",
        "result_code",
        "prepay_id",
        "trade_type",
    ]


def test_signed_field_order():
    outcome = {"trade_type": "NATIVE", "prepay_id": "wx1", "code_url": "weixin://wxpay/x"}
    body = envelope.signed(REQUEST, outcome, KEY, SignType.MD5, NONCE)
    assert list(decode(body)) == [
        "return_code",
        "return_msg",
        "appid",
        "mch_id",
        "device_info",
        "nonce_str",
        "sign",
        "result_code",
        "trade_type",
        "prepay_id",
        "code_url",
    ]


def test_signed_is_one_flat_xml_document_with_cdata_strings():
    body = envelope.signed(REQUEST, {"trade_type": "JSAPI"}, KEY, SignType.MD5, NONCE)
    assert body.startswith(b"<xml><return_code><![CDATA[SUCCESS]]></return_code>")
    assert body.endswith(b"</xml>")


@pytest.mark.parametrize("sign_type", SIGN_TYPES)
def test_signed_signature_verifies_with_request_sign_type(sign_type):
    body = envelope.signed(REQUEST, {"total_fee": 1, "bank_type": "CFT"}, KEY, sign_type, NONCE)
    fields = decode(body)
    assert verify(fields, KEY, sign_type) is True
    assert verify(fields, KEY, _other(sign_type)) is False
    assert len(fields["sign"]) == (32 if sign_type is SignType.MD5 else 64)


@pytest.mark.parametrize("sign_type", SIGN_TYPES)
def test_signed_signature_equals_sign_over_decoded_fields(sign_type):
    body = envelope.signed(REQUEST, {"total_fee": 800}, KEY, sign_type, NONCE)
    fields = decode(body)
    assert fields["sign"] == sign(fields, KEY, sign_type)


def test_signed_does_not_add_sign_type():
    request = {**REQUEST, "sign_type": "HMAC-SHA256"}
    body = envelope.signed(request, {"trade_type": "JSAPI"}, KEY, SignType.HMAC_SHA256, NONCE)
    fields = decode(body)
    assert "sign_type" not in fields
    assert verify(fields, KEY, SignType.HMAC_SHA256)


def test_signed_ints_are_bare():
    outcome = {"total_fee": 800, "cash_fee": 800, "trade_state": "SUCCESS"}
    body = envelope.signed(REQUEST, outcome, KEY, SignType.MD5, NONCE)
    assert b"<total_fee>800</total_fee>" in body
    assert b"<cash_fee>800</cash_fee>" in body
    assert b"<trade_state><![CDATA[SUCCESS]]></trade_state>" in body
    assert decode(body)["total_fee"] == "800"


def test_signed_int_fields_given_as_strings_are_bare():
    outcome = {"total_fee": "800", "attach": "800"}
    body = envelope.signed(REQUEST, outcome, KEY, SignType.MD5, NONCE, int_fields=["total_fee"])
    assert b"<total_fee>800</total_fee>" in body
    assert b"<attach><![CDATA[800]]></attach>" in body
    assert verify(decode(body), KEY, SignType.MD5)


def test_signed_zero_int_is_kept_and_signed():
    body = envelope.signed(REQUEST, {"coupon_fee": 0}, KEY, SignType.MD5, NONCE)
    fields = decode(body)
    assert fields["coupon_fee"] == "0"
    assert verify(fields, KEY, SignType.MD5)


def test_signed_echoes_appid_mch_id_device_info_only():
    body = envelope.signed(REQUEST, {}, KEY, SignType.MD5, NONCE)
    fields = decode(body)
    assert fields["appid"] == REQUEST["appid"]
    assert fields["mch_id"] == REQUEST["mch_id"]
    assert fields["device_info"] == "WEB"
    assert fields["nonce_str"] == NONCE  # the platform's nonce, not the request's
    assert "out_trade_no" not in fields


def test_signed_empty_device_info_is_not_echoed():
    body = envelope.signed({**REQUEST, "device_info": ""}, {}, KEY, SignType.MD5, NONCE)
    assert "device_info" not in decode(body)


def test_signed_absent_echo_fields_are_omitted():
    body = envelope.signed({"mch_id": "1900000109"}, {}, KEY, SignType.MD5, NONCE)
    fields = decode(body)
    assert list(fields) == [
        "return_code",
        "return_msg",
        "mch_id",
        "nonce_str",
        "sign",
        "result_code",
    ]
    assert verify(fields, KEY, SignType.MD5)


def test_signed_drops_empty_and_none_outcome_values():
    outcome = {"trade_type": "JSAPI", "attach": "", "openid": None}
    body = envelope.signed(REQUEST, outcome, KEY, SignType.MD5, NONCE)
    fields = decode(body)
    assert "attach" not in fields
    assert "openid" not in fields
    assert verify(fields, KEY, SignType.MD5)


def test_signed_chinese_business_value_verifies():
    outcome = {"trade_state_desc": "支付成功", "trade_state": "SUCCESS"}
    body = envelope.signed(REQUEST, outcome, KEY, SignType.HMAC_SHA256, NONCE)
    fields = decode(body)
    assert fields["trade_state_desc"] == "支付成功"
    assert verify(fields, KEY, SignType.HMAC_SHA256)


def test_signed_value_with_cdata_terminator_verifies():
    body = envelope.signed(REQUEST, {"attach": "a]]>b"}, KEY, SignType.MD5, NONCE)
    fields = decode(body)
    assert fields["attach"] == "a]]>b"
    assert verify(fields, KEY, SignType.MD5)


# --- signed rejection ---------------------------------------------------------------------------


@pytest.mark.parametrize("sign_type", SIGN_TYPES)
def test_signed_rejected_renders_result_code_fail_and_is_signed(sign_type):
    body = envelope.signed(REQUEST, Rejected(ErrCode.ORDERPAID), KEY, sign_type, NONCE)
    fields = decode(body)
    assert fields == {
        "return_code": "SUCCESS",
        "return_msg": "OK",
        "appid": REQUEST["appid"],
        "mch_id": REQUEST["mch_id"],
        "device_info": "WEB",
        "nonce_str": NONCE,
        "sign": fields["sign"],
        "result_code": "FAIL",
        "err_code": "ORDERPAID",
        "err_code_des": "该订单已支付",
    }
    assert list(fields)[-3:] == ["result_code", "err_code", "err_code_des"]
    assert verify(fields, KEY, sign_type) is True


def test_signed_rejected_custom_description():
    rejected = Rejected(ErrCode.INVALID_REQUEST, "201 商户订单号重复")
    fields = decode(envelope.signed(REQUEST, rejected, KEY, SignType.MD5, NONCE))
    assert fields["err_code"] == "INVALID_REQUEST"
    assert fields["err_code_des"] == "201 商户订单号重复"
    assert verify(fields, KEY, SignType.MD5)


def test_signed_rejected_has_no_business_fields():
    fields = decode(
        envelope.signed(REQUEST, Rejected(ErrCode.SYSTEMERROR), KEY, SignType.MD5, NONCE)
    )
    assert set(fields) == {
        "return_code",
        "return_msg",
        "appid",
        "mch_id",
        "device_info",
        "nonce_str",
        "sign",
        "result_code",
        "err_code",
        "err_code_des",
    }


# --- fault and unsigned -------------------------------------------------------------------------


def test_fault_has_return_code_fail_and_message_only():
    body = envelope.fault("签名错误")
    assert decode(body) == {"return_code": "FAIL", "return_msg": "签名错误"}
    assert b"sign" not in body


def test_fault_exact_bytes():
    assert (
        envelope.fault("XML格式错误")
        == (
            "<xml><return_code><![CDATA[FAIL]]></return_code>"
            "<return_msg><![CDATA[XML格式错误]]></return_msg></xml>"
        ).encode()
    )


def test_fault_message_with_markup_round_trips():
    message = "<field>参数格式错误 ]]> & done"
    assert decode(envelope.fault(message)) == {"return_code": "FAIL", "return_msg": message}


def test_unsigned_has_success_header_and_no_sign():
    body = envelope.unsigned({"sandbox_signkey": "0123456789abcdef0123456789abcdef"})
    fields = decode(body)
    assert list(fields) == ["return_code", "return_msg", "sandbox_signkey"]
    assert fields["return_code"] == "SUCCESS"
    assert fields["return_msg"] == "OK"
    assert "sign" not in fields


def test_unsigned_ints_are_bare():
    body = envelope.unsigned({"result_code": "FAIL", "count": 3})
    assert b"<count>3</count>" in body
    assert decode(body)["count"] == "3"
