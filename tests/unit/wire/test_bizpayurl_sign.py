"""The Native mode-1 URL signature (spec §6.3): the worked example, the SDK helper that builds
the URL, and the platform's own reader of it agreeing on the same five fields."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from wxpay_local.codes import SignType
from wxpay_local.sdk import BadSignature, bizpayurl, scan_reply, verify_scan
from wxpay_local.web.pages.native_mode1 import parse
from wxpay_local.web.pages.native_scan import ScanError
from wxpay_local.wire import signing
from wxpay_local.wire.xml import decode, encode

pytestmark = pytest.mark.unit

KEY = "Wh7Qx2LmP9sT4vB8nK3dR6yF1gJ5zC0a"
EXAMPLE = {
    "appid": "wx8888888888888888",
    "mch_id": "1900000109",
    "nonce_str": "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
    "product_id": "P0001",
    "time_stamp": "1704081600",
}
EXPECTED = "B288830D71850ADD2956E0B55023D4C2"


def test_the_spec_worked_example() -> None:
    assert signing.canonical_string(EXAMPLE) == (
        "appid=wx8888888888888888&mch_id=1900000109&nonce_str=5K8264ILTKCH16CQ2502SI8ZNMTM67VS"
        "&product_id=P0001&time_stamp=1704081600"
    )
    assert signing.sign(EXAMPLE, KEY, SignType.MD5) == EXPECTED


def test_the_sdk_builds_the_worked_example_url() -> None:
    url = bizpayurl(
        appid=EXAMPLE["appid"],
        mch_id=EXAMPLE["mch_id"],
        product_id="P0001",
        api_key=KEY,
        time_stamp=1704081600,
        nonce_str=EXAMPLE["nonce_str"],
    )
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("weixin", "wxpay", "/bizpayurl")
    assert dict(parse_qsl(parts.query)) == {"sign": EXPECTED, **EXAMPLE}
    read = parse(url)
    assert read is not None and read.fields == {**EXAMPLE, "sign": EXPECTED}


def test_a_product_id_is_signed_raw_and_sent_encoded() -> None:
    url = bizpayurl(appid="wx1", mch_id="1", product_id="咖啡 & 茶", api_key=KEY, nonce_str="n")
    assert "咖啡" not in url and "&product_id=%E5%92%96" in url
    read = parse(url)
    assert read is not None and read.product_id == "咖啡 & 茶"
    assert signing.verify(read.fields, KEY, SignType.MD5)


@pytest.mark.parametrize(
    "url",
    [
        "weixin://wxpay/bizpayurl?appid=wx1&mch_id=1&product_id=p&time_stamp=1&nonce_str=n",
        "weixin://wxpay/bizpayurl?sign=S&appid=wx1&mch_id=1&product_id=&time_stamp=1&nonce_str=n",
        "weixin://wxpay/bizpayurl?sign=S&sign=T&appid=wx1&mch_id=1&product_id=p&time_stamp=1"
        "&nonce_str=n",
        "weixin://wxpay/bizpayurl?sign=S&appid=wx1&mch_id=1&product_id="
        + "p" * 33
        + "&time_stamp=1&nonce_str=n",
    ],
)
def test_incomplete_or_odd_mode1_urls_are_refused_with_a_reason(url: str) -> None:
    with pytest.raises(ScanError) as caught:
        parse(url)
    assert caught.value.code == "BAD_URL" and caught.value.reason


def test_mode2_and_other_urls_are_not_mode1() -> None:
    assert parse("weixin://wxpay/bizpayurl?pr=NwY5Mz9") is None
    assert parse("https://example.com/bizpayurl?sign=x") is None


def test_the_sdk_reads_and_answers_a_scan_callback() -> None:
    fields: dict[str, str | int] = {
        "appid": "wx1",
        "openid": "o1",
        "mch_id": "1",
        "is_subscribe": "N",
        "nonce_str": "n",
        "product_id": "P0001",
    }
    fields["sign"] = signing.sign(fields, KEY)
    assert verify_scan(encode(fields), KEY)["product_id"] == "P0001"
    with pytest.raises(BadSignature):
        verify_scan(encode({**fields, "product_id": "P0002"}), KEY)
    reply = decode(scan_reply(KEY, "wx1", "1", "wx2024prepay"))
    assert reply["result_code"] == "SUCCESS" and signing.verify(reply, KEY)
    refused = decode(scan_reply(KEY, "wx1", "1", err_code_des="已售罄"))
    assert refused["result_code"] == "FAIL" and refused["err_code_des"] == "已售罄"
    assert signing.verify(refused, KEY)
