"""The payer's pages in a real headless Chromium (Playwright's Python package, Debian's chromium).

Flows: a person's Native payment from the QR page through the phone page; a merchant page using
``/jsapi/jweixin.js`` getting ``:ok``, ``:cancel`` and (bad paySign) ``:fail`` (the sheet is the
platform's iframe: ``page.frame_locator("#wxpay-frame")``); the OAuth2 redirect round trip and
the snsapi_userinfo consent step. A failing test leaves a screenshot in ``artifacts/``. With
``WXPAY_DOCS_SCREENSHOTS=1`` the phone page and the JSAPI sheet are also saved to
``docs/screenshots/``.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from browser_support import docs_shot, merchant_site, screenshot_on_failure

from wxpay_local.codes import SignType
from wxpay_local.testing import Harness, MerchantInfo, MerchantSink, wait_for
from wxpay_local.wire import signing

pytestmark = pytest.mark.e2e


def test_native_payment_from_the_qr_page_through_the_phone(
    web: Harness, page: Any, sink: MerchantSink
) -> None:
    merchant = web.merchant(name="蓝瓶咖啡 Blue Bottle")
    payer = web.payer(balance=20_000, name="Alice", cards=["CMB_DEBIT"])
    answer = web.client(merchant).unifiedorder(
        body="蓝瓶咖啡-拿铁",
        out_trade_no="E2E-QR-1",
        total_fee=1800,
        spbill_create_ip="203.0.113.10",
        notify_url=sink.url,
        trade_type="NATIVE",
        product_id="latte",
    )
    with screenshot_on_failure(page, "native_phone"):
        page.goto(f"{web.base_url}/pay/qr?" + urlencode({"code_url": answer["code_url"]}))
        assert page.locator(".qr-box svg").count() == 1
        assert "18.00" in page.inner_text(".amount")
        docs_shot(page, "qr")
        page.click("#open-phone")
        page.click(f'[data-payer-id="{payer["payer_id"]}"]')
        assert page.inner_text("#merchant-name") == "蓝瓶咖啡 Blue Bottle"
        assert page.inner_text("#order-body") == "蓝瓶咖啡-拿铁"
        assert "18.00" in page.inner_text("#amount")
        page.fill("#password", payer["pay_password"])
        docs_shot(page, "phone")
        page.click("#pay")
        assert page.get_attribute("#result", "data-outcome") == "SUCCESS"
        assert page.inner_text("#result-message") == "支付成功"
        docs_shot(page, "phone_result")
        page.goto(f"{web.base_url}/wallet?payer_id={payer['payer_id']}")
        assert "182.00" in page.inner_text("#balance")
        page.click("#paycode")
        assert len(page.get_attribute(".qr-box", "data-auth-code")) == 18
        docs_shot(page, "wallet_paycode")
        query = web.client(merchant).orderquery(out_trade_no="E2E-QR-1")
        assert query["trade_state"] == "SUCCESS"
        wait_for(lambda: sink.received)
        assert b"E2E-QR-1" in sink.received[0].body
        assert (
            wait_for(lambda: web.notifications(merchant.mch_id)[0]["status"] == "delivered") is True
        )


MERCHANT_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>茶馆 Tea house</title>
<script src="{base}/jsapi/jweixin.js"></script>
<style>body{{font-family:sans-serif;margin:0;padding:24px;background:#faf7f2}}
h1{{font-size:22px}} .item{{background:#fff;border-radius:10px;padding:16px;margin:16px 0}}
button{{width:100%;padding:14px;border:0;border-radius:8px;background:#8a5a2b;color:#fff;
font-size:17px}}</style></head>
<body><h1>茶馆 Tea house</h1>
<div class="item">龙井茶 Longjing tea × 1<br><b>¥12.50</b></div>
<button id="buy">微信支付</button>
<button id="buy-sdk" style="margin-top:8px;background:#555">wx.chooseWXPay</button>
<pre id="result"></pre>
<script>
var params = {params};
document.getElementById("buy").onclick = function () {{
  WeixinJSBridge.invoke("getBrandWCPayRequest", params, function (res) {{
    document.getElementById("result").textContent = res.err_msg;
  }});
}};
function show(text) {{ document.getElementById("result").textContent = text; }}
wx.config({{appId: params.appId}});
document.getElementById("buy-sdk").onclick = function () {{
  wx.chooseWXPay({{
    timestamp: params.timeStamp, nonceStr: params.nonceStr, package: params["package"],
    signType: params.signType, paySign: params.paySign,
    success: function (r) {{ show("success " + r.errMsg); }},
    cancel: function (r) {{ show("cancel " + r.errMsg); }},
    fail: function (r) {{ show("fail " + r.errMsg); }}
  }});
}};
</script></body></html>"""


