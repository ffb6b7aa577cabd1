"""Payer pages tell the order's current state before asking for anything (issue 17).

An order that cannot be paid any more (expired, closed by the merchant, paid, refunded) gets a
screen of its own on the QR page and on the phone, never the QR code or the password form; a
retryable failure (wrong password, not enough balance) comes back on the same form, beside the
field; an unknown path is a page, not a bare "Not Found".
"""

from __future__ import annotations

import re

import pytest
from pages_support import post_form

from reference_wire import v2_sign
from wxpay_local.testing import Harness, MerchantInfo

pytestmark = pytest.mark.api


def _native(platform: Harness, merchant: MerchantInfo, out_trade_no: str = "ST001") -> str:
    return platform.client(merchant).unifiedorder(
        body="Test shop-Coffee",
        out_trade_no=out_trade_no,
        total_fee=1800,
        spbill_create_ip="203.0.113.10",
        notify_url="http://127.0.0.1:9/notify",
        trade_type="NATIVE",
        product_id="latte",
    )["code_url"]


def _screens(platform: Harness, code_url: str, payer_id: int) -> tuple[str, str]:
    """The data-state of the QR page and of the phone page for this code_url."""
    found = []
    for path, params in (
        ("/pay/qr", {"code_url": code_url}),
        ("/phone", {"code_url": code_url, "payer_id": str(payer_id)}),
    ):
        page = platform.http.get(path, params=params)
        assert page.status_code == 200, page.text[:300]
        state = re.search(r'id="state-screen" data-state="(\w+)"', page.text)
        found.append(state[1] if state else "")
        if state:
            assert 'name="password"' not in page.text and "<svg" not in page.text
    return found[0], found[1]


def test_an_unpaid_order_shows_its_qr_code_and_the_form(platform: Harness) -> None:
    code_url = _native(platform, platform.merchant())
    payer = platform.payer()
    assert _screens(platform, code_url, payer["payer_id"]) == ("", "")
    phone = platform.http.get(
        "/phone", params={"code_url": code_url, "payer_id": payer["payer_id"]}
    )
    assert 'name="password"' in phone.text


def test_an_expired_order_says_so_before_the_password(platform: Harness) -> None:
    code_url = _native(platform, platform.merchant())
    payer = platform.payer()
    platform.advance(2 * 60 * 60 + 60)  # past the default two-hour lifetime
    assert _screens(platform, code_url, payer["payer_id"]) == ("expired", "expired")
    page = platform.http.get("/pay/qr", params={"code_url": code_url})
    assert "支付请求已失效，请重新发起支付" in page.text and "二维码已过期" in page.text


def test_a_closed_order_is_closed_not_expired(platform: Harness) -> None:
    merchant = platform.merchant()
    code_url = _native(platform, merchant)
    payer = platform.payer()
    platform.advance(6 * 60)  # an order cannot be closed in its first five minutes
    platform.client(merchant).closeorder(out_trade_no="ST001")
    assert _screens(platform, code_url, payer["payer_id"]) == ("closed", "closed")
    assert "订单已关闭" in platform.http.get("/pay/qr", params={"code_url": code_url}).text


def test_a_paid_order_says_paid_in_green_and_refunded_after_a_refund(relaxed: Harness) -> None:
    platform = relaxed  # refunds without the client certificate (mutual TLS is tested elsewhere)
    merchant = platform.merchant()
    code_url = _native(platform, merchant)
    payer = platform.payer()
    assert platform.pay(payer["payer_id"], code_url=code_url)["outcome"] == "SUCCESS"
    assert _screens(platform, code_url, payer["payer_id"]) == ("paid", "paid")
    page = platform.http.get("/pay/qr", params={"code_url": code_url})
    assert 'class="card result result-ok"' in page.text and "已支付" in page.text
    assert "订单状态：SUCCESS" not in page.text
    platform.client(merchant).call(
        "/secapi/pay/refund",
        out_trade_no="ST001",
        out_refund_no="R1",
        total_fee=1800,
        refund_fee=800,
    )
    assert _screens(platform, code_url, payer["payer_id"]) == ("refunded", "refunded")


