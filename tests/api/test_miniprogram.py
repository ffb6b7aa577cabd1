"""Mini Program pay over HTTP (spec §6.1): wx.login's code, /sns/jscode2session, and
wx.requestPayment's check, where the signed appId is the Mini Program's (the order's) though
the call passes none."""

from __future__ import annotations

import time
from typing import Any

import pytest

from reference_wire import v2_sign
from wxpay_local.codes import SignType
from wxpay_local.testing import Harness, MerchantInfo

pytestmark = pytest.mark.api


def _login(platform: Harness, appid: str, payer_id: int) -> str:
    listing = platform.http.get("/jsapi/login", params={"appid": appid}).json()
    assert listing["ok"] is True and payer_id in [p["payer_id"] for p in listing["payers"]]
    answer = platform.http.post("/jsapi/login", json={"appid": appid, "payer_id": payer_id})
    assert answer.status_code == 200, answer.text
    code: str = answer.json()["code"]
    return code


def _session(platform: Harness, merchant: MerchantInfo, code: str, **change: str) -> Any:
    appid = merchant.apps["mini_program"]
    params = {
        "appid": appid,
        "secret": merchant.secrets[appid],
        "js_code": code,
        "grant_type": "authorization_code",
        **change,
    }
    answer = platform.http.get("/sns/jscode2session", params=params)
    assert answer.status_code == 200
    return answer.json()


def test_login_code_gives_the_openid_under_the_mini_program_once(platform: Harness) -> None:
    merchant = platform.merchant()
    appid = merchant.apps["mini_program"]
    payer = platform.payer()
    code = _login(platform, appid, payer["payer_id"])
    assert _session(platform, merchant, code, secret="wrong") == {
        "errcode": 40125,
        "errmsg": "invalid appsecret",
    }
    assert _session(platform, merchant, code, appid="wxnope")["errcode"] == 40013
    assert _session(platform, merchant, code, grant_type="x")["errcode"] == 40002
    session = _session(platform, merchant, code)
    assert session["openid"] == platform.openid(payer["payer_id"], appid)
    assert session["openid"] != platform.openid(
        payer["payer_id"], merchant.apps["official_account"]
    )
    assert len(session["session_key"]) == 24 and len(session["unionid"]) == 28
    assert _session(platform, merchant, code) == {"errcode": 40029, "errmsg": "invalid code"}
    assert _session(platform, merchant, "nope")["errcode"] == 40029
    late = _login(platform, appid, payer["payer_id"])
    platform.advance(301)
    assert _session(platform, merchant, late)["errcode"] == 40029


def test_login_refuses_what_is_not_a_mini_program(platform: Harness) -> None:
    merchant = platform.merchant()
    payer = platform.payer()
    official = merchant.apps["official_account"]
    listing = platform.http.get("/jsapi/login", params={"appid": official})
    assert listing.status_code == 400 and listing.json()["ok"] is False
    refused = platform.http.post("/jsapi/login", json={"appid": official, "payer_id": 1})
    assert refused.status_code == 400
    for body in ([], {"appid": 1}, {"appid": "x", "payer_id": True}, {"payer_id": 10**30}):
        assert platform.http.post("/jsapi/login", json=body).status_code == 400
    assert platform.http.post("/jsapi/login", content=b"\xff").status_code == 400
    missing = platform.http.post(
        "/jsapi/login", json={"appid": merchant.apps["mini_program"], "payer_id": 10**9}
    )
    assert missing.status_code == 404
    # A code from the Mini Program is no web-authorization code, and the other way round.
    code = _login(platform, merchant.apps["mini_program"], payer["payer_id"])
    token = platform.http.get(
        "/sns/oauth2/access_token",
        params={
            "appid": merchant.apps["mini_program"],
            "secret": merchant.secrets[merchant.apps["mini_program"]],
            "code": code,
            "grant_type": "authorization_code",
        },
    ).json()
    assert token["errcode"] == 40029


def _mini_order(platform: Harness, kind: str = "mini_program") -> tuple[MerchantInfo, Any, Any]:
    merchant = platform.merchant(name="Noodle bar")
    payer = platform.payer(balance=5_000)
    appid = merchant.apps[kind]
    order = platform.client(merchant, kind=kind).unifiedorder(
        body="Noodle bar-Ramen",
        out_trade_no="MP001",
        total_fee=2800,
        spbill_create_ip="203.0.113.10",
        notify_url="http://127.0.0.1:9/notify",
        trade_type="JSAPI",
        openid=platform.openid(payer["payer_id"], appid),
    )
    return merchant, payer, order


def _request_payment(appid: str, prepay_id: str, key: str) -> dict[str, str]:
    """What the merchant's server signs (with the Mini Program's appid) and hands over."""
    signed = {
        "appId": appid,
        "timeStamp": str(int(time.time())),
        "nonceStr": "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
        "package": f"prepay_id={prepay_id}",
        "signType": "MD5",
    }
    sign = v2_sign(signed, key, SignType.MD5)
    # wx.requestPayment gets everything but appId.
    return {**{k: v for k, v in signed.items() if k != "appId"}, "paySign": sign}


def test_request_payment_signs_with_the_orders_mini_program_appid(platform: Harness) -> None:
    merchant, payer, order = _mini_order(platform)
    params = _request_payment(merchant.apps["mini_program"], order["prepay_id"], merchant.api_key)
    body = {**params, "mode": "miniprogram"}
    verified = platform.http.post("/jsapi/verify", json=body).json()
    assert verified["ok"] is True and verified["order"]["amount"] == "28.00", verified
    # Without the mode (a JSAPI call) the appId is missing, as WeChat's bridge would say.
    assert platform.http.post("/jsapi/verify", json=params).json()["ok"] is False
    # Signed with another appid (an Official Account's): the paySign does not match.
    other = _request_payment(
        merchant.apps["official_account"], order["prepay_id"], merchant.api_key
    )
    wrong = platform.http.post("/jsapi/verify", json={**other, "mode": "miniprogram"}).json()
    assert wrong["ok"] is False and "paySign does not match" in wrong["reason"]
    # wx.config naming another Mini Program is refused.
    named = {**body, "appId": "wx0000000000000000"}
    assert "wx.config" in platform.http.post("/jsapi/verify", json=named).json()["reason"]
    paid = platform.http.post("/jsapi/pay", json={**body, "password": payer["pay_password"]})
    assert paid.json()["result"] == "ok"
    assert platform.client(merchant, kind="mini_program").orderquery(out_trade_no="MP001")[
        "trade_state"
    ] == ("SUCCESS")


def test_request_payment_refuses_an_official_account_order(platform: Harness) -> None:
    merchant, _, order = _mini_order(platform, kind="official_account")
    params = _request_payment(
        merchant.apps["official_account"], order["prepay_id"], merchant.api_key
    )
    answer = platform.http.post("/jsapi/verify", json={**params, "mode": "miniprogram"}).json()
    assert answer["ok"] is False and "Mini Program appid" in answer["reason"]
