"""The payer's pages over plain HTTP: the QR page, the phone, OAuth2 and the JSAPI checks."""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from pages_support import post_form

from reference_wire import v2_sign
from wxpay_local.codes import SignType
from wxpay_local.testing import Harness, MerchantInfo

pytestmark = pytest.mark.api


def _native(platform: Harness, merchant: MerchantInfo, total_fee: int = 1800) -> dict[str, str]:
    return platform.client(merchant).unifiedorder(
        body="Test shop-Coffee",
        out_trade_no="QR001",
        total_fee=total_fee,
        spbill_create_ip="203.0.113.10",
        notify_url="http://127.0.0.1:9/notify",
        trade_type="NATIVE",
        product_id="latte",
    )


def _jsapi(
    platform: Harness, merchant: MerchantInfo, openid: str, sign_type: SignType = SignType.MD5
) -> dict[str, str]:
    return platform.client(merchant, sign_type=sign_type).unifiedorder(
        body="Test shop-Tea",
        out_trade_no="JS001",
        total_fee=1250,
        spbill_create_ip="203.0.113.10",
        notify_url="http://127.0.0.1:9/notify",
        trade_type="JSAPI",
        openid=openid,
    )


def pay_params(
    appid: str, prepay_id: str, key: str, sign_type: SignType = SignType.MD5
) -> dict[str, str]:
    """The §6.1 construction, as a merchant server builds it."""
    params = {
        "appId": appid,
        "timeStamp": str(int(time.time())),
        "nonceStr": "e61463f8efa94090b1f366cccfbbb444",
        "package": f"prepay_id={prepay_id}",
        "signType": str(sign_type),
    }
    params["paySign"] = v2_sign(params, key, sign_type)
    return params


def test_the_spec_worked_example_is_the_signing_construction() -> None:
    fields = {
        "appId": "wx8888888888888888",
        "nonceStr": "e61463f8efa94090b1f366cccfbbb444",
        "package": "prepay_id=wx201411101639507cbf6ffd8b0779950874",
        "signType": "MD5",
        "timeStamp": "1704081600",
    }
    key = "Wh7Qx2LmP9sT4vB8nK3dR6yF1gJ5zC0a"
    assert v2_sign(fields, key) == "D76D8B5DE2F259965C0AE0C58FC3D6E6"
    fields["signType"] = "HMAC-SHA256"
    assert (
        v2_sign(fields, key, SignType.HMAC_SHA256)
        == "9D095E3598B98817958201A7119406C289419981A62EB3ED7C703D2BABD15457"
    )


def test_qr_page_renders_an_svg_of_the_code_url(platform: Harness) -> None:
    merchant = platform.merchant(name="Blue Bottle")
    code_url = _native(platform, merchant)["code_url"]
    page = platform.http.get("/pay/qr", params={"code_url": code_url})
    assert page.status_code == 200, page.text
    assert "<svg" in page.text and f"<title>{code_url}</title>" in page.text
    assert "Blue Bottle" in page.text and "18.00" in page.text and "Test shop-Coffee" in page.text
    assert "/phone?code_url=" in page.text


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/pay/qr", {}, 400),
        ("/pay/qr", {"code_url": "https://example.com/"}, 400),
        ("/pay/qr", {"code_url": "weixin://wxpay/bizpayurl?pr=nope"}, 404),
        ("/phone", {"payer_id": "abc"}, 400),
        ("/phone", {"payer_id": "999999"}, 404),
        ("/phone", {"code_url": "weixin://wxpay/s/nope"}, 404),
        ("/connect/oauth2/authorize", {}, 400),
        ("/connect/oauth2/authorize", {"appid": "wxnope", "redirect_uri": "x"}, 400),
    ],
)
def test_bad_page_input_is_a_readable_4xx(
    platform: Harness, path: str, params: dict[str, str], status: int
) -> None:
    page = platform.http.get(path, params=params)
    assert page.status_code == status, page.text
    assert 'id="error"' in page.text


