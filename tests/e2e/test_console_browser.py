"""The merchant console in a real headless Chromium: a person's Native payment from the QR page
to the console's order timeline with the delivered notification, and the console's resend.

With ``WXPAY_DOCS_SCREENSHOTS=1`` the order timeline (payment, refund, notifications with their
attempts) is saved as ``docs/screenshots/console_timeline.png`` at a desktop viewport.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from browser_support import DESKTOP, console_login, docs_shot, screenshot_on_failure

from wxpay_local.codes import SignType
from wxpay_local.domain.model import LIVE
from wxpay_local.domain.refunds import RequestRefund, request_refund
from wxpay_local.testing import Harness, MerchantInfo, MerchantSink, wait_for

pytestmark = pytest.mark.e2e

PASSWORD = "console-pw-1"
FAIL = b"<xml><return_code><![CDATA[FAIL]]></return_code><return_msg>busy</return_msg></xml>"


def _refund(web: Harness, merchant: MerchantInfo, transaction_id: str, notify_url: str) -> str:
    """A partial refund requested straight through the domain (the platform's /secapi/ needs the
    merchant's client certificate, which is not what this test is about)."""
    app = web.app
    with app.store.begin() as tx:
        found = tx.merchant(merchant.mch_id, LIVE)
        assert found is not None
        refund = request_refund(
            tx,
            app.clock,
            app.ids,
            found,
            RequestRefund(
                transaction_id=transaction_id,
                out_trade_no="",
                out_refund_no="RF-QR-1",
                total_fee=1800,
                refund_fee=600,
                sign_type=SignType.MD5,
                refund_desc="少冰 less ice",
                notify_url=notify_url,
            ),
            timedelta(minutes=1),
        )
    return refund.refund_id


def test_native_payment_from_the_qr_page_to_the_console_timeline(
    web: Harness, page: Any, desk: Any, sink: MerchantSink
) -> None:
    merchant = web.merchant(name="蓝瓶咖啡 Blue Bottle", console_password=PASSWORD)
    payer = web.payer(balance=20_000, name="Alice", cards=["CMB_DEBIT"])
    client = web.client(merchant)
    answer = client.unifiedorder(
        body="蓝瓶咖啡-拿铁",
        out_trade_no="E2E-QR-1",
        total_fee=1800,
        spbill_create_ip="203.0.113.10",
        notify_url=sink.url,
        trade_type="NATIVE",
        product_id="latte",
    )
    with screenshot_on_failure(page, "console_native_phone"):
        page.goto(f"{web.base_url}/pay/qr?" + urlencode({"code_url": answer["code_url"]}))
        page.click("#open-phone")
        page.click(f'[data-payer-id="{payer["payer_id"]}"]')
        page.fill("#password", payer["pay_password"])
        page.click("#pay")
        assert page.get_attribute("#result", "data-outcome") == "SUCCESS"
    wait_for(lambda: web.notifications(merchant.mch_id)[0]["status"] == "delivered")
    with screenshot_on_failure(desk, "console_timeline"):
        console_login(desk, web, merchant.mch_id, PASSWORD, "/console/orders")
        desk.fill("#q", "E2E-QR-1")
        desk.click("#search")
        row = desk.locator('tr.order-row[data-out-trade-no="E2E-QR-1"]')
        assert "SUCCESS" in row.inner_text()
        assert "18.00" in row.inner_text()
        row.locator("a").first.click()
        desk.wait_for_url("**/console/orders/*/E2E-QR-1")
        timeline = desk.locator("#timeline")
        assert "支付成功 Paid" in timeline.inner_text()
        assert "Alice" in timeline.inner_text()
        attempt = desk.locator("tr.attempt.ok").first
        assert attempt.get_attribute("data-http") == "200"
        assert "SUCCESS" in attempt.inner_text()  # the merchant's answer excerpt

        # the showcase: a refund, settled, and its notification delivered too
        transaction_id = client.orderquery(out_trade_no="E2E-QR-1")["transaction_id"]
        refund_id = _refund(web, merchant, transaction_id, sink.url)
        web.control("POST", f"/_local/refunds/{refund_id}/outcome", {"refund_status": "SUCCESS"})
        wait_for(lambda: len(sink.received) >= 2)
        wait_for(
            lambda: all(n["status"] == "delivered" for n in web.notifications(merchant.mch_id))
        )
        desk.reload()
        text = desk.inner_text("#timeline")
        assert "申请退款 Refund requested" in text and "退款成功 Refund SUCCESS" in text
        assert desk.locator("tr.attempt.ok").count() == 2
        assert desk.inner_text("#trade-state") == "REFUND"
        # the docs picture: the whole order page, from its title to the last notification
        desk.set_viewport_size({"width": DESKTOP["width"], "height": 1600})
        docs_shot(desk, "console_timeline")


def test_console_resend_makes_a_new_attempt(web: Harness, desk: Any) -> None:
    merchant = web.merchant(name="茶馆 Tea house", console_password=PASSWORD)
    payer = web.payer(balance=20_000)
    with MerchantSink(answers=[(200, FAIL)]) as sink:
        answer = web.client(merchant).unifiedorder(
            body="茶馆-龙井",
            out_trade_no="E2E-RESEND-1",
            total_fee=1250,
            spbill_create_ip="203.0.113.10",
            notify_url=sink.url,
            trade_type="NATIVE",
            product_id="tea",
        )
        web.pay(payer["payer_id"], code_url=answer["code_url"])
        wait_for(lambda: web.notifications(merchant.mch_id)[0]["attempts"])
        with screenshot_on_failure(desk, "console_resend"):
            console_login(desk, web, merchant.mch_id, PASSWORD, "/console/notifications")
            assert desk.locator("tr.notification-row").count() == 1
            desk.click("tr.attempts-row summary")
            assert desk.locator("tr.attempt.fail").count() == 1
            desk.click("[data-resend]")
            desk.wait_for_selector('tr.attempt[data-number="2"]')
            assert "sent again: attempt 2" in desk.inner_text("#flash")
            assert len(sink.received) == 2
            assert desk.locator("tr.attempt.fail").count() == 2
