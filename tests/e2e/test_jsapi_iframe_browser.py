"""The JSAPI sheet isolated in the platform's iframe, the payment directory and the Mini
Program's wx.login / wx.requestPayment, in a real headless Chromium.

The merchant's page runs on a loopback origin of its own; the sheet is served by the platform
(another origin), so the page's scripts can neither read the password box nor forge the
sheet's answer.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from browser_support import docs_shot, merchant_site, screenshot_on_failure

from wxpay_local.codes import SignType
from wxpay_local.testing import Harness, MerchantInfo
from wxpay_local.wire import signing

pytestmark = pytest.mark.e2e

PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Shop</title><script src="{base}/jsapi/jweixin.js"></script></head>
<body><h1>Shop</h1>
<button id="buy">pay</button><button id="login">login</button><button id="mp-pay">mp pay</button>
<pre id="result"></pre><pre id="code"></pre>
<script>
window.seen = [];
window.addEventListener("message", function (e) {{ window.seen.push(JSON.stringify(e.data)); }});
var params = {params};
function show(text) {{ document.getElementById("result").textContent = text; }}
wx.config({{appId: {config_appid}}});
document.getElementById("buy").onclick = function () {{
  WeixinJSBridge.invoke("getBrandWCPayRequest", params, function (res) {{ show(res.err_msg); }});
}};
document.getElementById("login").onclick = function () {{
  wx.login({{success: function (r) {{ document.getElementById("code").textContent = r.code; }},
             fail: function (r) {{ show("login " + r.errMsg); }}}});
}};
document.getElementById("mp-pay").onclick = function () {{
  var p = window.mpParams;
  wx.requestPayment({{timeStamp: p.timeStamp, nonceStr: p.nonceStr, package: p["package"],
    signType: p.signType, paySign: p.paySign,
    success: function (r) {{ show("success " + r.errMsg); }},
    fail: function (r) {{ show("fail " + r.errMsg); }},
    complete: function (r) {{ document.title = "complete " + r.errMsg; }}}});
}};
</script></body></html>"""


def _signed(appid: str, prepay_id: str, key: str) -> dict[str, str]:
    params = {
        "appId": appid,
        "timeStamp": str(int(time.time())),
        "nonceStr": "e61463f8efa94090b1f366cccfbbb444",
        "package": f"prepay_id={prepay_id}",
        "signType": "MD5",
    }
    params["paySign"] = signing.sign(params, key, SignType.MD5)
    return params


def _order(web: Harness, merchant: MerchantInfo, openid: str, kind: str, no: str) -> str:
    answer = web.client(merchant, kind=kind).unifiedorder(
        body="Shop-Tea",
        out_trade_no=no,
        total_fee=1250,
        spbill_create_ip="203.0.113.10",
        notify_url="http://127.0.0.1:9/notify",
        trade_type="JSAPI",
        openid=openid,
    )
    prepay_id: str = answer["prepay_id"]
    return prepay_id


def _result(page: Any) -> str:
    page.wait_for_function("document.getElementById('result').textContent !== ''")
    return str(page.inner_text("#result"))


def _jsapi_page(web: Harness) -> tuple[MerchantInfo, dict[str, Any], dict[str, Any]]:
    merchant = web.merchant(name="Shop")
    appid = merchant.apps["official_account"]
    payer = web.payer(balance=5_000, name="Heidi")
    prepay_id = _order(
        web, merchant, web.openid(payer["payer_id"], appid), "official_account", "IF1"
    )
    params = _signed(appid, prepay_id, merchant.api_key)
    return merchant, payer, params


def test_the_password_never_exists_in_the_merchants_page(web: Harness, page: Any) -> None:
    merchant, payer, params = _jsapi_page(web)
    site: dict[str, str] = {}
    with merchant_site(site) as url, screenshot_on_failure(page, "iframe_isolated"):
        web.control(
            "POST",
            f"/_local/merchants/{merchant.mch_id}/config",
            {"jsapi_directories": [url + "pay/"]},
        )
        site["*"] = PAGE.format(base=web.base_url, params=json.dumps(params), config_appid='""')
        page.goto(url + "pay/index.html")
        page.click("#buy")
        sheet = page.frame_locator("#wxpay-frame")
        sheet.locator("#wxpay-password").fill(payer["pay_password"])
        frame_url = page.eval_on_selector("#wxpay-frame", "f => f.src")
        assert frame_url == web.base_url + "/jsapi/sheet"
        probe = page.evaluate(
            """() => {
              const frame = document.getElementById('wxpay-frame');
              let reach = 'blocked';
              try { reach = String(frame.contentWindow.document.body.innerHTML); }
              catch (e) { reach = 'blocked'; }
              return {
                inputs: document.querySelectorAll('input').length,
                contentDocument: frame.contentDocument === null,
                reach: reach,
                html: document.documentElement.outerHTML,
              };
            }"""
        )
        assert probe["inputs"] == 0 and probe["contentDocument"] is True
        assert probe["reach"] == "blocked"
        assert payer["pay_password"] not in probe["html"]
        # A forged answer from the page itself is ignored: only the platform's iframe counts.
        page.evaluate("window.postMessage({type: 'wxpay-local:result', result: 'ok'}, '*')")
        page.wait_for_timeout(300)
        assert page.inner_text("#result") == ""
        sheet.locator("#wxpay-pay").click()
        assert _result(page) == "get_brand_wcpay_request:ok"
        seen = page.evaluate("window.seen")
        assert not any(payer["pay_password"] in m for m in seen), seen
        assert web.client(merchant).orderquery(out_trade_no="IF1")["trade_state"] == "SUCCESS"