def test_phone_pays_a_native_order_from_the_wallet(platform: Harness) -> None:
    merchant = platform.merchant(name="Blue Bottle")
    code_url = _native(platform, merchant)["code_url"]
    payer = platform.payer(balance=10_000, name="Alice")
    listing = platform.http.get("/phone", params={"code_url": code_url})
    assert "Alice" in listing.text and "100.00" in listing.text
    page = platform.http.get("/phone", params={"payer_id": payer["payer_id"], "code_url": code_url})
    assert page.status_code == 200 and "Blue Bottle" in page.text and "18.00" in page.text
    form = {"payer_id": str(payer["payer_id"]), "code_url": code_url, "method": "wallet"}
    wrong = post_form(
        platform.http, "/phone/pay", data={**form, "password": "000000", "action": "pay"}
    )
    assert 'data-outcome="WRONG_PASSWORD"' in wrong.text
    short = post_form(platform.http, "/phone/pay", data={**form, "password": "12", "action": "pay"})
    assert short.status_code == 400
    paid = post_form(
        platform.http,
        "/phone/pay",
        data={**form, "password": payer["pay_password"], "action": "pay"},
    )
    assert paid.status_code == 200 and 'data-outcome="SUCCESS"' in paid.text
    query = platform.client(merchant).orderquery(out_trade_no="QR001")
    assert query["trade_state"] == "SUCCESS"
    again = post_form(
        platform.http,
        "/phone/pay",
        data={**form, "password": payer["pay_password"], "action": "pay"},
    )
    assert 'data-state="paid"' in again.text  # the paid screen, not the form


def test_phone_cancel_leaves_the_order_payable(platform: Harness) -> None:
    merchant = platform.merchant()
    code_url = _native(platform, merchant)["code_url"]
    payer = platform.payer()
    cancelled = post_form(
        platform.http,
        "/phone/pay",
        data={"payer_id": str(payer["payer_id"]), "code_url": code_url, "action": "cancel"},
    )
    assert 'data-outcome="CANCELLED"' in cancelled.text
    assert platform.client(merchant).orderquery(out_trade_no="QR001")["trade_state"] == "NOTPAY"


def _authorize(platform: Harness, appid: str, payer_id: int, state: str = "xyz") -> str:
    params = {
        "appid": appid,
        "redirect_uri": "https://shop.example/cb?table=7",
        "response_type": "code",
        "scope": "snsapi_base",
        "state": state,
    }
    page = platform.http.get("/connect/oauth2/authorize", params=params)
    assert page.status_code == 200, page.text
    assert f'data-payer-id="{payer_id}"' in page.text
    answer = post_form(
        platform.http, "/connect/oauth2/authorize", data={**params, "payer_id": str(payer_id)}
    )
    assert answer.status_code == 302, answer.text
    location = urlsplit(answer.headers["location"])
    assert (location.netloc, location.path) == ("shop.example", "/cb")
    query = parse_qs(location.query)
    assert query["state"] == [state] and query["table"] == ["7"]
    return query["code"][0]


def _token(platform: Harness, appid: str, secret: str, code: str) -> dict[str, Any]:
    answer = platform.http.get(
        "/sns/oauth2/access_token",
        params={
            "appid": appid,
            "secret": secret,
            "code": code,
            "grant_type": "authorization_code",
        },
    )
    assert answer.status_code == 200
    result: dict[str, Any] = answer.json()
    return result


def test_oauth_round_trip_gives_the_payers_openid_once(platform: Harness) -> None:
    merchant = platform.merchant()
    appid = merchant.apps["official_account"]
    secret = merchant.secrets[appid]
    payer = platform.payer(name="Bob")
    code = _authorize(platform, appid, payer["payer_id"])
    token = _token(platform, appid, secret, code)
    assert token["openid"] == platform.openid(payer["payer_id"], appid)
    assert token["expires_in"] == 7200 and token["scope"] == "snsapi_base"
    assert token["access_token"] and token["refresh_token"]
    assert _token(platform, appid, secret, code) == {"errcode": 40029, "errmsg": "invalid code"}


def test_oauth_errors(platform: Harness) -> None:
    merchant = platform.merchant()
    appid = merchant.apps["official_account"]
    secret = merchant.secrets[appid]
    payer = platform.payer()
    code = _authorize(platform, appid, payer["payer_id"])
    assert _token(platform, appid, "wrong", code) == {
        "errcode": 40125,
        "errmsg": "invalid appsecret",
    }
    assert _token(platform, "wxnope", secret, code) == {"errcode": 40013, "errmsg": "invalid appid"}
    assert _token(platform, appid, secret, "nope") == {"errcode": 40029, "errmsg": "invalid code"}
    platform.advance(301)  # codes live five minutes on the platform clock
    assert _token(platform, appid, secret, code) == {"errcode": 40029, "errmsg": "invalid code"}
    bad_state = platform.http.get(
        "/connect/oauth2/authorize",
        params={
            "appid": appid,
            "redirect_uri": "https://shop.example/cb",
            "response_type": "code",
            "scope": "snsapi_base",
            "state": "not ok!",
        },
    )
    assert bad_state.status_code == 400


