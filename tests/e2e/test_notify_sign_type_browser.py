"""The console's 支付结果通知签名 setting in a real headless Chromium: chosen on the settings
page, saved, and then what the next notification of an HMAC-SHA256 order looks like."""

from __future__ import annotations

import hashlib
import hmac
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from browser_support import console_login, screenshot_on_failure

from wxpay_local.codes import SignType
from wxpay_local.testing import Harness, MerchantSink, wait_for

pytestmark = pytest.mark.e2e

PASSWORD = "console-pw-1"


def _hmac_sign(fields: dict[str, str], key: str) -> str:
    """Spec §3.1, written out here: sorted non-empty k=v but sign, &key=, HMAC-SHA256, upper."""
    text = "&".join(f"{k}={v}" for k, v in sorted(fields.items()) if k != "sign" and v)
    return hmac.new(key.encode(), f"{text}&key={key}".encode(), hashlib.sha256).hexdigest().upper()


def test_choosing_order_on_the_settings_page_adds_sign_type_to_hmac_notifications(
    web: Harness, desk: Any, sink: MerchantSink
) -> None:
    merchant = web.merchant(console_password=PASSWORD)
    config = f"/_local/merchants/{merchant.mch_id}/config"
    with screenshot_on_failure(desk, "console_notify_sign_type"):
        console_login(desk, web, merchant.mch_id, PASSWORD, "/console/settings")
        assert desk.input_value("#notify_sign_type") == "MD5"  # the default
        desk.select_option("#notify_sign_type", "ORDER")
        desk.click("#save-settings")
        desk.wait_for_selector("#flash")
        assert desk.input_value("#notify_sign_type") == "ORDER"
    assert web.control("GET", config)["notify_sign_type"] == "ORDER"

    payer = web.payer(balance=10_000)
    answer = web.client(merchant, sign_type=SignType.HMAC_SHA256).unifiedorder(
        body="Test shop-Coffee",
        out_trade_no="BR-HMAC-1",
        total_fee=800,
        spbill_create_ip="203.0.113.10",
        notify_url=sink.url,
        trade_type="NATIVE",
        product_id="latte",
    )
    assert web.pay(payer["payer_id"], code_url=answer["code_url"])["outcome"] == "SUCCESS"
    body = wait_for(lambda: sink.received)[0].body
    fields = {child.tag: child.text or "" for child in ET.fromstring(body)}
    assert fields["sign_type"] == "HMAC-SHA256"
    assert fields["sign"] == _hmac_sign(fields, merchant.api_key)
