"""Native mode 1 in a real headless Chromium: a person opens a product QR (no amount yet),
"scans" it on the phone page as a chosen payer, the merchant's scan callback (a loopback
server of its own, another origin) makes the order through the SDK client and answers signed
XML, the person pays, the notification reaches the merchant and orderquery says SUCCESS.
And a merchant that refuses the scan: the person reads its err_code_des, the developer the
reason in the details block."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any
from urllib.parse import urlencode

import pytest
from browser_support import docs_shot, screenshot_on_failure

from wxpay_local.sdk import bizpayurl, scan_reply, verify_scan
from wxpay_local.testing import Harness, MerchantInfo, MerchantSink, wait_for, xml_endpoint

pytestmark = pytest.mark.e2e


def scan_callback(
    answer: Callable[[dict[str, str]], bytes], key: str
) -> AbstractContextManager[str]:
    """The merchant's 扫码回调链接 on a loopback port: verify, then answer(fields)."""
    return xml_endpoint(lambda body: (200, answer(verify_scan(body, key))), "/wxpay/scan")


def _shop(web: Harness, callback_url: str, merchant: MerchantInfo) -> str:
    web.control(
        "POST",
        f"/_local/merchants/{merchant.mch_id}/config",
        {"native_callback_url": callback_url},
    )
    appid = merchant.apps["official_account"]
    product = bizpayurl(
        appid=appid, mch_id=merchant.mch_id, product_id="MOCHA", api_key=merchant.api_key
    )
    return f"{web.base_url}/pay/qr?" + urlencode({"code_url": product})


def test_a_person_scans_a_product_qr_and_pays(web: Harness, page: Any, sink: MerchantSink) -> None:
    merchant = web.merchant(name="街角咖啡 Corner Cafe")
    payer = web.payer(balance=20_000, name="Alice")

    def make_order(fields: dict[str, str]) -> bytes:
        answer = web.client(merchant).unifiedorder(
            body="街角咖啡-摩卡",
            out_trade_no="E2E-M1-1",
            total_fee=2600,
            spbill_create_ip="203.0.113.10",
            notify_url=sink.url,
            trade_type="NATIVE",
            product_id=fields["product_id"],
            openid=fields["openid"],
        )
        return scan_reply(merchant.api_key, fields["appid"], merchant.mch_id, answer["prepay_id"])

    with (
        scan_callback(make_order, merchant.api_key) as callback_url,
        screenshot_on_failure(page, "native_mode1"),
    ):
        page.goto(_shop(web, callback_url, merchant))
        assert page.inner_text("#merchant-name") == "街角咖啡 Corner Cafe"
        assert page.inner_text("#product-id") == "MOCHA"
        assert page.locator(".qr-box svg").count() == 1 and page.locator(".amount").count() == 0
        docs_shot(page, "native_mode1_qr")
        page.click("#open-phone")
        assert "MOCHA" in page.inner_text("#product")
        page.click(f'[data-payer-id="{payer["payer_id"]}"]')
        assert "26.00" in page.inner_text("#amount")
        assert page.inner_text("#order-body") == "街角咖啡-摩卡"
        page.fill("#password", payer["pay_password"])
        page.click("#pay")
        assert page.get_attribute("#result", "data-outcome") == "SUCCESS"
        query = web.client(merchant).orderquery(out_trade_no="E2E-M1-1")
        assert query["trade_state"] == "SUCCESS"
        assert query["openid"] == web.openid(payer["payer_id"], merchant.apps["official_account"])
        wait_for(lambda: sink.received)
        assert b"E2E-M1-1" in sink.received[0].body


def test_a_merchant_refusing_the_scan_is_explained(web: Harness, page: Any) -> None:
    merchant = web.merchant(name="街角咖啡 Corner Cafe")
    payer = web.payer(name="Bob")

    def refuse(fields: dict[str, str]) -> bytes:
        return scan_reply(merchant.api_key, fields["appid"], merchant.mch_id, err_code_des="已售罄")

    with (
        scan_callback(refuse, merchant.api_key) as callback_url,
        screenshot_on_failure(page, "native_mode1_refused"),
    ):
        page.goto(_shop(web, callback_url, merchant))
        page.click("#open-phone")
        page.click(f'[data-payer-id="{payer["payer_id"]}"]')
        assert page.inner_text("#scan-message") == "已售罄"
        assert not page.is_visible("#scan-reason")
        page.click("#scan-details summary")
        assert "result_code='FAIL'" in page.inner_text("#scan-reason")
        assert page.inner_text("#scan-code") == "CALLBACK_RESULT_FAIL"
        docs_shot(page, "native_mode1_refused")