@pytest.mark.parametrize("sign_type", [SignType.MD5, SignType.HMAC_SHA256])
def test_jsapi_verify_accepts_the_spec_construction_and_pays(
    platform: Harness, sign_type: SignType
) -> None:
    merchant = platform.merchant(name="Tea house")
    appid = merchant.apps["official_account"]
    payer = platform.payer(balance=5_000, name="Carol")
    order = _jsapi(platform, merchant, platform.openid(payer["payer_id"], appid), sign_type)
    params = pay_params(appid, order["prepay_id"], merchant.api_key, sign_type)
    verified = platform.http.post("/jsapi/verify", json=params).json()
    assert verified["ok"] is True, verified
    assert verified["order"]["amount"] == "12.50" and verified["order"]["merchant"] == "Tea house"
    assert verified["payer"]["name"] == "Carol"
    wrong = platform.http.post("/jsapi/pay", json={**params, "password": "000000"}).json()
    assert wrong["outcome"] == "WRONG_PASSWORD" and wrong["retry"] is True
    paid = platform.http.post("/jsapi/pay", json={**params, "password": payer["pay_password"]})
    assert paid.json()["err_msg"] == "get_brand_wcpay_request:ok"
    assert platform.client(merchant).orderquery(out_trade_no="JS001")["trade_state"] == "SUCCESS"


def test_jsapi_verify_rejects_a_wrong_pay_sign(platform: Harness) -> None:
    merchant = platform.merchant()
    appid = merchant.apps["official_account"]
    payer = platform.payer()
    order = _jsapi(platform, merchant, platform.openid(payer["payer_id"], appid))
    params = pay_params(appid, order["prepay_id"], merchant.api_key)
    cases: list[tuple[dict[str, str], str]] = [
        ({**params, "paySign": "0" * 32}, "paySign does not match"),
        ({**params, "signType": "HMAC-SHA256"}, "signType"),
        ({**params, "appId": "wx0000000000000000"}, "appId"),
        ({**params, "package": order["prepay_id"]}, "package"),
        ({k: v for k, v in params.items() if k != "nonceStr"}, "nonceStr"),
        (pay_params(appid, order["prepay_id"], "k" * 32), "paySign does not match"),
    ]
    for bad, reason in cases:
        answer = platform.http.post("/jsapi/verify", json=bad).json()
        assert answer["ok"] is False and answer["err_msg"] == "get_brand_wcpay_request:fail"
        assert reason in answer["reason"], (bad, answer)
        assert merchant.api_key not in answer["reason"]
        paid = platform.http.post("/jsapi/pay", json={**bad, "password": "123456"}).json()
        assert paid["err_msg"] == "get_brand_wcpay_request:fail"
    cancel = platform.http.post("/jsapi/pay", json={**params, "action": "cancel"}).json()
    assert cancel["err_msg"] == "get_brand_wcpay_request:cancel"
    assert platform.http.post("/jsapi/verify", content=b"[1").status_code == 400
    assert platform.http.options("/jsapi/verify").headers["access-control-allow-origin"] == "*"


