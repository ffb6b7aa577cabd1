"""OAuth2 beyond the code exchange (spec §6.5): stored tokens, refresh, userinfo, auth, the
authorize page's 100xx errors and the snsapi_userinfo consent step; wechatpy's OAuth client
against a live server."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from pages_support import post_form

from wxpay_local.testing import Harness, MerchantInfo

pytestmark = pytest.mark.api

REDIRECT = "https://shop.example/cb?table=7"


def _authorize_params(appid: str, scope: str, redirect_uri: str = REDIRECT) -> dict[str, str]:
    return {
        "appid": appid,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "scope": scope,
        "state": "S1",
    }


def _code(platform: Harness, appid: str, payer_id: int, scope: str = "snsapi_userinfo") -> str:
    params = _authorize_params(appid, scope)
    chosen = post_form(
        platform.http, "/connect/oauth2/authorize", data={**params, "payer_id": str(payer_id)}
    )
    if scope == "snsapi_userinfo":  # the consent step comes first
        assert chosen.status_code == 200 and 'id="consent-allow"' in chosen.text, chosen.text
        chosen = post_form(
            platform.http,
            "/connect/oauth2/authorize",
            data={**params, "payer_id": str(payer_id), "consent": "allow"},
        )
    assert chosen.status_code == 302, chosen.text
    query = parse_qs(urlsplit(chosen.headers["location"]).query)
    assert query["state"] == ["S1"] and query["table"] == ["7"]
    return query["code"][0]


def _get(platform: Harness, path: str, **params: str) -> dict[str, Any]:
    answer = platform.http.get(path, params=params)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def _tokens(platform: Harness, merchant: MerchantInfo, code: str) -> dict[str, Any]:
    appid = merchant.apps["official_account"]
    return _get(
        platform,
        "/sns/oauth2/access_token",
        appid=appid,
        secret=merchant.secrets[appid],
        code=code,
        grant_type="authorization_code",
    )


def test_userinfo_grant_gives_tokens_userinfo_and_auth(platform: Harness) -> None:
    merchant = platform.merchant()
    appid = merchant.apps["official_account"]
    payer = platform.payer(name="小明 Ming")
    tokens = _tokens(platform, merchant, _code(platform, appid, payer["payer_id"]))
    openid = platform.openid(payer["payer_id"], appid)
    assert tokens["openid"] == openid and tokens["scope"] == "snsapi_userinfo"
    assert tokens["expires_in"] == 7200 and len(tokens["unionid"]) == 28
    info = _get(
        platform, "/sns/userinfo", access_token=tokens["access_token"], openid=openid, lang="zh_CN"
    )
    assert info["openid"] == openid and info["nickname"] == "小明 Ming"
    assert info["privilege"] == [] and info["sex"] == 0 and info["unionid"] == tokens["unionid"]
    assert info["headimgurl"].endswith("/static/pages/avatar.svg")
    assert platform.http.get(urlsplit(info["headimgurl"]).path).status_code == 200
    ok = {"errcode": 0, "errmsg": "ok"}
    assert _get(platform, "/sns/auth", access_token=tokens["access_token"], openid=openid) == ok
    other = platform.openid(platform.payer()["payer_id"], appid)
    for path in ("/sns/auth", "/sns/userinfo"):
        bad_openid = _get(platform, path, access_token=tokens["access_token"], openid=other)
        assert bad_openid["errcode"] == 40003
        unknown = _get(platform, path, access_token="nope", openid=openid)
        assert unknown["errcode"] == 40001
        as_refresh = _get(platform, path, access_token=tokens["refresh_token"], openid=openid)
        assert as_refresh["errcode"] == 40001


def test_base_scope_token_cannot_read_userinfo(platform: Harness) -> None:
    merchant = platform.merchant()
    appid = merchant.apps["official_account"]
    payer = platform.payer()
    tokens = _tokens(platform, merchant, _code(platform, appid, payer["payer_id"], "snsapi_base"))
    assert "unionid" not in tokens
    openid = tokens["openid"]
    answer = _get(platform, "/sns/userinfo", access_token=tokens["access_token"], openid=openid)
    assert answer == {"errcode": 48001, "errmsg": "api unauthorized"}
    assert _get(platform, "/sns/auth", access_token=tokens["access_token"], openid=openid) == {
        "errcode": 0,
        "errmsg": "ok",
    }


def test_tokens_expire_on_the_platform_clock_and_refresh(platform: Harness) -> None:
    merchant = platform.merchant()
    appid = merchant.apps["official_account"]
    payer = platform.payer()
    tokens = _tokens(platform, merchant, _code(platform, appid, payer["payer_id"]))
    openid, access, refresh = tokens["openid"], tokens["access_token"], tokens["refresh_token"]

    def refreshed(token: str = refresh, app: str = appid) -> dict[str, Any]:
        return _get(
            platform,
            "/sns/oauth2/refresh_token",
            appid=app,
            grant_type="refresh_token",
            refresh_token=token,
        )

    # A still valid access_token is kept and renewed (the Open Platform's documented rule).
    platform.advance(7000)
    kept = refreshed()
    assert kept["access_token"] == access and kept["refresh_token"] == refresh
    assert kept["expires_in"] == 7200 and kept["openid"] == openid
    platform.advance(7000)  # 14000 s after the exchange, 7000 after the renewal
    assert _get(platform, "/sns/auth", access_token=access, openid=openid)["errcode"] == 0
    platform.advance(201)
    expired = _get(platform, "/sns/auth", access_token=access, openid=openid)
    assert expired == {"errcode": 42001, "errmsg": "access_token expired"}
    # An expired one is replaced; the refresh_token stays the same.
    new = refreshed()
    assert new["access_token"] != access and new["refresh_token"] == refresh
    assert _get(platform, "/sns/auth", access_token=new["access_token"], openid=openid) == {
        "errcode": 0,
        "errmsg": "ok",
    }
    assert refreshed("nope")["errcode"] == 40030
    assert refreshed(access)["errcode"] == 40030  # an access_token is no refresh_token
    assert refreshed(app="wxnope")["errcode"] == 40013
    other_app = platform.merchant().apps["official_account"]
    assert refreshed(app=other_app)["errcode"] == 40030
    wrong_grant = _get(
        platform,
        "/sns/oauth2/refresh_token",
        appid=appid,
        grant_type="authorization_code",
        refresh_token=refresh,
    )
    assert wrong_grant["errcode"] == 40002
    platform.advance(30 * 86400)
    assert refreshed() == {"errcode": 42002, "errmsg": "refresh_token expired"}


def _authorize_error(platform: Harness, params: dict[str, str]) -> str:
    page = platform.http.get("/connect/oauth2/authorize", params=params)
    assert page.status_code == 400, page.text
    return page.text


def test_authorize_page_errors_as_wechat_shows_them(platform: Harness) -> None:
    merchant = platform.merchant()
    appid = merchant.apps["official_account"]
    good = _authorize_params(appid, "snsapi_base")
    cases = {
        "10012": {**good, "appid": ""},
        "10011": {**good, "redirect_uri": ""},
        "10010": {**good, "scope": ""},
        "10005": {**good, "scope": "snsapi_login"},
        "10016": {**good, "appid": merchant.apps["mini_program"]},
    }
    texts = {
        "10012": "appid不能为空",
        "10011": "redirect_uri不能为空",
        "10010": "scope不能为空",
        "10005": "此公众号并没有这些scope的权限",
        "10016": "不支持微信开放平台的Appid",
    }
    for code, params in cases.items():
        text = _authorize_error(platform, params)
        assert f"errcode {code}" in text and texts[code] in text
    # With web-authorization domains configured the redirect_uri's host must be on one.
    platform.control(
        "POST", f"/_local/merchants/{merchant.mch_id}/config", {"oauth_domains": ["shop.example"]}
    )
    assert platform.http.get("/connect/oauth2/authorize", params=good).status_code == 200
    sub = {**good, "redirect_uri": "https://m.shop.example/cb"}
    assert platform.http.get("/connect/oauth2/authorize", params=sub).status_code == 200
    off = {**good, "redirect_uri": "https://evil.example/cb"}
    text = _authorize_error(platform, off)
    assert "errcode 10003" in text and "redirect_uri域名与后台配置不一致" in text
    assert "evil.example" in text and "shop.example" in text
    payer = platform.payer()
    posted = post_form(
        platform.http, "/connect/oauth2/authorize", data={**off, "payer_id": str(payer["payer_id"])}
    )
    assert posted.status_code == 400 and "errcode 10003" in posted.text


def test_refusing_consent_redirects_with_state_only(platform: Harness) -> None:
    merchant = platform.merchant()
    appid = merchant.apps["official_account"]
    payer = platform.payer(name="Erin")
    params = _authorize_params(appid, "snsapi_userinfo")
    page = platform.http.get("/connect/oauth2/authorize", params=params)
    assert "昵称和头像" in page.text and "下一步" in page.text
    consent = post_form(
        platform.http,
        "/connect/oauth2/authorize",
        data={**params, "payer_id": str(payer["payer_id"])},
    )
    assert consent.status_code == 200 and "Erin" in consent.text
    refused = post_form(
        platform.http,
        "/connect/oauth2/authorize",
        data={**params, "payer_id": str(payer["payer_id"]), "consent": "deny"},
    )
    assert refused.status_code == 302
    query = parse_qs(urlsplit(refused.headers["location"]).query)
    assert query == {"table": ["7"], "state": ["S1"]}
    odd = post_form(
        platform.http,
        "/connect/oauth2/authorize",
        data={**params, "payer_id": str(payer["payer_id"]), "consent": "maybe"},
    )
    assert odd.status_code == 400


def test_odd_token_input_is_never_a_server_error(platform: Harness) -> None:
    appid = platform.merchant().apps["official_account"]
    for uri in ("https://[::1", "http://", "javascript:alert(1)", "//x.example/cb"):
        params = _authorize_params(appid, "snsapi_base", uri)
        assert platform.http.get("/connect/oauth2/authorize", params=params).status_code == 400
    for path in ("/sns/oauth2/refresh_token", "/sns/userinfo", "/sns/auth"):
        for value in ("", "x" * 5000, "\x00", "😀", "' OR 1=1 --"):
            for name in ("appid", "refresh_token", "access_token", "openid", "grant_type"):
                answer = platform.http.get(path, params={name: value})
                assert answer.status_code == 200, (path, name, answer.text[:200])
                assert answer.json()["errcode"] != 0


def test_wechatpy_oauth_client_round_trip(live: Harness) -> None:
    wechatpy_oauth = pytest.importorskip("wechatpy.oauth")
    merchant = live.merchant()
    appid = merchant.apps["official_account"]
    payer = live.payer(name="Frank")
    client = wechatpy_oauth.WeChatOAuth(
        appid, merchant.secrets[appid], REDIRECT, scope="snsapi_userinfo", state="S1"
    )
    # wechatpy builds every URL from these two class attributes: point them at the emulator.
    client.API_BASE_URL = live.base_url + "/"
    client.OAUTH_BASE_URL = live.base_url + "/connect/"
    authorize_url = client.authorize_url
    assert authorize_url.endswith("#wechat_redirect")
    page = live.http.get(authorize_url.split("#")[0].removeprefix(live.base_url))
    assert page.status_code == 200 and f'data-payer-id="{payer["payer_id"]}"' in page.text
    code = _code(live, appid, payer["payer_id"])
    tokens = client.fetch_access_token(code)
    assert tokens["openid"] == live.openid(payer["payer_id"], appid)
    assert client.check_access_token() is True
    assert client.get_user_info()["nickname"] == "Frank"
    renewed = client.refresh_access_token(tokens["refresh_token"])
    assert renewed["access_token"] == tokens["access_token"]
    with pytest.raises(wechatpy_oauth.WeChatOAuthException) as refused:
        client.fetch_access_token(code)
    assert refused.value.errcode == 40029
    with pytest.raises(wechatpy_oauth.WeChatOAuthException) as invalid:
        client.check_access_token(access_token="nope")
    assert invalid.value.errcode == 40001
