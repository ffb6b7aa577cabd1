"""Each payer state screen in Chromium (issue 17), the ones test_pages_a11y_browser.py does not
visit: refunded (on the QR page and the phone), closed on the phone, expired on the QR page,
and "this payer cannot pay this" on the phone with its way out (another payer who can). The QR
page switches to paid by itself when the order is paid from the phone in another tab.

One browser for the module (``browser`` is module-scoped); axe-core and the overflow check on
every screen, as in the other page tests. ``python docs/screenshots.py`` runs this module too
(the cannot-pay screen at both widths).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import (
    DESKTOP,
    PHONE,
    axe_violations,
    docs_shot,
    overflow,
    screenshot_on_failure,
)

from wxpay_local.settings import Settings
from wxpay_local.store import open_store
from wxpay_local.testing import Harness, MerchantInfo

pytestmark = pytest.mark.e2e


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[Harness]:
    """A live platform that refunds without the client certificate (mutual TLS is tested in
    test_mtls.py): the refunded screen needs a refund."""
    store = open_store(str(tmp_path / "wxpay.sqlite3"))
    try:
        settings = Settings(notify_timeout_seconds=2.0, require_client_cert=False)
        with Harness.start(store, live=True, settings=settings) as harness:
            yield harness
            harness.assert_ledger_balanced()
    finally:
        store.close()


def _tab(browser: Any, size: dict[str, int]) -> Any:
    context = browser.new_context(viewport=size, locale="zh-CN", bypass_csp=True)
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    return tab


def _native(web: Harness, merchant: MerchantInfo, out_trade_no: str, **extra: str) -> str:
    return web.client(merchant).unifiedorder(
        body="Blue Bottle-Latte",
        out_trade_no=out_trade_no,
        total_fee=1800,
        spbill_create_ip="203.0.113.10",
        notify_url="http://127.0.0.1:9/notify",
        trade_type="NATIVE",
        product_id="latte",
        **extra,
    )["code_url"]


def _screen(tab: Any, state: str, title: str, message: str) -> None:
    """The state screen is what shows: no QR code, no password, nothing cut off, axe clean."""
    assert tab.get_attribute("#state-screen", "data-state") == state
    assert tab.inner_text("#state-title") == title
    assert message in tab.inner_text("#state-message")
    assert tab.locator("#password").count() == 0 and tab.locator(".qr-box").count() == 0
    assert axe_violations(tab) == [], (state, tab.url)
    assert overflow(tab) == [], (state, tab.url)


def test_paid_live_then_refunded_closed_and_expired_screens(shop: Harness, browser: Any) -> None:
    merchant = shop.merchant(name="Blue Bottle")
    payer = shop.payer(balance=10_000, name="Alice")
    code_url = _native(shop, merchant, "ST-1")
    closed_url = _native(shop, merchant, "ST-2")
    expired_url = _native(shop, merchant, "ST-3")
    qr, phone = _tab(browser, PHONE), _tab(browser, PHONE)
    phone_url = f"{shop.base_url}/phone?payer_id={payer['payer_id']}&code_url="
    with screenshot_on_failure(qr, "states_qr"), screenshot_on_failure(phone, "states_phone"):
        # the customer looks at the QR page while paying from the phone in another tab
        qr.goto(f"{shop.base_url}/pay/qr?code_url={code_url}")
        qr.locator("#qr-card").wait_for()
        phone.goto(phone_url + code_url)
        phone.fill("#password", payer["pay_password"])
        phone.click("#pay")
        assert phone.get_attribute("#result", "data-outcome") == "SUCCESS"
        qr.locator('#state-screen[data-state="paid"]').wait_for(timeout=6_000)
        assert qr.inner_text("#state-title") == "已支付"
        # the merchant refunds part of it: both pages say refunded, not paid
        shop.client(merchant).call(
            "/secapi/pay/refund",
            out_trade_no="ST-1",
            out_refund_no="ST-1-R1",
            total_fee=1800,
            refund_fee=800,
        )
        qr.reload()
        _screen(qr, "refunded", "已退款", "该订单已支付，商户已发起退款")
        phone.goto(phone_url + code_url)
        _screen(phone, "refunded", "已退款", "该订单已支付，商户已发起退款")
        # closed by the merchant, seen on the phone; past its two hours, seen on the QR page
        shop.advance(6 * 60)  # an order cannot be closed in its first five minutes
        shop.client(merchant).closeorder(out_trade_no="ST-2")
        phone.goto(phone_url + closed_url)
        _screen(phone, "closed", "订单已关闭", "商户已关闭该订单，无法继续支付")
        shop.advance(2 * 60 * 60)
        qr.goto(f"{shop.base_url}/pay/qr?code_url={expired_url}")
        _screen(qr, "expired", "二维码已过期", "支付请求已失效，请重新发起支付")
        phone.click("#state-back")  # a real way back: the phone's scanner, not history.back()
        assert phone.locator("#code-url").count() == 1
    qr.context.close()
    phone.context.close()


def test_a_payer_who_cannot_pay_sees_it_first_and_switches_to_one_who_can(
    shop: Harness, browser: Any
) -> None:
    merchant = shop.merchant(name="Blue Bottle")
    poor = shop.payer(balance=100, name="Poor")  # ¥1.00 for ¥18.00, no card
    rich = shop.payer(balance=10_000, name="Rich")
    code_url = _native(shop, merchant, "CP-1")
    credit_only = shop.payer(balance=0, name="Credit", cards=["ICBC_CREDIT"])
    no_credit_url = _native(shop, merchant, "CP-2", limit_pay="no_credit")
    for width, size in (("390", PHONE), ("1280", DESKTOP)):
        tab = _tab(browser, size)
        with screenshot_on_failure(tab, f"cannot_pay_{width}"):
            tab.goto(
                f"{shop.base_url}/phone?payer_id={credit_only['payer_id']}&code_url={no_credit_url}"
            )
            _screen(
                tab,
                "cannot_pay",
                "无法完成支付",
                "零钱余额不足，且商户不支持信用卡支付，请更换支付方式或使用其他微信账号支付",
            )
            tab.goto(f"{shop.base_url}/phone?payer_id={poor['payer_id']}&code_url={code_url}")
            _screen(
                tab,
                "cannot_pay",
                "无法完成支付",
                "零钱余额不足，且未绑定银行卡，请使用其他微信账号支付",
            )
            docs_shot(tab, f"widths/phone_cannot_pay_{width}", full_page=True)
        tab.context.close()
    # not a dead end: the screen offers the payers who can pay, and one of them pays
    tab = _tab(browser, PHONE)
    with screenshot_on_failure(tab, "cannot_pay_switch"):
        tab.goto(f"{shop.base_url}/phone?payer_id={poor['payer_id']}&code_url={code_url}")
        offered = tab.locator("#other-payers a")
        ids = {int(offered.nth(i).get_attribute("data-payer-id")) for i in range(offered.count())}
        # Credit's card can pay an order without limit_pay; Poor is the payer who cannot
        assert ids == {rich["payer_id"], credit_only["payer_id"]}
        tab.locator(f'#other-payers a[data-payer-id="{rich["payer_id"]}"]').click()
        assert tab.inner_text("#payer-name") == "Rich"
        assert tab.evaluate("document.activeElement.id") == "password"
        tab.fill("#password", rich["pay_password"])
        tab.click("#pay")
        assert tab.get_attribute("#result", "data-outcome") == "SUCCESS"
    tab.context.close()
    assert shop.client(merchant).orderquery(out_trade_no="CP-1")["trade_state"] == "SUCCESS"