def test_the_qr_pages_poll_reports_the_screen_once_paid(platform: Harness) -> None:
    code_url = _native(platform, platform.merchant())
    payer = platform.payer()
    before = platform.http.get("/pay/qr/state", params={"code_url": code_url}).json()
    assert before == {"trade_state": "NOTPAY", "screen": None}
    platform.pay(payer["payer_id"], code_url=code_url)
    after = platform.http.get("/pay/qr/state", params={"code_url": code_url}).json()
    assert after["trade_state"] == "SUCCESS" and after["screen"]["kind"] == "paid"


def test_a_form_paid_elsewhere_meanwhile_shows_the_paid_screen(platform: Harness) -> None:
    code_url = _native(platform, platform.merchant())
    payer = platform.payer()
    form = {"payer_id": str(payer["payer_id"]), "code_url": code_url, "method": "wallet"}
    platform.pay(payer["payer_id"], code_url=code_url)
    again = post_form(
        platform.http, "/phone/pay", data={**form, "password": "123456", "action": "pay"}
    )
    assert 'data-state="paid"' in again.text and 'name="password"' not in again.text


def test_wrong_password_and_short_balance_stay_on_the_form_beside_the_field(
    platform: Harness,
) -> None:
    code_url = _native(platform, platform.merchant())
    rich = platform.payer(balance=10_000)
    form = {"payer_id": str(rich["payer_id"]), "code_url": code_url, "method": "wallet"}
    wrong = post_form(
        platform.http, "/phone/pay", data={**form, "password": "000000", "action": "pay"}
    )
    assert wrong.status_code == 200
    assert re.search(
        r'id="error-password"[^>]*data-outcome="WRONG_PASSWORD">支付密码错误，请重试<', wrong.text
    )
    assert 'id="pay-form"' in wrong.text and 'aria-invalid="true"' in wrong.text
    short = post_form(platform.http, "/phone/pay", data={**form, "password": "12", "action": "pay"})
    assert short.status_code == 400 and 'id="error-password"' in short.text
    poor = platform.payer(balance=100, cards=["CMB_DEBIT"])  # a card could pay: the form shows
    form["payer_id"] = str(poor["payer_id"])
    broke = post_form(
        platform.http,
        "/phone/pay",
        data={**form, "password": poor["pay_password"], "action": "pay"},
    )
    assert re.search(r'id="error-method"[^>]*data-outcome="NOTENOUGH">零钱余额不足', broke.text)
    assert 'id="pay-form"' in broke.text


def _phone(platform: Harness, code_url: str, payer_id: int) -> str:
    page = platform.http.get("/phone", params={"code_url": code_url, "payer_id": payer_id})
    assert page.status_code == 200, page.text[:300]
    return page.text


def test_a_payer_who_cannot_pay_is_told_before_the_password_and_offered_others(
    platform: Harness,
) -> None:
    code_url = _native(platform, platform.merchant())
    rich = platform.payer(balance=10_000, name="Rich")
    poor = platform.payer(balance=100, name="Poor")  # ¥1.00 for ¥18.00, and no card
    carded = platform.payer(balance=0, name="Carded", cards=["CMB_DEBIT"])
    assert _screens(platform, code_url, poor["payer_id"]) == ("", "cannot_pay")
    text = _phone(platform, code_url, poor["payer_id"])
    assert "零钱余额不足，且未绑定银行卡，请使用其他微信账号支付" in text
    assert 'id="pay-form"' not in text
    others = re.findall(r'href="/phone\?payer_id=(\d+)&amp;code_url=weixin', text)
    assert sorted(map(int, others)) == sorted([rich["payer_id"], carded["payer_id"]])
    # a form posted anyway (opened before the balance went) gets the same screen back
    posted = post_form(
        platform.http,
        "/phone/pay",
        data={
            "payer_id": str(poor["payer_id"]),
            "code_url": code_url,
            "method": "wallet",
            "password": poor["pay_password"],
            "action": "pay",
        },
    )
    assert 'data-state="cannot_pay"' in posted.text and 'name="password"' not in posted.text
    # the payer the screen offers gets the form, with a method that can pay already chosen
    assert 'id="pay-form"' in _phone(platform, code_url, rich["payer_id"])
    with_card = _phone(platform, code_url, carded["payer_id"])
    assert 'id="pay-form"' in with_card and "余额 ¥0.00（不足）" in with_card
    assert re.search(
        r'name="method" value="\d+" checked>\s*<span class="row-main">招商银行储蓄卡', with_card
    )
    assert not re.search(r'value="wallet" checked', with_card)