def _jsapi_order(web: Harness, sink: MerchantSink) -> tuple[MerchantInfo, dict[str, Any], str]:
    merchant = web.merchant(name="茶馆 Tea house")
    appid = merchant.apps["official_account"]
    payer = web.payer(balance=5_000, name="Carol")
    answer = web.client(merchant).unifiedorder(
        body="茶馆-龙井茶",
        out_trade_no="E2E-JS-1",
        total_fee=1250,
        spbill_create_ip="203.0.113.10",
        notify_url=sink.url,
        trade_type="JSAPI",
        openid=web.openid(payer["payer_id"], appid),
    )
    return merchant, payer, answer["prepay_id"]


def _params(appid: str, prepay_id: str, key: str) -> dict[str, str]:
    params = {
        "appId": appid,
        "timeStamp": str(int(time.time())),
        "nonceStr": "e61463f8efa94090b1f366cccfbbb444",
        "package": f"prepay_id={prepay_id}",
        "signType": str(SignType.MD5),
    }
    params["paySign"] = signing.sign(params, key, SignType.MD5)
    return params


def _result(page: Any) -> str:
    page.wait_for_function("document.getElementById('result').textContent !== ''")
    return str(page.inner_text("#result"))


def expect(locator: Any) -> Any:
    """Playwright's retrying assertions (imported late: without Playwright the fixtures skip)."""
    return pytest.importorskip("playwright.sync_api").expect(locator)


def _sheet(page: Any) -> Any:
    """The platform's payment sheet: an iframe on the platform's origin."""
    return page.frame_locator("#wxpay-frame")


def test_jsapi_merchant_page_pays_ok(web: Harness, page: Any, sink: MerchantSink) -> None:
    merchant, payer, prepay_id = _jsapi_order(web, sink)
    params = _params(merchant.apps["official_account"], prepay_id, merchant.api_key)
    html = MERCHANT_PAGE.format(base=web.base_url, params=json.dumps(params))
    with merchant_site({"*": html}) as url, screenshot_on_failure(page, "jsapi_ok"):
        page.goto(url)
        page.click("#buy")
        sheet = _sheet(page)
        sheet.locator("#wxpay-amount", has_text="12.50").wait_for()  # filled once verified
        assert sheet.locator("#wxpay-merchant").inner_text() == "茶馆 Tea house"
        sheet.locator("#wxpay-password").fill("000000")
        sheet.locator("#wxpay-pay").click()
        expect(sheet.locator("#wxpay-message")).to_contain_text("密码")
        sheet.locator("#wxpay-password").fill(payer["pay_password"])
        docs_shot(page, "jsapi_sheet")
        sheet.locator("#wxpay-pay").click()
        assert _result(page) == "get_brand_wcpay_request:ok"
        assert page.locator("#wxpay-sheet").count() == 0
        query = web.client(merchant).orderquery(out_trade_no="E2E-JS-1")
        assert query["trade_state"] == "SUCCESS"
        wait_for(lambda: sink.received)


def test_jsapi_cancel_through_choose_wx_pay(web: Harness, page: Any, sink: MerchantSink) -> None:
    merchant, _, prepay_id = _jsapi_order(web, sink)
    params = _params(merchant.apps["official_account"], prepay_id, merchant.api_key)
    html = MERCHANT_PAGE.format(base=web.base_url, params=json.dumps(params))
    with merchant_site({"*": html}) as url, screenshot_on_failure(page, "jsapi_cancel"):
        page.goto(url)
        page.click("#buy-sdk")
        _sheet(page).locator("#wxpay-cancel").click()
        assert _result(page) == "cancel chooseWXPay:cancel"
        page.evaluate("document.getElementById('result').textContent = ''")
        page.click("#buy")
        _sheet(page).locator("#wxpay-cancel").click()
        assert _result(page) == "get_brand_wcpay_request:cancel"
        query = web.client(merchant).orderquery(out_trade_no="E2E-JS-1")
        assert query["trade_state"] == "NOTPAY"


def test_jsapi_bad_pay_sign_fails_and_tells_the_developer(
    web: Harness, page: Any, sink: MerchantSink
) -> None:
    merchant, _, prepay_id = _jsapi_order(web, sink)
    params = _params(merchant.apps["official_account"], prepay_id, "wrong-key-" + "0" * 22)
    html = MERCHANT_PAGE.format(base=web.base_url, params=json.dumps(params))
    with merchant_site({"*": html}) as url, screenshot_on_failure(page, "jsapi_fail"):
        page.goto(url)
        page.click("#buy")
        sheet = _sheet(page)
        expect(sheet.locator("#wxpay-error")).to_contain_text("total_fee")
        docs_shot(page, "jsapi_bad_sign")
        sheet.locator("#wxpay-error-ok").click()
        assert _result(page) == "get_brand_wcpay_request:fail"
        assert any("paySign does not match" in e for e in page.console_errors)
        query = web.client(merchant).orderquery(out_trade_no="E2E-JS-1")
        assert query["trade_state"] == "NOTPAY"


