"""The JSAPI payment directory (支付授权目录, spec §6.1): with directories configured, the
paying page's URL must lie under one, or the payer sees 当前页面的URL未注册 and the callback
gets :fail, with the URL and the directories in the developer's reason."""

from __future__ import annotations

import time
from typing import Any

import pytest

from reference_wire import v2_sign
from wxpay_local.codes import SignType
from wxpay_local.testing import Harness, MerchantInfo

pytestmark = pytest.mark.api

SHOP = "https://shop.example.com"


def _order(platform: Harness) -> tuple[MerchantInfo, dict[str, str], dict[str, Any]]:
    merchant = platform.merchant(name="Tea house")
    appid = merchant.apps["official_account"]
    payer = platform.payer(balance=5_000)
    answer = platform.client(merchant).unifiedorder(
        body="Tea house-Longjing",
        out_trade_no="DIR001",
        total_fee=1250,
        spbill_create_ip="203.0.113.10",
        notify_url="http://127.0.0.1:9/notify",
        trade_type="JSAPI",
        openid=platform.openid(payer["payer_id"], appid),
    )
    params = {
        "appId": appid,
        "timeStamp": str(int(time.time())),
        "nonceStr": "e61463f8efa94090b1f366cccfbbb444",
        "package": f"prepay_id={answer['prepay_id']}",
        "signType": "MD5",
    }
    params["paySign"] = v2_sign(params, merchant.api_key, SignType.MD5)
    return merchant, params, payer


def _configure(platform: Harness, merchant: MerchantInfo, *directories: str) -> None:
    path = f"/_local/merchants/{merchant.mch_id}/config"
    platform.control("POST", path, {"jsapi_directories": list(directories)})


def _verify(
    platform: Harness, params: dict[str, str], page_url: str | None, **headers: str
) -> dict[str, Any]:
    body: dict[str, Any] = dict(params)
    if page_url is not None:
        body["page_url"] = page_url
    answer = platform.http.post("/jsapi/verify", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def test_without_directories_the_check_is_skipped(platform: Harness) -> None:
    _, params, _ = _order(platform)
    assert _verify(platform, params, None)["ok"] is True
    assert _verify(platform, params, "https://anywhere.example/x")["ok"] is True


def test_a_page_under_a_directory_pays(platform: Harness) -> None:
    merchant, params, payer = _order(platform)
    _configure(platform, merchant, f"{SHOP}/pay/", f"{SHOP}/shop/")
    page = f"{SHOP}/pay/order.html?id=7#top"
    answer = _verify(platform, params, page, origin=SHOP)
    assert answer["ok"] is True and answer["warnings"] == []
    paid = platform.http.post(
        "/jsapi/pay",
        json={**params, "page_url": page, "password": payer["pay_password"]},
        headers={"origin": SHOP},
    ).json()
    assert paid["err_msg"] == "get_brand_wcpay_request:ok"
    assert platform.client(merchant).orderquery(out_trade_no="DIR001")["trade_state"] == "SUCCESS"


def test_a_sub_directory_passes_with_a_warning(platform: Harness) -> None:
    merchant, params, _ = _order(platform)
    _configure(platform, merchant, f"{SHOP}/pay/")
    answer = _verify(platform, params, f"{SHOP}/pay/deep/order.html")
    assert answer["ok"] is True
    assert len(answer["warnings"]) == 1 and f"{SHOP}/pay/deep/" in answer["warnings"][0]


@pytest.mark.parametrize(
    ("page_url", "headers", "reason"),
    [
        (f"{SHOP}/cart/checkout.html", {}, "is not under"),
        ("https://evil.example/pay/x.html", {}, "is not under"),
        ("http://shop.example.com/pay/x.html", {}, "is not under"),  # http, not https
        (None, {}, "page_url"),
        ("not a url", {}, "page_url"),
        (f"{SHOP}/pay/x.html", {"origin": "https://evil.example"}, "not on the origin"),
        (f"{SHOP}/pay/x.html", {"referer": "https://evil.example/a"}, "not on the origin"),
    ],
)
def test_a_page_outside_the_directories_is_refused(
    platform: Harness, page_url: str | None, headers: dict[str, str], reason: str
) -> None:
    merchant, params, payer = _order(platform)
    _configure(platform, merchant, f"{SHOP}/pay/")
    answer = _verify(platform, params, page_url, **headers)
    assert answer["ok"] is False and answer["message"] == "当前页面的URL未注册"
    assert answer["err_msg"] == "get_brand_wcpay_request:fail"
    assert reason in answer["reason"]
    if reason != "not on the origin":  # the developer learns the URL and the directories
        assert f"{SHOP}/pay/" in answer["reason"]
    body: dict[str, Any] = {**params, "password": payer["pay_password"]}
    if page_url is not None:
        body["page_url"] = page_url
    paid = platform.http.post("/jsapi/pay", json=body, headers=headers).json()
    assert paid["err_msg"] == "get_brand_wcpay_request:fail"
    assert platform.client(merchant).orderquery(out_trade_no="DIR001")["trade_state"] == "NOTPAY"


def test_the_platforms_own_origin_is_not_cross_checked(platform: Harness) -> None:
    """The sheet (on the platform's origin) checked event.origin against the page URL."""
    merchant, params, _ = _order(platform)
    _configure(platform, merchant, f"{SHOP}/pay/")
    own = platform.base_url
    assert _verify(platform, params, f"{SHOP}/pay/x.html", origin=own)["ok"] is True


def test_odd_page_urls_are_never_a_server_error(platform: Harness) -> None:
    merchant, params, _ = _order(platform)
    _configure(platform, merchant, f"{SHOP}/pay/")
    for odd in ("", "x" * 3000, "\x00", "😀", "http://", "https://[::1", 7, None, ["a"]):
        for path in ("/jsapi/verify", "/jsapi/pay"):
            answer = platform.http.post(path, json={**params, "page_url": odd, "password": "1"})
            assert answer.status_code < 500, (odd, answer.text[:200])
    bad_mode = platform.http.post("/jsapi/verify", json={**params, "mode": ["x"]}).json()
    assert bad_mode["ok"] is False