def test_only_credit_cards_under_no_credit_cannot_pay(platform: Harness) -> None:
    merchant = platform.merchant()
    code_url = platform.client(merchant).unifiedorder(
        body="Test shop-Coffee",
        out_trade_no="NC001",
        total_fee=1800,
        spbill_create_ip="203.0.113.10",
        notify_url="http://127.0.0.1:9/notify",
        trade_type="NATIVE",
        product_id="latte",
        limit_pay="no_credit",
    )["code_url"]
    credit = platform.payer(balance=0, cards=["ICBC_CREDIT"])
    assert _screens(platform, code_url, credit["payer_id"]) == ("", "cannot_pay")
    text = _phone(platform, code_url, credit["payer_id"])
    assert "零钱余额不足，且商户不支持信用卡支付，请更换支付方式或使用其他微信账号支付" in text
    assert 'id="no-other-payers"' in text  # nobody else can pay it: it says how to make one
    # the same payer on an order that takes credit cards gets the form
    other = _native(platform, merchant, "NC002")
    assert 'id="pay-form"' in _phone(platform, other, credit["payer_id"])


def test_cards_show_bank_names(platform: Harness) -> None:
    code_url = _native(platform, platform.merchant())
    payer = platform.payer(cards=["CMB_DEBIT", "ICBC_CREDIT"])
    phone = platform.http.get(
        "/phone", params={"code_url": code_url, "payer_id": payer["payer_id"]}
    )
    assert "招商银行储蓄卡" in phone.text and "工商银行信用卡" in phone.text
    assert "CMB_DEBIT" not in phone.text


def test_an_unknown_path_is_a_styled_page_and_json_under_the_control_plane(
    platform: Harness,
) -> None:
    page = platform.http.get("/nope")
    assert page.status_code == 404 and 'id="not-found"' in page.text and "/nope" in page.text
    assert '<link rel="icon" href="/favicon.ico"' in page.text
    api = platform.http.get("/_local/nope")
    assert api.status_code == 404 and api.json()["error"] == "NOT_FOUND"
    icon = platform.http.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")


def _app_params(platform: Harness, merchant: MerchantInfo) -> dict[str, str]:
    order = platform.client(merchant, "app").unifiedorder(
        body="App shop-Coins",
        out_trade_no="APPST1",
        total_fee=600,
        spbill_create_ip="203.0.113.10",
        notify_url="http://127.0.0.1:9/notify",
        trade_type="APP",
    )
    params = {
        "appid": merchant.apps["app"],
        "partnerid": merchant.mch_id,
        "prepayid": order["prepay_id"],
        "package": "Sign=WXPay",
        "noncestr": "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
        "timestamp": "1700000000",
    }
    params["sign"] = v2_sign(params, merchant.api_key)
    return params


def test_the_app_result_page_has_a_way_back_and_a_paid_order_says_paid(platform: Harness) -> None:
    merchant = platform.merchant(name="App shop")
    params = _app_params(platform, merchant)
    payer = platform.payer()
    shop = {"referer": "https://app.example/checkout"}
    page = platform.http.get("/app/pay", params=params, headers=shop)
    assert 'name="back_url" value="https://app.example/checkout"' in page.text
    form = {
        **params,
        "payer_id": str(payer["payer_id"]),
        "back_url": "https://app.example/checkout",
    }
    wrong = post_form(platform.http, "/app/pay/confirm", data={**form, "password": "000000"})
    assert 'id="back-to-app" href="https://app.example/checkout"' in wrong.text
    assert 'id="retry" href="/app/pay?' in wrong.text
    paid = post_form(
        platform.http, "/app/pay/confirm", data={**form, "password": payer["pay_password"]}
    )
    assert 'data-err-code="0"' in paid.text and 'id="back-to-app"' in paid.text
    again = platform.http.get("/app/pay", params=params, headers=shop)
    assert 'data-state="paid"' in again.text and 'name="password"' not in again.text