def test_jsapi_script_is_served(platform: Harness) -> None:
    script = platform.http.get("/jsapi/jweixin.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert re.search(r"getBrandWCPayRequest", script.text) and "chooseWXPay" in script.text
    assert "requestPayment" in script.text and "/jsapi/sheet" in script.text
    sheet = platform.http.get("/jsapi/sheet")
    assert sheet.status_code == 200 and 'id="wxpay-password"' in sheet.text
    assert "default-src 'self'" in sheet.headers["content-security-policy"]
    assert sheet.headers["cache-control"] == "no-store"
    assert platform.http.get("/static/pages/sheet.js").status_code == 200
    assert platform.http.get("/static/pages/pages.css").status_code == 200
    index = platform.http.get("/pages")
    assert index.status_code == 200 and "/jsapi/jweixin.js" in index.text
    assert 'href="/console"' in index.text  # the start page leads to the merchant console


def _mweb(platform: Harness, merchant: MerchantInfo) -> dict[str, str]:
    return platform.client(merchant).unifiedorder(
        body="Test shop-Cake",
        out_trade_no="H5001",
        total_fee=990,
        spbill_create_ip="127.0.0.1",  # the test's browser: the middle page checks the IP
        notify_url="http://127.0.0.1:9/notify",
        trade_type="MWEB",
        scene_info='{"h5_info":{"type":"Wap","wap_url":"https://shop.example","wap_name":"shop"}}',
    )


def test_h5_middle_page_pays_and_returns_to_redirect_url(platform: Harness) -> None:
    merchant = platform.merchant(name="Cake shop")
    mweb_url = _mweb(platform, merchant)["mweb_url"]
    query = {k: v[0] for k, v in parse_qs(urlsplit(mweb_url).query).items()}
    assert urlsplit(mweb_url).path == "/cgi-bin/mmpayweb-bin/checkmweb"
    payer = platform.payer(name="Erin")
    back = "https://shop.example/done?order=H5001"
    path = "/cgi-bin/mmpayweb-bin/checkmweb"
    params = {**query, "redirect_url": back}
    no_referer = platform.http.get(path, params=params)
    assert no_referer.status_code == 400 and "商家参数格式有误" in no_referer.text
    elsewhere = platform.http.get(path, params=params, headers={"referer": "https://evil.example/"})
    assert elsewhere.status_code == 400 and "商家存在未配置的参数" in elsewhere.text
    wrong_package = platform.http.get(
        path, params={**params, "package": "0"}, headers={"referer": "https://shop.example/"}
    )
    assert wrong_package.status_code == 400
    page = platform.http.get(path, params=params, headers={"referer": "https://shop.example/cart"})
    assert page.status_code == 200 and "Cake shop" in page.text and "9.90" in page.text
    form = {**params, "payer_id": str(payer["payer_id"])}
    paid = post_form(
        platform.http,
        "/cgi-bin/mmpayweb-bin/pay",
        data={**form, "password": payer["pay_password"], "action": "pay"},
    )
    assert paid.status_code == 303 and paid.headers["location"] == back
    assert platform.client(merchant).orderquery(out_trade_no="H5001")["trade_state"] == "SUCCESS"


def test_h5_link_expires_after_five_minutes(platform: Harness) -> None:
    merchant = platform.merchant()
    mweb_url = _mweb(platform, merchant)["mweb_url"]
    query = {k: v[0] for k, v in parse_qs(urlsplit(mweb_url).query).items()}
    platform.advance(301)
    page = platform.http.get(
        "/cgi-bin/mmpayweb-bin/checkmweb",
        params=query,
        headers={"referer": "https://shop.example/"},
    )
    assert page.status_code == 400 and "支付请求已失效" in page.text


def test_app_sign_worked_example() -> None:
    fields = {
        "appid": "wx8888888888888888",
        "noncestr": "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
        "package": "Sign=WXPay",
        "partnerid": "1900000109",
        "prepayid": "wx201411101639507cbf6ffd8b0779950874",
        "timestamp": "1704081600",
    }
    assert v2_sign(fields, "Wh7Qx2LmP9sT4vB8nK3dR6yF1gJ5zC0a") == (
        "ADA80905840E422B4E15D38798301848"
    )


def test_app_pay_answers_err_codes(platform: Harness) -> None:
    merchant = platform.merchant(name="App shop")
    appid = merchant.apps["app"]
    order = platform.client(merchant, "app").unifiedorder(
        body="App shop-Coins",
        out_trade_no="APP001",
        total_fee=600,
        spbill_create_ip="203.0.113.10",
        notify_url="http://127.0.0.1:9/notify",
        trade_type="APP",
    )
    payer = platform.payer(name="Frank")
    params = {
        "appid": appid,
        "partnerid": merchant.mch_id,
        "prepayid": order["prepay_id"],
        "package": "Sign=WXPay",
        "noncestr": "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
        "timestamp": str(int(time.time())),
    }
    params["sign"] = v2_sign(params, merchant.api_key)
    page = platform.http.get("/app/pay", params=params)
    assert page.status_code == 200 and "App shop" in page.text and "6.00" in page.text
    who = {"payer_id": payer["payer_id"]}
    bad = platform.http.post(
        "/app/pay", json={**params, **who, "sign": "0" * 32, "password": "123456"}
    ).json()
    assert bad["errCode"] == -1 and "sign does not match" in bad["errStr"]
    assert platform.http.get("/app/pay", params={**params, "sign": "0" * 32}).status_code == 400
    cancel = platform.http.post("/app/pay", json={**params, **who, "action": "cancel"}).json()
    assert cancel["errCode"] == -2
    form = {**params, "payer_id": str(payer["payer_id"])}
    wrong = post_form(platform.http, "/app/pay/confirm", data={**form, "password": "000000"})
    assert 'data-err-code="-1"' in wrong.text and "支付密码错误" in wrong.text
    cancelled = post_form(platform.http, "/app/pay/confirm", data={**form, "action": "cancel"})
    assert 'data-err-code="-2"' in cancelled.text
    paid = platform.http.post(
        "/app/pay", json={**params, **who, "password": payer["pay_password"]}
    ).json()
    assert paid["errCode"] == 0, paid
    assert platform.client(merchant).orderquery(out_trade_no="APP001")["trade_state"] == "SUCCESS"
    assert platform.http.post("/app/pay", content=b"nope").status_code == 400


ODD = [
    "",
    " ",
    "²",
    "-1",
    "9" * 40,
    "\x00",
    "x" * 5000,
    "weixin://wxpay/bizpayurl?pr=",
    "%ff",
    "😀",
]


def test_odd_input_is_never_a_server_error(platform: Harness) -> None:
    merchant = platform.merchant()
    code_url = _native(platform, merchant)["code_url"]
    payer = platform.payer()
    gets = {
        "/pay/qr": ("code_url",),
        "/phone": ("payer_id", "code_url"),
        "/phone/scan": ("payer_id", "code_url"),
        "/connect/oauth2/authorize": ("appid", "redirect_uri", "scope", "state"),
        "/sns/oauth2/access_token": ("appid", "secret", "code", "grant_type"),
        "/cgi-bin/mmpayweb-bin/checkmweb": ("prepay_id", "package", "redirect_url"),
        "/app/pay": ("appid", "prepayid", "sign", "timestamp"),
        "/wallet": ("payer_id",),
    }
    posts = {
        "/phone/pay": {"payer_id": str(payer["payer_id"]), "code_url": code_url},
        "/connect/oauth2/authorize": {"response_type": "code", "scope": "snsapi_base"},
        "/cgi-bin/mmpayweb-bin/pay": {"prepay_id": "x", "package": "1"},
        "/app/pay/confirm": {"payer_id": "1"},
        "/wallet/paycode": {},
    }
    for path, names in gets.items():
        for name in names:
            for value in ODD:
                answer = platform.http.get(
                    path,
                    params={name: value},
                    headers={"referer": "https://shop.example/" + quote(value)},
                )
                assert answer.status_code < 500, (path, name, value, answer.text[:300])
    for path, base in posts.items():
        for name in ("payer_id", "method", "action", "password", "code_url", "prepay_id"):
            for value in ODD:
                answer = platform.http.post(path, data={**base, name: value})
                assert answer.status_code < 500, (path, name, value, answer.text[:300])
        assert platform.http.post(path, content=b"\xff\xfe=\x00").status_code < 500
    bodies: list[Any] = [
        [],
        "x",
        {"appId": 1},
        {"card_id": 10**30, "password": "123456"},
        {"payer_id": 10**30},
        {"payer_id": 1, "action": "pay", "password": None},
    ]
    for path in ("/jsapi/verify", "/jsapi/pay", "/app/pay"):
        for body in bodies:
            answer = platform.http.post(path, json=body)
            assert answer.status_code < 500, (path, body, answer.text[:300])


def test_wallet_shows_balance_and_a_fresh_payment_code(platform: Harness) -> None:
    payer = platform.payer(balance=12_345, name="Grace", cards=["CMB_CREDIT"])
    listing = platform.http.get("/wallet")
    assert f'data-payer-id="{payer["payer_id"]}"' in listing.text
    page = platform.http.get("/wallet", params={"payer_id": payer["payer_id"]})
    assert page.status_code == 200 and "123.45" in page.text and "招商银行信用卡" in page.text
    first = post_form(platform.http, "/wallet/paycode", data={"payer_id": str(payer["payer_id"])})
    second = post_form(platform.http, "/wallet/paycode", data={"payer_id": str(payer["payer_id"])})
    codes = [re.search(r'data-auth-code="(\d{18})"', r.text) for r in (first, second)]
    assert codes[0] and codes[1] and codes[0][1] != codes[1][1]
    assert f"<title>{codes[0][1]}</title>" in first.text
    assert (
        post_form(platform.http, "/wallet/paycode", data={"payer_id": "999999"}).status_code == 404
    )
