"""What a person sees (issue 17), in Chromium: state screens before any form, the QR page
updating by itself when the order is paid, errors beside their field, the JSAPI sheet from the
keyboard, and on every page visited: axe-core (no serious or critical violation) and nothing
cut off at 390 px and 1280 px.

One browser for the module, one context per width; ``WXPAY_DOCS_SCREENSHOTS=1`` (run
``python docs/screenshots.py``) saves each page, whole, at both widths into
docs/screenshots/widths/.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from browser_support import (
    DESKTOP,
    PHONE,
    axe_violations,
    console_login,
    docs_shot,
    merchant_site,
    overflow,
    screenshot_on_failure,
)

from wxpay_local.codes import SignType
from wxpay_local.testing import Harness, MerchantInfo, MerchantSink, wait_for
from wxpay_local.wire import signing

pytestmark = pytest.mark.e2e

GREEN = "rgb(6, 125, 65)"  # --green-dark in pages.css: green text at 4.5:1 on white
WIDTHS = {"390": PHONE, "1280": DESKTOP}


def _tab(browser: Any, size: dict[str, int]) -> Any:
    context = browser.new_context(viewport=size, locale="zh-CN", bypass_csp=True)
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    return tab


def _check(tab: Any, name: str, width: str) -> None:
    """axe-core and the overflow check on the page as it is now; a docs screenshot."""
    tab.wait_for_load_state("load")
    assert axe_violations(tab) == [], (name, width, tab.url)
    assert overflow(tab) == [], (name, width, tab.url)
    docs_shot(tab, f"widths/{name}_{width}", full_page=True)


def _native(web: Harness, merchant: MerchantInfo, out_trade_no: str) -> str:
    return web.client(merchant).unifiedorder(
        body="Blue Bottle-Latte",
        out_trade_no=out_trade_no,
        total_fee=1800,
        spbill_create_ip="203.0.113.10",
        notify_url="http://127.0.0.1:9/notify",
        trade_type="NATIVE",
        product_id="latte",
    )["code_url"]


def test_payer_pages_state_screens_live_qr_and_inline_errors(web: Harness, browser: Any) -> None:
    merchant = web.merchant(name="Blue Bottle")
    payer = web.payer(balance=10_000, name="Alice", cards=["CMB_DEBIT"])
    code_url = _native(web, merchant, "A11Y-1")
    expired_url = _native(web, merchant, "A11Y-2")
    closed_url = _native(web, merchant, "A11Y-3")
    appid = merchant.apps["official_account"]
    for width, size in WIDTHS.items():
        tab = _tab(browser, size)
        base = web.base_url
        with screenshot_on_failure(tab, f"payer_pages_{width}"):
            for name, path in (
                ("pages_index", "/pages"),
                ("phone_payers", "/phone"),
                ("wallet", f"/wallet?payer_id={payer['payer_id']}"),
                ("not_found", "/nope"),
                ("error", "/phone?payer_id=999999"),
                (
                    "oauth_authorize",
                    f"/connect/oauth2/authorize?appid={appid}&redirect_uri=https%3A%2F%2F"
                    "shop.example%2Fcb&response_type=code&scope=snsapi_base&state=s",
                ),
            ):
                tab.goto(base + path)
                _check(tab, name, width)
            tab.goto(f"{base}/pay/qr?code_url={code_url}")
            _check(tab, "qr", width)
            tab.goto(f"{base}/phone?payer_id={payer['payer_id']}&code_url={code_url}")
            assert tab.evaluate("document.activeElement.id") == "password"  # first field
            assert "招商银行储蓄卡" in tab.inner_text("#pay-form")
            tab.fill("#password", "000000")
            tab.click("#pay")
            # the same form again, the reason beside the password field, focus back in it
            error = tab.locator("#error-password")
            assert error.inner_text() == "支付密码错误，请重试"
            assert tab.get_attribute("#password", "aria-invalid") == "true"
            _check(tab, "phone_wrong_password", width)
        tab.context.close()
    # the QR page updates by itself when the order is paid elsewhere, in green
    tab = _tab(browser, PHONE)
    with screenshot_on_failure(tab, "qr_live"):
        tab.goto(f"{web.base_url}/pay/qr?code_url={code_url}")
        tab.locator("#qr-card").wait_for()
        assert web.pay(payer["payer_id"], code_url=code_url)["outcome"] == "SUCCESS"
        screen = tab.locator('#state-screen[data-state="paid"]')
        screen.wait_for(timeout=6_000)
        assert tab.locator("#qr-card").count() == 0
        assert tab.eval_on_selector("#state-title", "e => getComputedStyle(e).color") == GREEN
        _check(tab, "qr_paid", "390")
        web.advance(3 * 60 * 60)  # past the code_url's two hours
        tab.goto(f"{web.base_url}/phone?payer_id={payer['payer_id']}&code_url={expired_url}")
        assert tab.get_attribute("#state-screen", "data-state") == "expired"
        assert tab.locator("#password").count() == 0
        assert "支付请求已失效" in tab.inner_text("#state-message")
        _check(tab, "phone_expired", "390")
        web.client(merchant).closeorder(out_trade_no="A11Y-3")  # the merchant closes it
        tab.goto(f"{web.base_url}/pay/qr?code_url={closed_url}")
        assert tab.get_attribute("#state-screen", "data-state") == "closed"
        assert tab.inner_text("#state-title") == "订单已关闭"
        assert tab.locator(".qr-box").count() == 0
        _check(tab, "qr_closed", "390")
    tab.context.close()


MERCHANT_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>茶馆</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<script src="{base}/jsapi/jweixin.js"></script></head>
<body><main><h1>茶馆 Tea house</h1><button id="buy">微信支付</button><p id="result"></p></main>
<script>
var params = {params};
document.getElementById("buy").onclick = function () {{
  WeixinJSBridge.invoke("getBrandWCPayRequest", params, function (res) {{
    document.getElementById("result").textContent = res.err_msg;
  }});
}};
</script></body></html>"""


