"""The wallet and APP pay in a real headless Chromium.

Wallet: the history after a payment, the payment-password change, the payment code as barcode
and QR with its countdown, and a cashier's micropay (run in a thread as a till does: charge,
then poll orderquery) answered on the wallet's password prompt. APP: a merchant page on its own
origin opens ``/app/pay`` with §6.2 parameters the test signed; pay → errCode 0 (notification
and orderquery SUCCESS), cancel → -2, a bad sign → -1 on the page.
"""

from __future__ import annotations

import html
import threading
import time
from typing import Any
from urllib.parse import urlencode

import pytest
from browser_support import docs_shot, merchant_site, screenshot_on_failure

from wxpay_local.sdk import Client, RejectedError
from wxpay_local.testing import Harness, MerchantInfo, MerchantSink, wait_for
from wxpay_local.wire import signing

pytestmark = pytest.mark.e2e


def test_wallet_history_password_and_payment_code(web: Harness, page: Any) -> None:
    merchant = web.merchant(name="书店 Bookshop")
    payer = web.payer(balance=20_000, name="Dora", cards=["CMB_DEBIT"])
    order = web.client(merchant).unifiedorder(
        body="书店-三体",
        out_trade_no="E2E-W-1",
        total_fee=2_350,
        spbill_create_ip="203.0.113.10",
        notify_url="http://127.0.0.1:9/notify",
        trade_type="NATIVE",
        product_id="book",
    )
    assert web.pay(payer["payer_id"], code_url=order["code_url"])["outcome"] == "SUCCESS"
    with screenshot_on_failure(page, "wallet_history"):
        page.goto(f"{web.base_url}/wallet?payer_id={payer['payer_id']}")
        assert "176.50" in page.inner_text("#balance")
        bill = page.locator("#history .bill")
        assert bill.count() == 1
        text = bill.inner_text()
        assert "书店 Bookshop" in text and "书店-三体" in text and "-23.50" in text
        assert "零钱" in text and "支付成功" in text
        docs_shot(page, "wallet_history")

        page.fill("#old-password", "000000")
        page.fill("#new-password", "135790")
        page.fill("#repeat-password", "135790")
        page.click("#change-password")
        assert page.inner_text("#notice") == "原支付密码错误"
        page.fill("#old-password", payer["pay_password"])
        page.fill("#new-password", "135790")
        page.fill("#repeat-password", "135790")
        page.click("#change-password")
        assert page.inner_text("#notice") == "支付密码已修改"

        page.click("#paycode")
        code = page.get_attribute(".qr-box", "data-auth-code")
        assert code is not None and len(code) == 18
        assert page.locator("#barcode svg rect").count() > 20
        assert page.locator("#barcode svg").is_visible()
        assert page.locator(".qr-box svg").is_visible()
        assert page.inner_text("#auth-code").replace(" ", "") == code
        first = page.inner_text("#countdown")
        page.wait_for_function(f"document.getElementById('countdown').textContent !== {first!r}")
        docs_shot(page, "wallet_barcode")


def _till(client: Client, auth_code: str, outcome: dict[str, str]) -> None:
    """A cashier's system: charge the code; while the payer is asked, poll orderquery."""
    try:
        client.call(
            "/pay/micropay",
            body="书店-咖啡",
            out_trade_no="E2E-MP-1",
            total_fee=1_200,
            spbill_create_ip="203.0.113.10",
            auth_code=auth_code,
        )
        outcome["state"] = "SUCCESS"
        return
    except RejectedError as exc:
        outcome["first"] = exc.err_code
    deadline = time.monotonic() + 25
    while time.monotonic() < deadline:
        state = client.orderquery(out_trade_no="E2E-MP-1")["trade_state"]
        if state != "USERPAYING":
            outcome["state"] = state
            return
        time.sleep(0.25)
    outcome["state"] = "TIMEOUT"


def test_micropay_password_prompt_answered_on_the_wallet(web: Harness, page: Any) -> None:
    merchant = web.merchant(name="书店 Bookshop")
    payer = web.payer(balance=5_000, name="Eli", cards=["ICBC_CREDIT"])
    with screenshot_on_failure(page, "wallet_prompt"):
        page.goto(f"{web.base_url}/wallet?payer_id={payer['payer_id']}")
        page.check('input[name="policy"][value="always"]')
        page.click("#save-policy")
        assert page.inner_text("#notice") == "免密设置已保存"
        page.click("#paycode")
        code = page.get_attribute(".qr-box", "data-auth-code")
        assert code is not None
        page.click("#paycode-card >> text=返回钱包")  # the prompt shows on the paycode page too
        outcome: dict[str, str] = {}
        till = threading.Thread(target=_till, args=(web.client(merchant), code, outcome))
        till.start()
        try:
            page.wait_for_selector("#prompt:not([hidden])")
            assert page.inner_text("#prompt-merchant") == "书店 Bookshop"
            assert page.inner_text("#prompt-amount") == "12.00"
            assert page.inner_text("#prompt-body") == "书店-咖啡"
            assert "秒内输入密码" in page.inner_text("#prompt-deadline")
            page.fill("#prompt-password", "000000")
            page.click("#prompt-pay")
            page.wait_for_function(
                "document.getElementById('prompt-message').textContent.indexOf('密码错误') >= 0"
            )
            page.fill("#prompt-password", payer["pay_password"])
            docs_shot(page, "wallet_prompt")
            page.click("#prompt-pay")
            page.wait_for_selector('#prompt[data-outcome="SUCCESS"]')
            assert page.inner_text("#prompt-message") == "支付成功"
            # the outcome in green, no frozen countdown, no disabled 取消支付 left visible
            color = page.eval_on_selector("#prompt-message", "e => getComputedStyle(e).color")
            assert color == "rgb(6, 125, 65)"
            assert page.inner_text("#prompt-deadline") == ""
            assert page.locator("#prompt-cancel").is_hidden()
        finally:
            till.join(30)
        assert outcome == {"first": "USERPAYING", "state": "SUCCESS"}
        with page.expect_navigation():
            page.click("#prompt-pay")  # 完成: the wallet reloads with the new bill
        assert page.locator("#prompt").is_hidden()
        assert "38.00" in page.inner_text("#balance")
        assert "书店-咖啡" in page.locator("#history .bill").first.inner_text()


