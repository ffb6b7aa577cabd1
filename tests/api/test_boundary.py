"""The security boundary over real sockets: Host names, the control plane's JSON-only and
same-origin rules, the admin token, the payer session's CSRF token (docs/security.md)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pages_support import form_token, post_form
from starlette.routing import Mount, Route

from reference_client import OracleHarness
from reference_wire import v2_sign
from wxpay_local.sdk import Client
from wxpay_local.settings import Settings
from wxpay_local.store import SqlStore
from wxpay_local.testing import Harness

pytestmark = pytest.mark.api

ATTACKER = {"host": "attacker.example"}
EVIL_ORIGIN = {"origin": "http://evil.example"}
NOTIFY = "http://127.0.0.1:9/notify"


def _order(out_trade_no: str) -> dict[str, object]:
    return {
        "body": "Test shop-Latte",
        "out_trade_no": out_trade_no,
        "total_fee": 1800,
        "spbill_create_ip": "127.0.0.1",
        "notify_url": NOTIFY,
        "trade_type": "NATIVE",
        "product_id": "latte",
    }


def _surfaces(live: Harness) -> list[tuple[str, str]]:
    """Every (method, path) the Starlette side serves, path parameters filled with 1, plus a
    static file of each mount and a path nothing serves (the 404); not the open platform's
    server APIs (``/sns/``), which answer any Host like the merchant API."""
    found: list[tuple[str, str]] = [("GET", "/no/such/page")]
    for route in live.app.control.routes:
        if isinstance(route, Route) and not route.path.startswith("/sns/"):
            path = re.sub(r"\{[^}]+\}", "1", route.path)
            found += [(m, path) for m in sorted(route.methods or ()) if m != "HEAD"]
        elif isinstance(route, Mount):
            found.append(("GET", route.path + "/pages.css"))
    return found


def test_a_foreign_host_gets_4xx_everywhere_but_the_merchant_api(live: Harness) -> None:
    merchant = live.merchant()
    surfaces = _surfaces(live)
    assert ("POST", "/_local/reset") in surfaces and ("GET", "/console") in surfaces
    for method, path in surfaces:
        answer = live.http.request(method, path, headers=ATTACKER)
        assert answer.status_code == 400, (method, path, answer.status_code)
        if path.startswith("/_local"):
            assert answer.json()["error"] == "HOST_NOT_ALLOWED", (method, path)
        else:
            assert "attacker.example" in answer.text and answer.headers["content-type"].startswith(
                "text/html"
            )
    # nothing changed: the reset above was refused
    assert live.control("GET", f"/_local/merchants/{merchant.mch_id}")["mch_id"] == merchant.mch_id
    # the merchant API answers an SDK that hard-codes the platform's host name
    with httpx.Client(
        base_url=live.base_url, headers={"host": "api.mch.weixin.qq.com"}, trust_env=False
    ) as http:
        client = Client(
            live.base_url,
            mch_id=merchant.mch_id,
            api_key=merchant.api_key,
            appid=merchant.apps["official_account"],
            http=http,
        )
        answer = client.unifiedorder(**_order("HOST0001"))
    assert answer["return_code"] == "SUCCESS" and answer["result_code"] == "SUCCESS"
    assert answer["code_url"].startswith("weixin://wxpay/bizpayurl?pr=")
    # so do the open platform's server APIs (/sns/…): an unknown appid, not a Host refusal
    sns = live.http.get("/sns/oauth2/access_token", params={"appid": "wxnope"}, headers=ATTACKER)
    assert sns.status_code == 200 and "errcode" in sns.json()


def test_loopback_names_and_addresses_are_answered_other_addresses_are_not(live: Harness) -> None:
    port = live.base_url.rsplit(":", 1)[1]
    hosts = (f"localhost:{port}", f"127.0.0.1:{port}", "127.0.0.1", "127.0.0.2", "[::1]:8700")
    for host in (*hosts, "app.localhost", "testserver"):
        assert live.http.get("/pages", headers={"host": host}).status_code == 200, host
    # listening on loopback, no other address of any machine is this platform
    for host in ("10.1.2.3", "203.0.113.5:8700", "[2001:db8::1]"):
        assert live.http.get("/pages", headers={"host": host}).status_code == 400, host
        assert live.http.get("/_local/health", headers={"host": host}).status_code == 400, host


def test_listening_on_every_interface_answers_any_address_of_the_machine(
    store: SqlStore, tmp_path: Path
) -> None:
    settings = Settings(host="0.0.0.0", admin_token="T", data_dir=tmp_path)
    with OracleHarness.start(store, live=True, settings=settings) as harness:
        for host in ("10.1.2.3:8700", "192.168.0.7", "127.0.0.1"):
            assert harness.http.get("/pages", headers={"host": host}).status_code == 200, host
        assert harness.http.get("/pages", headers=ATTACKER).status_code == 400


def test_the_control_plane_takes_only_json_bodies(live: Harness) -> None:
    merchant = live.merchant()
    as_text = live.http.post("/_local/reset", content=b"{}", headers={"content-type": "text/plain"})
    assert as_text.status_code == 415 and as_text.json()["error"] == "UNSUPPORTED_MEDIA_TYPE"
    as_form = live.http.post("/_local/reset", data={"x": "1"})
    assert as_form.status_code == 415
    assert live.control("GET", f"/_local/merchants/{merchant.mch_id}")["mch_id"] == merchant.mch_id
    assert live.http.post("/_local/dispatch").status_code == 200  # no body at all is fine
    assert live.http.post("/_local/reset", json={}).status_code == 200
    assert live.http.get(f"/_local/merchants/{merchant.mch_id}").status_code == 404


def test_the_control_plane_refuses_other_sites(live: Harness) -> None:
    merchant = live.merchant()
    port = live.base_url.rsplit(":", 1)[1]
    other_port = "1" if port != "1" else "2"
    refused = [
        EVIL_ORIGIN,
        {"origin": f"http://127.0.0.1:{other_port}"},  # another local server: same site
        {"origin": "null"},
        {"sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "same-site"},
    ]
    for headers in refused:
        answer = live.http.post("/_local/reset", json={}, headers=headers)
        assert answer.status_code == 403, headers
        assert answer.json()["error"] == "CROSS_SITE"
        assert "access-control-allow-origin" not in answer.headers
        read = live.http.get("/_local/merchants", headers=headers)
        assert read.status_code == 403 and "api_key" not in read.text
    preflight = live.http.options(
        "/_local/reset",
        headers={**EVIL_ORIGIN, "access-control-request-method": "POST"},
    )
    assert preflight.status_code == 403 and "access-control-allow-origin" not in preflight.headers
    assert live.control("GET", f"/_local/merchants/{merchant.mch_id}")["mch_id"] == merchant.mch_id
    same = {"origin": live.base_url, "sec-fetch-site": "same-origin"}
    assert live.http.get("/_local/merchants", headers=same).status_code == 200
    assert live.http.get("/_local/health", headers={"sec-fetch-site": "none"}).status_code == 200


def _change_password(http: httpx.Client, payer_id: int, data: dict[str, str]) -> httpx.Response:
    form = {"payer_id": str(payer_id), "new_password": "246810", "repeat": "246810"}
    return http.post("/wallet/password", data={**form, "old_password": "123456", **data})


def test_a_payer_form_without_its_sessions_token_is_refused_and_changes_nothing(
    live: Harness,
) -> None:
    payer = live.payer(name="Kai")
    missing = _change_password(live.http, payer["payer_id"], {})
    assert missing.status_code == 403 and "请求无效" in missing.text
    forged = _change_password(live.http, payer["payer_id"], {"csrf_token": "0" * 32})
    assert forged.status_code == 403
    with httpx.Client(base_url=live.base_url, trust_env=False) as other_browser:
        foreign = form_token(other_browser)
    assert foreign != form_token(live.http)
    stolen = _change_password(live.http, payer["payer_id"], {"csrf_token": foreign})
    assert stolen.status_code == 403
    # the old password still works: nothing changed
    changed = _change_password(live.http, payer["payer_id"], {"csrf_token": form_token(live.http)})
    assert changed.status_code == 303 and "notice=CHANGED" in changed.headers["location"]


def test_the_payer_session_cookie_is_httponly_and_samesite(live: Harness) -> None:
    with httpx.Client(base_url=live.base_url, trust_env=False) as browser:
        first = browser.get("/pages")
        cookie = first.headers["set-cookie"]
        assert cookie.startswith("wxpay_payer=")
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
        again = browser.get("/phone")
        assert "set-cookie" not in again.headers  # the session is kept
        token = re.search(r'name="csrf-token" content="(\w+)"', again.text)
        assert token and token.group(1) == form_token(browser)


def test_form_posts_from_another_site_are_refused_even_with_a_token(live: Harness) -> None:
    payer = live.payer(name="Lea")
    token = form_token(live.http)
    # another site's page that somehow holds a valid token still cannot post (Origin)
    same_origin = _change_password(live.http, payer["payer_id"], {"csrf_token": token})
    assert "notice=CHANGED" in same_origin.headers["location"]  # 123456 → 246810
    evil = live.http.post(
        "/wallet/password",
        data={
            "payer_id": str(payer["payer_id"]),
            "old_password": "246810",
            "new_password": "135790",
            "repeat": "135790",
            "csrf_token": token,
        },
        headers=EVIL_ORIGIN,
    )
    assert evil.status_code == 403
    login = live.http.post(
        "/console/login",
        data={"account": "operator", "password": live.operator_password()},
        headers={"sec-fetch-site": "cross-site"},
    )
    assert login.status_code == 403 and "wxpay_console" not in login.headers.get("set-cookie", "")
    # the password is still the one the same-origin post set, not the other site's
    still = post_form(
        live.http,
        "/wallet/password",
        data={
            "payer_id": str(payer["payer_id"]),
            "old_password": "246810",
            "new_password": "123456",
            "repeat": "123456",
        },
    )
    assert "notice=CHANGED" in still.headers["location"]


@pytest.fixture
def guarded(store: SqlStore, tmp_path: Path) -> Iterator[Harness]:
    """A live platform published under a public URL, with the admin token T."""
    settings = Settings(
        public_url="https://pay.example.test",
        admin_token="T-secret",
        allowed_hosts=("wxpay.internal",),
        data_dir=tmp_path,
    )
    with OracleHarness.start(store, live=True, settings=settings) as harness:
        yield harness


def test_a_published_platform_wants_the_token_and_answers_its_names(guarded: Harness) -> None:
    with httpx.Client(base_url=guarded.base_url, trust_env=False) as anonymous:
        bare = anonymous.get("/_local/merchants")
        assert bare.status_code == 401 and bare.json()["error"] == "UNAUTHORIZED"
        assert bare.headers["www-authenticate"].startswith("Bearer")
        assert "api_key" not in bare.text
        wrong = anonymous.get("/_local/merchants", headers={"authorization": "Bearer nope"})
        assert wrong.status_code == 401
        right = anonymous.get("/_local/merchants", headers={"authorization": "Bearer T-secret"})
        assert right.status_code == 200
        for host in ("pay.example.test", "wxpay.internal:8700", "127.0.0.1"):
            assert anonymous.get("/pages", headers={"host": host}).status_code == 200, host
        assert anonymous.get("/pages", headers=ATTACKER).status_code == 400
        published = {"origin": "https://pay.example.test", "authorization": "Bearer T-secret"}
        assert anonymous.get("/_local/health", headers=published).status_code == 200
    guarded.merchant()  # the harness sends the token it was configured with


def test_on_loopback_a_configured_token_is_optional_but_checked(store: SqlStore) -> None:
    settings = Settings(admin_token="T-local")
    with (
        OracleHarness.start(store, live=True, settings=settings) as harness,
        httpx.Client(base_url=harness.base_url, trust_env=False) as anonymous,
    ):
        assert anonymous.get("/_local/ledger").status_code == 200
        ok = anonymous.get("/_local/ledger", headers={"authorization": "Bearer T-local"})
        assert ok.status_code == 200
        bad = anonymous.get("/_local/ledger", headers={"authorization": "Bearer T-other"})
        assert bad.status_code == 401


def _pay_sign_refusal(harness: Harness) -> tuple[str, str]:
    """(the right paySign, the reason /jsapi/verify gives for a wrong one)."""
    merchant = harness.merchant()
    appid = merchant.apps["official_account"]
    payer = harness.payer()
    order = harness.client(merchant).unifiedorder(
        body="Test shop-Tea",
        out_trade_no="SIG001",
        total_fee=1250,
        spbill_create_ip="203.0.113.10",
        notify_url=NOTIFY,
        trade_type="JSAPI",
        openid=harness.openid(payer["payer_id"], appid),
    )
    params = {
        "appId": appid,
        "timeStamp": "1700000000",
        "nonceStr": "e61463f8efa94090b1f366cccfbbb444",
        "package": f"prepay_id={order['prepay_id']}",
        "signType": "MD5",
    }
    right = v2_sign(params, merchant.api_key)  # as the merchant's server makes it (§6.1)
    answer = harness.http.post("/jsapi/verify", json={**params, "paySign": "0" * 32}).json()
    assert answer["ok"] is False and "paySign does not match" in answer["reason"]
    return right, answer["reason"]


def test_the_expected_signature_is_shown_on_loopback_only(live: Harness, guarded: Harness) -> None:
    right, reason = _pay_sign_refusal(live)
    assert right in reason  # the developer's debugging aid
    right, reason = _pay_sign_refusal(guarded)
    assert right not in reason and "shown only when wxpay-local listens on loopback" in reason