def test_jsapi_sheet_from_the_keyboard(web: Harness, browser: Any, sink: MerchantSink) -> None:
    merchant = web.merchant(name="茶馆 Tea house")
    appid = merchant.apps["official_account"]
    payer = web.payer(balance=5_000, name="Carol")
    order = web.client(merchant).unifiedorder(
        body="茶馆-龙井茶",
        out_trade_no="A11Y-JS",
        total_fee=1250,
        spbill_create_ip="203.0.113.10",
        notify_url=sink.url,
        trade_type="JSAPI",
        openid=web.openid(payer["payer_id"], appid),
    )
    params = {
        "appId": appid,
        "timeStamp": str(int(time.time())),
        "nonceStr": "e61463f8efa94090b1f366cccfbbb444",
        "package": f"prepay_id={order['prepay_id']}",
        "signType": "MD5",
    }
    params["paySign"] = signing.sign(params, merchant.api_key, SignType.MD5)
    html = MERCHANT_PAGE.format(base=web.base_url, params=json.dumps(params))
    tab = _tab(browser, PHONE)
    with merchant_site({"*": html}) as url, screenshot_on_failure(tab, "jsapi_keyboard"):
        tab.goto(url)
        tab.focus("#buy")
        tab.keyboard.press("Enter")
        frame = tab.frame_locator("#wxpay-frame")
        frame.locator("#wxpay-amount", has_text="12.50").wait_for()
        sheet = tab.frame(url=f"{web.base_url}/jsapi/sheet")
        assert sheet is not None
        wait_for(lambda: sheet.evaluate("document.activeElement.id") == "wxpay-password")
        assert axe_violations(sheet) == []
        inside = "document.getElementById('wxpay-pay-box').contains(document.activeElement)"
        for _ in range(6):  # Tab cycles inside the dialog, never out to the merchant's page
            tab.keyboard.press("Tab")
            assert sheet.evaluate(inside) is True
        tab.keyboard.press("Shift+Tab")
        assert sheet.evaluate(inside) is True
        tab.keyboard.press("Escape")
        tab.wait_for_function("document.getElementById('result').textContent !== ''")
        assert tab.inner_text("#result") == "get_brand_wcpay_request:cancel"
        assert tab.locator("#wxpay-sheet").count() == 0
        assert tab.evaluate("document.activeElement.id") == "buy"  # focus back where it was
    tab.context.close()
    assert web.client(merchant).orderquery(out_trade_no="A11Y-JS")["trade_state"] == "NOTPAY"