def test_a_password_free_micropay_replaces_the_code_with_its_outcome(
    web: Harness, page: Any
) -> None:
    merchant = web.merchant(name="书店 Bookshop")
    payer = web.payer(balance=5_000, name="Eli")
    with screenshot_on_failure(page, "paycode_used"):
        page.goto(f"{web.base_url}/wallet?payer_id={payer['payer_id']}")
        page.click("#paycode")
        code = page.get_attribute(".qr-box", "data-auth-code")
        assert code is not None
        answer = web.client(merchant).call(
            "/pay/micropay",
            body="书店-咖啡",
            out_trade_no="E2E-MP-FREE",
            total_fee=1_200,
            spbill_create_ip="203.0.113.10",
            auth_code=code,
        )
        assert answer["result_code"] == "SUCCESS"  # under ¥1000: no password asked
        page.wait_for_selector('#paycode-used[data-state="SUCCESS"]', timeout=5_000)
        assert page.inner_text("#used-title") == "支付成功"
        assert page.inner_text("#used-amount") == "¥12.00"
        assert page.locator("#paycode-card").is_hidden()  # the used code is gone
        color = page.eval_on_selector("#used-title", "e => getComputedStyle(e).color")
        assert color == "rgb(6, 125, 65)"


APP_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Gem store</title></head>
<body style="font-family:sans-serif;padding:24px">
<h1>Gem store · 100 gems</h1>
<p>The app's server signed these parameters; WeChat (here, the platform's page) opens.</p>
<a id="open-wechat" href="{pay}">微信支付 ¥9.90</a><br>
<a id="open-bad" href="{bad}">(tampered sign)</a>
</body></html>"""


def _app_params(merchant: MerchantInfo, prepay_id: str, key: str) -> dict[str, str]:
    """§6.2 as the merchant's server builds it: lower-case keys, package=Sign=WXPay."""
    params = {
        "appid": merchant.apps["app"],
        "partnerid": merchant.mch_id,
        "prepayid": prepay_id,
        "package": "Sign=WXPay",
        "noncestr": "1add1a30ac87aa2db72f57a2375d8fec",
        "timestamp": str(int(time.time())),
    }
    params["sign"] = signing.sign(params, key)
    return params


def test_app_pay_from_a_merchant_page(web: Harness, page: Any, sink: MerchantSink) -> None:
    merchant = web.merchant(name="宝石商店 Gem store")
    payer = web.payer(balance=0, name="Fay", cards=["CMB_DEBIT"])
    order = web.client(merchant, "app").unifiedorder(
        body="宝石商店-100宝石",
        out_trade_no="E2E-APP-1",
        total_fee=990,
        spbill_create_ip="203.0.113.10",
        notify_url=sink.url,
        trade_type="APP",
    )
    good = _app_params(merchant, order["prepay_id"], merchant.api_key)
    bad = _app_params(merchant, order["prepay_id"], "x" * 32)
    site = APP_PAGE.format(
        pay=html.escape(f"{web.base_url}/app/pay?{urlencode(good)}"),
        bad=html.escape(f"{web.base_url}/app/pay?{urlencode(bad)}"),
    )
    with merchant_site({"*": site}) as url, screenshot_on_failure(page, "app_pay"):
        page.goto(url)
        page.click("#open-bad")
        assert "errCode -1" in page.inner_text("#error")
        assert "sign does not match" in page.inner_text("#error")

        page.goto(url)
        page.click("#open-wechat")
        assert page.inner_text("#merchant-name") == "宝石商店 Gem store"
        assert "9.90" in page.inner_text("#amount")
        page.check(f'input[data-payer-id="{payer["payer_id"]}"]')
        page.click("#cancel")
        assert page.get_attribute("#result", "data-err-code") == "-2"
        assert page.inner_text("#err-code") == "-2"

        page.goto(url)
        page.click("#open-wechat")
        page.check(f'input[data-payer-id="{payer["payer_id"]}"]')
        page.fill("#password", payer["pay_password"])
        page.click("#pay")  # the wallet is empty
        assert page.get_attribute("#result", "data-err-code") == "-1"
        assert "零钱余额不足" in page.inner_text("#result")

        page.goto(url)
        page.click("#open-wechat")
        page.check(f'input[data-payer-id="{payer["payer_id"]}"]')
        page.select_option("#method", str(payer["cards"][0]["card_id"]))
        page.fill("#password", payer["pay_password"])
        docs_shot(page, "app_pay")
        page.click("#pay")
        assert page.get_attribute("#result", "data-err-code") == "0"
        assert page.inner_text("#err-code") == "0"
        docs_shot(page, "app_result")

    query = web.client(merchant).orderquery(out_trade_no="E2E-APP-1")
    assert query["trade_state"] == "SUCCESS" and query["bank_type"] == "CMB_DEBIT"
    wait_for(lambda: sink.received)
    assert b"E2E-APP-1" in sink.received[0].body
    assert wait_for(lambda: web.notifications(merchant.mch_id)[0]["status"] == "delivered")