CALLBACK_PAGE = "<!doctype html><title>callback</title><p id=cb>back</p>"


def _authorize_url(web: Harness, appid: str, redirect_uri: str, scope: str, state: str) -> str:
    """The OAuth2 authorize link a merchant page sends the person to (spec §6.5 step 1)."""
    query = {
        "appid": appid,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "scope": scope,
        "state": state,
    }
    return f"{web.base_url}/connect/oauth2/authorize?" + urlencode(query)


def test_oauth_redirect_round_trip(web: Harness, page: Any) -> None:
    merchant = web.merchant(name="茶馆 Tea house")
    appid = merchant.apps["official_account"]
    payer = web.payer(name="Dave")
    with merchant_site({"*": CALLBACK_PAGE}) as url:
        authorize = _authorize_url(web, appid, url + "cb", "snsapi_base", "STATE42")
        with screenshot_on_failure(page, "oauth"):
            page.goto(authorize + "#wechat_redirect")
            page.click(f'[data-payer-id="{payer["payer_id"]}"]')
            page.wait_for_selector("#cb")
            query = parse_qs(urlsplit(page.url).query)
            assert query["state"] == ["STATE42"]
            token = web.http.get(
                "/sns/oauth2/access_token",
                params={
                    "appid": appid,
                    "secret": merchant.secrets[appid],
                    "code": query["code"][0],
                    "grant_type": "authorization_code",
                },
            ).json()
            assert token["openid"] == web.openid(payer["payer_id"], appid)


def test_oauth_userinfo_consent_allow_and_deny(web: Harness, page: Any) -> None:
    merchant = web.merchant(name="茶馆 Tea house")
    appid = merchant.apps["official_account"]
    payer = web.payer(name="Judy")
    with merchant_site({"*": CALLBACK_PAGE}) as url:
        authorize = _authorize_url(web, appid, url + "cb", "snsapi_userinfo", "S9")
        with screenshot_on_failure(page, "oauth_consent"):
            for choice in ("consent-deny", "consent-allow"):
                page.goto(authorize + "#wechat_redirect")
                page.click(f'[data-payer-id="{payer["payer_id"]}"]')
                assert "Judy" in page.inner_text("#consent-user")
                page.click(f"#{choice}")
                page.wait_for_selector("#cb")
                query = parse_qs(urlsplit(page.url).query)
                assert query["state"] == ["S9"]
                assert ("code" in query) is (choice == "consent-allow")
            token = web.http.get(
                "/sns/oauth2/access_token",
                params={
                    "appid": appid,
                    "secret": merchant.secrets[appid],
                    "code": query["code"][0],
                    "grant_type": "authorization_code",
                },
            ).json()
            info = web.http.get(
                "/sns/userinfo",
                params={"access_token": token["access_token"], "openid": token["openid"]},
            ).json()
            assert info["nickname"] == "Judy"


def test_h5_payment_returns_to_redirect_url(web: Harness, page: Any, sink: MerchantSink) -> None:
    merchant = web.merchant(name="蛋糕店 Cake shop")
    payer = web.payer(balance=5_000, name="Erin")
    shop = "<!doctype html><title>shop</title><a id=pay href='{href}'>微信支付 ¥9.90</a>"
    pages: dict[str, str] = {}
    with merchant_site(pages) as url:
        answer = web.client(merchant).unifiedorder(
            body="蛋糕店-芝士蛋糕",
            out_trade_no="E2E-H5-1",
            total_fee=990,
            spbill_create_ip="127.0.0.1",
            notify_url=sink.url,
            trade_type="MWEB",
            scene_info=json.dumps({"h5_info": {"type": "Wap", "wap_url": url, "wap_name": "cake"}}),
        )
        href = answer["mweb_url"] + "&" + urlencode({"redirect_url": url + "done"})
        pages["/"] = shop.format(href=href)
        pages["/done"] = "<!doctype html><title>done</title><p id=done>back at the shop</p>"
        with screenshot_on_failure(page, "h5"):
            page.goto(url)
            page.click("#pay")
            assert "9.90" in page.inner_text("#amount")
            page.check(f'[data-payer-id="{payer["payer_id"]}"]')
            page.fill("#password", payer["pay_password"])
            page.click("#pay")
            page.wait_for_selector("#done")
            assert urlsplit(page.url).path == "/done"
            query = web.client(merchant).orderquery(out_trade_no="E2E-H5-1")
            assert query["trade_state"] == "SUCCESS"
            wait_for(lambda: sink.received)