def test_console_pages_accessible_responsive_and_settings_errors(
    web: Harness, browser: Any
) -> None:
    merchant = web.merchant(name="Blue Bottle", console_password="console-pass-1")
    payer = web.payer(balance=10_000, name="Alice", cards=["CMB_DEBIT"])
    code_url = _native(web, merchant, "A11Y-C1")
    web.pay(payer["payer_id"], code_url=code_url)
    web.client(merchant).orderquery(out_trade_no="A11Y-C1")
    bad = web.http.post(
        "/pay/orderquery",
        content=b"<xml><mch_id>" + merchant.mch_id.encode() + b"</mch_id><sign>0</sign></xml>",
    )
    assert bad.status_code == 200
    entry = wait_for(lambda: next(iter(web.journal(mch_id=merchant.mch_id)), None))
    pages = {
        "console_overview": "/console",
        "console_orders": "/console/orders",
        "console_order": f"/console/orders/{merchant.mch_id}/A11Y-C1",
        "console_refunds": "/console/refunds",
        "console_notifications": "/console/notifications",
        "console_journal": "/console/journal",
        "console_journal_entry": f"/console/journal/{entry['id']}",
        "console_bills": "/console/bills",
        "console_keys": "/console/keys",
        "console_settings": "/console/settings",
        "console_clock": "/console/clock",
    }
    for width, size in WIDTHS.items():
        tab = _tab(browser, size)
        with screenshot_on_failure(tab, f"console_{width}"):
            tab.goto(f"{web.base_url}/console/login")
            assert tab.evaluate("document.activeElement.id") == "account"
            _check(tab, "console_login", width)
            console_login(tab, web, merchant.mch_id, "console-pass-1")
            tab.keyboard.press("Tab")  # the first stop is the skip link
            assert tab.evaluate("document.activeElement.className") == "skip-link"
            for name, path in pages.items():
                tab.goto(web.base_url + path)
                _check(tab, name, width)
            if width == "1280":  # the ledger's amount column in sight, not scrolled away
                tab.goto(web.base_url + pages["console_order"])
                fits = tab.eval_on_selector(
                    "#ledger", "t => t.parentElement.scrollWidth <= t.parentElement.clientWidth"
                )
                assert fits is True
            if width == "390":  # one column: the order page's facts beside nothing
                tab.goto(web.base_url + pages["console_order"])
                columns = tab.eval_on_selector(
                    ".order-cols", "e => getComputedStyle(e).gridTemplateColumns.split(' ').length"
                )
                assert columns == 1
            tab.goto(web.base_url + "/console/settings")
            tab.fill("#native_callback_url", "not a url")
            tab.fill("#jsapi_directories", "ftp://nope")
            tab.fill("#refund_notify_url", "nope")
            tab.click("#save-settings")
            for name in ("native_callback_url", "jsapi_directories", "refund_notify_url"):
                below = tab.locator(f"#error-{name}")
                assert below.is_visible() and name in below.inner_text(), name
            assert tab.evaluate("document.activeElement.id") == "native_callback_url"
            _check(tab, "console_settings_errors", width)
        tab.context.close()


def test_more_payer_pages_pass_axe_at_both_widths(web: Harness, browser: Any) -> None:
    """The pages the other tests here do not reach: APP cashier, H5 middle page, payment code,
    wallet changes, OAuth consent."""
    merchant = web.merchant(name="Gem store")
    payer = web.payer(balance=10_000, name="Alice", cards=["ICBC_CREDIT"])
    app_order = web.client(merchant, "app").unifiedorder(
        body="Gem store-100 gems",
        out_trade_no="A11Y-APP",
        total_fee=600,
        spbill_create_ip="203.0.113.10",
        notify_url="http://127.0.0.1:9/notify",
        trade_type="APP",
    )
    params = {
        "appid": merchant.apps["app"],
        "partnerid": merchant.mch_id,
        "prepayid": app_order["prepay_id"],
        "package": "Sign=WXPay",
        "noncestr": "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
        "timestamp": str(int(time.time())),
    }
    params["sign"] = signing.sign(params, merchant.api_key)
    mweb = web.client(merchant).unifiedorder(
        body="Gem store-Cake",
        out_trade_no="A11Y-H5",
        total_fee=990,
        spbill_create_ip="127.0.0.1",  # the browser's address: the middle page checks it
        notify_url="http://127.0.0.1:9/notify",
        trade_type="MWEB",
        scene_info=json.dumps({"h5_info": {"type": "Wap", "wap_url": "https://shop.example"}}),
    )["mweb_url"]
    appid = merchant.apps["official_account"]
    consent = (
        f"/connect/oauth2/authorize?appid={appid}&redirect_uri=https%3A%2F%2Fshop.example%2Fcb"
        "&response_type=code&scope=snsapi_userinfo&state=s"
    )
    query = "&".join(f"{k}={v}" for k, v in params.items())
    for width, size in WIDTHS.items():
        tab = _tab(browser, size)
        with screenshot_on_failure(tab, f"more_payer_pages_{width}"):
            tab.goto(f"{web.base_url}/app/pay?{query}", referer="https://app.example/checkout")
            _check(tab, "app_pay", width)
            tab.goto(mweb, referer="https://shop.example/cart")
            assert tab.locator("#h5-form").count() == 1
            _check(tab, "h5", width)
            tab.goto(f"{web.base_url}/wallet/changes?payer_id={payer['payer_id']}")
            _check(tab, "wallet_changes", width)
            tab.goto(f"{web.base_url}{consent}")
            tab.click(f'[data-payer-id="{payer["payer_id"]}"]')
            tab.wait_for_load_state("load")
            _check(tab, "oauth_consent", width)
            tab.goto(f"{web.base_url}/wallet?payer_id={payer['payer_id']}")
            tab.click("#paycode")
            tab.locator("#paycode-card").wait_for()
            _check(tab, "wallet_paycode", width)
        tab.context.close()
