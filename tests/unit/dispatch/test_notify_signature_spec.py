"""The payment notification's signature against the literals of refunds spec §4.8.

The spec prints the example notification's MD5 sign and the HMAC-SHA256 sign "if the order
had been created with HMAC-SHA256" (no sign_type element). The rendered body is read back with
the standard library, not the platform's codec.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime

import pytest

from wxpay_local.codes import SignType
from wxpay_local.dispatch.delivery import render
from wxpay_local.domain.model import Notification
from wxpay_local.domain.notify import notify_signing
from wxpay_local.timefmt import SHANGHAI

pytestmark = pytest.mark.unit

KEY = "Zk9s3Hq7Lm2Xc8Vb4Nn6Tt1Rr5Ww0PaE"  # refunds spec §1.1
SPEC_FIELDS: dict[str, str | int] = {  # refunds spec §4.8, every field but sign
    "appid": "wx1234567890abcdef",
    "attach": "store=SZ01",
    "bank_type": "CMB_CREDIT",
    "cash_fee": 800,
    "fee_type": "CNY",
    "is_subscribe": "N",
    "mch_id": "1900000109",
    "nonce_str": "5f0c3a8e2b7d4c19a6e0f3b2d1c4a597",
    "openid": "o7LFAt0p3Q8sXl2dKqZ9mYbVhR1c",
    "out_trade_no": "T20240430190001",
    "result_code": "SUCCESS",
    "return_code": "SUCCESS",
    "time_end": "20240430190215",
    "total_fee": 800,
    "trade_type": "JSAPI",
    "transaction_id": "4200000000202404300000000001",
}
SPEC_MD5 = "D9001E3EBAEAB07BF31F2683D008529B"
SPEC_HMAC = "F1A27F7AF52BFE9EF9D501811248114DCF58B99C8196A2B315A3BDAE0743B84D"


def _rendered(setting: str, order_sign_type: SignType) -> dict[str, str]:
    sign_type, element = notify_signing(setting, order_sign_type)
    note = Notification(
        id=1,
        kind="payment",
        merchant_id=1,
        order_id=1,
        url="http://127.0.0.1/notify",
        fields=SPEC_FIELDS | element,
        sign_type=sign_type,
        status="pending",
        attempts=0,
        created_at=datetime(2024, 4, 30, 19, 2, 15, tzinfo=SHANGHAI),
        next_attempt_at=None,
    )
    return {child.tag: child.text or "" for child in ET.fromstring(render(note, KEY))}


@pytest.mark.parametrize("setting", ["MD5", "ORDER", "ORDER_NO_SIGN_TYPE"])
def test_an_md5_order_is_notified_as_the_spec_example_whatever_the_setting(setting: str) -> None:
    fields = _rendered(setting, SignType.MD5)
    assert fields["sign"] == SPEC_MD5
    assert "sign_type" not in fields


def test_default_md5_setting_signs_an_hmac_order_with_md5_and_no_sign_type() -> None:
    fields = _rendered("MD5", SignType.HMAC_SHA256)
    assert fields["sign"] == SPEC_MD5
    assert "sign_type" not in fields


def test_order_no_sign_type_gives_the_spec_hmac_sign_without_an_element() -> None:
    fields = _rendered("ORDER_NO_SIGN_TYPE", SignType.HMAC_SHA256)
    assert fields["sign"] == SPEC_HMAC
    assert "sign_type" not in fields


def test_order_setting_adds_the_sign_type_element_and_signs_it_too() -> None:
    fields = _rendered("ORDER", SignType.HMAC_SHA256)
    assert fields["sign_type"] == "HMAC-SHA256"
    # The element is one of the signed fields (spec §4.3), so the spec's sign no longer holds.
    assert len(fields["sign"]) == 64 and fields["sign"] != SPEC_HMAC