def test_a_page_outside_the_payment_directories_is_refused(web: Harness, page: Any) -> None:
    merchant, _, params = _jsapi_page(web)
    html = PAGE.format(base=web.base_url, params=json.dumps(params), config_appid='""')
    with merchant_site({"*": html}) as url, screenshot_on_failure(page, "iframe_directory"):
        directory = url + "pay/"
        web.control(
            "POST",
            f"/_local/merchants/{merchant.mch_id}/config",
            {"jsapi_directories": [directory]},
        )
        page.goto(url + "cart/checkout.html")
        page.click("#buy")
        error = page.frame_locator("#wxpay-frame").locator("#wxpay-error")
        error.wait_for()
        assert error.inner_text() == "当前页面的URL未注册"
        docs_shot(page, "jsapi_unregistered_url")
        page.frame_locator("#wxpay-frame").locator("#wxpay-error-ok").click()
        assert _result(page) == "get_brand_wcpay_request:fail"
        told = [e for e in page.console_errors if "is not under" in e]
        assert told and url + "cart/checkout.html" in told[0] and directory in told[0]
        assert web.client(merchant).orderquery(out_trade_no="IF1")["trade_state"] == "NOTPAY"


def test_mini_program_login_and_request_payment(web: Harness, page: Any) -> None:
    merchant = web.merchant(name="Noodle bar")
    appid = merchant.apps["mini_program"]
    payer = web.payer(balance=5_000, name="Ivan")
    html = PAGE.format(base=web.base_url, params="{}", config_appid=json.dumps(appid))
    with merchant_site({"*": html}) as url, screenshot_on_failure(page, "mini_program"):
        page.goto(url)
        page.click("#login")
        sheet = page.frame_locator("#wxpay-frame")
        sheet.locator(f'[data-payer-id="{payer["payer_id"]}"]').wait_for()
        docs_shot(page, "miniprogram_login")
        sheet.locator(f'[data-payer-id="{payer["payer_id"]}"]').click()
        page.wait_for_function("document.getElementById('code').textContent !== ''")
        code = page.inner_text("#code")
        session = web.http.get(
            "/sns/jscode2session",
            params={
                "appid": appid,
                "secret": merchant.secrets[appid],
                "js_code": code,
                "grant_type": "authorization_code",
            },
        ).json()
        assert session["openid"] == web.openid(payer["payer_id"], appid)
        prepay_id = _order(web, merchant, session["openid"], "mini_program", "MPB1")
        signed = _signed(appid, prepay_id, merchant.api_key)
        page.evaluate("p => { window.mpParams = p; }", signed)
        page.click("#mp-pay")
        sheet.locator("#wxpay-cancel").click()
        assert _result(page) == "fail requestPayment:fail cancel"
        page.evaluate("document.getElementById('result').textContent = ''")
        page.click("#mp-pay")
        sheet.locator("#wxpay-amount", has_text="12.50").wait_for()  # filled once verified
        sheet.locator("#wxpay-password").fill(payer["pay_password"])
        sheet.locator("#wxpay-pay").click()
        assert _result(page) == "success requestPayment:ok"
        assert page.title() == "complete requestPayment:ok"
        query = web.client(merchant, kind="mini_program").orderquery(out_trade_no="MPB1")
        assert query["trade_state"] == "SUCCESS"
        # A bad paySign: the Mini Program's fail carries the platform's message.
        page.evaluate("document.getElementById('result').textContent = ''")
        page.evaluate("() => { window.mpParams.paySign = '0'.repeat(32); }")
        page.click("#mp-pay")
        sheet.locator("#wxpay-error-ok").click()
        assert _result(page).startswith("fail requestPayment:fail ")
