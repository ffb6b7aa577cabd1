"""The demo shop (examples/shop) in Chromium, against a live wxpay-local with mutual TLS on:
a person buys with each checkout (Native QR through the platform's phone page, JSAPI through
OAuth and the platform's payment sheet, H5 through the middle page, micropay at the cashier
with the best-practice loop on screen), refunds, and reconciles the day's bill.

``WXPAY_DOCS_SCREENSHOTS=1`` writes each page to docs/screenshots/shop_*.png.
"""

from __future__ import annotations

from typing import Any

import pytest
from browser_support import docs_shot, screenshot_on_failure
from shop_support import set_clock

from wxpay_local.testing import Harness, wait_for

pytestmark = pytest.mark.e2e

DAY = "20240501"


def pay_on_phone(page: Any, payer: dict[str, Any]) -> None:
    page.click(f'[data-payer-id="{payer["payer_id"]}"]')
    page.fill("#password", payer["pay_password"])
    page.click("#pay")
    assert page.get_attribute("#result", "data-outcome") == "SUCCESS"


def state(page: Any) -> str:
    return str(page.get_attribute("#state", "data-state"))


def reloaded_state(page: Any) -> str:
    page.reload()
    return state(page)


def notifications_seen(page: Any) -> str:
    page.reload()
    return str(page.inner_text("#notified"))


def test_buy_with_each_checkout_refund_and_reconcile(
    web: Harness, shop: tuple[str, Any], desk: Any
) -> None:
    url, merchant = shop
    payer = web.payer(balance=50_000, name="Alice")
    tab = desk
    with screenshot_on_failure(tab, "shop"):
        # Native: the order page links to the platform's QR page; the phone pays it
        tab.goto(url)
        docs_shot(tab, "shop_home")
        tab.click("#buy-latte-native")
        assert state(tab) == "NOTPAY"
        docs_shot(tab, "shop_order_native")
        native_order = tab.inner_text("#order-no")
        tab.click("#qr")
        tab.click("#open-phone")
        pay_on_phone(tab, payer)
        tab.goto(f"{url}/orders/{native_order}")
        wait_for(lambda: reloaded_state(tab) == "PAID")
        docs_shot(tab, "shop_order_paid")

        # the notification arrived, verified, recorded once
        web.dispatch()
        wait_for(lambda: notifications_seen(tab) == "1")

        # refund it (mutual TLS with the merchant's PKCS#12 under the hood)
        tab.click("#refund")
        assert state(tab) == "REFUNDED"
        assert tab.inner_text("#refund-info").startswith("退款已受理")

        # the platform repeats the notification: counted, the order stays refunded
        note = next(n for n in web.notifications(merchant.mch_id) if n["kind"] == "payment")
        web.control("POST", f"/_local/notifications/{note['id']}/redeliver")
        web.dispatch()
        wait_for(lambda: notifications_seen(tab) == "2")
        assert state(tab) == "REFUNDED"

        # JSAPI: OAuth for the openid, then the platform's sheet in its iframe
        tab.goto(url)
        tab.click("#buy-tea-jsapi")
        tab.click(f'[data-payer-id="{payer["payer_id"]}"]')  # the OAuth page: who is logged in
        tab.wait_for_selector("#pay")
        docs_shot(tab, "shop_jsapi")
        tab.click("#pay")
        sheet = tab.frame_locator("#wxpay-frame")
        sheet.locator("#wxpay-amount", has_text="12.50").wait_for()
        sheet.locator("#wxpay-password").fill(payer["pay_password"])
        docs_shot(tab, "shop_jsapi_sheet")
        sheet.locator("#wxpay-pay").click()
        tab.wait_for_url(f"{url}/orders/*")
        wait_for(lambda: reloaded_state(tab) == "PAID")

        # H5: the middle page, back to the shop's order page
        tab.goto(url)
        tab.click("#buy-cake-mweb")
        assert "9.90" in tab.inner_text("#amount")
        tab.check(f'[data-payer-id="{payer["payer_id"]}"]')
        tab.fill("#password", payer["pay_password"])
        tab.click("#pay")
        tab.wait_for_url(f"{url}/orders/*")
        wait_for(lambda: reloaded_state(tab) == "PAID")

        # the notifications arrived and were recorded once each
        web.dispatch()
        tab.goto(f"{url}/orders")
        docs_shot(tab, "shop_orders")

        # reconcile 2024-05-01 the next morning
        set_clock(web, "2024-05-02T10:00:00+08:00")
        tab.goto(f"{url}/reconcile?date={DAY}")
        assert tab.inner_text("#summary") == "4 笔一致, 0 笔有差异"
        statuses = tab.eval_on_selector_all(
            "#recon tr[data-status]", "r => r.map(x => x.dataset.status)"
        )
        assert statuses == ["matched"] * 4
        docs_shot(tab, "shop_reconcile")


def test_cashier_runs_the_micropay_best_practice_live(
    web: Harness, shop: tuple[str, Any], desk: Any
) -> None:
    url, _ = shop
    payer = web.payer(balance=50_000, name="Bob")
    payer_id = payer["payer_id"]
    web.control("POST", f"/_local/payers/{payer_id}/policy", {"password_policy": "always"})
    tab = desk
    with screenshot_on_failure(tab, "shop_cashier"):
        tab.goto(f"{url}/cashier")
        code = web.control("POST", f"/_local/payers/{payer_id}/codes")["auth_code"]
        tab.fill("#auth-code", code)
        docs_shot(tab, "shop_cashier")
        tab.click("#charge")
        tab.locator("#steps li", has_text="USERPAYING").first.wait_for()  # the prompt is up
        answer = web.control(
            "POST", f"/_local/payers/{payer_id}/confirm", {"password": payer["pay_password"]}
        )
        assert answer["outcome"] == "SUCCESS"
        tab.locator("#outcome[data-state=PAID]").wait_for()
        steps = tab.inner_text("#steps")
        assert "orderquery: SUCCESS" in steps
        docs_shot(tab, "shop_till")
