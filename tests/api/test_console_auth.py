"""The merchant console's login: per merchant, the operator, sessions, CSRF, no open redirect."""

from __future__ import annotations

import re

import httpx
import pytest
from console_support import console_browser

from wxpay_local.testing import Harness

pytestmark = pytest.mark.api


def _login(client: httpx.Client, account: str, password: str, next_url: str = "") -> httpx.Response:
    return client.post(
        "/console/login", data={"account": account, "password": password, "next": next_url}
    )


def _csrf(client: httpx.Client) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get("/console").text)
    assert found
    return found.group(1)


def test_a_visitor_is_sent_to_login_and_back(platform: Harness) -> None:
    merchant = platform.merchant(console_password="s3cret-pw")
    with console_browser(platform) as client:
        first = client.get("/console?from=SUCCESS")
        assert first.status_code == 303
        assert first.headers["location"] == "/console/login?next=%2Fconsole%3Ffrom%3DSUCCESS"
        assert _login(client, merchant.mch_id, "wrong").status_code == 401
        assert "wxpay_console" not in client.cookies
        ok = _login(client, merchant.mch_id, "s3cret-pw", "/console?from=SUCCESS")
        assert ok.status_code == 303
        assert ok.headers["location"] == "/console?from=SUCCESS"
        assert "httponly" in ok.headers["set-cookie"].lower()
        assert "samesite=lax" in ok.headers["set-cookie"].lower()
        home = client.get("/console")
        assert home.status_code == 200
        assert merchant.mch_id in home.text


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/_local/reset"])
def test_next_never_leaves_the_console(platform: Harness, target: str) -> None:
    merchant = platform.merchant(console_password="s3cret-pw")
    with console_browser(platform) as client:
        answer = _login(client, merchant.mch_id, "s3cret-pw", target)
        assert answer.headers["location"] == "/console"


def test_a_merchant_sees_only_itself_and_the_operator_sees_all(platform: Harness) -> None:
    mine = platform.merchant(name="Mine shop", console_password="pw-mine-1")
    other = platform.merchant(name="Other shop", console_password="pw-other-1")
    with console_browser(platform) as client:
        _login(client, mine.mch_id, "pw-mine-1")
        page = client.get("/console").text
        assert "Mine shop" in page
        assert "Other shop" not in page
        assert _login(client, other.mch_id, "pw-mine-1").status_code == 401
    operator = platform.operator_password()
    with console_browser(platform) as client:
        assert _login(client, "operator", operator).status_code == 303
        page = client.get("/console").text
        assert "Mine shop" in page
        assert "Other shop" in page


def test_a_forged_or_tampered_session_is_refused(platform: Harness) -> None:
    merchant = platform.merchant(console_password="s3cret-pw")
    with console_browser(platform) as client:
        _login(client, merchant.mch_id, "s3cret-pw")
        cookie = client.cookies["wxpay_console"]
        payload, _, signature = cookie.partition(".")
        client.cookies.clear()
        forged = payload.replace("bWVyY2hhbnQ", "b3BlcmF0b3I") + "." + signature
        client.cookies.set("wxpay_console", forged, path="/console")
        assert client.get("/console").status_code == 303
        client.cookies.clear()
        client.cookies.set("wxpay_console", "garbage", path="/console")
        assert client.get("/console").status_code == 303


def test_posts_need_the_session_csrf_token(platform: Harness) -> None:
    merchant = platform.merchant(console_password="s3cret-pw")
    with console_browser(platform) as client:
        _login(client, merchant.mch_id, "s3cret-pw")
        assert client.post("/console/logout", data={"csrf": "nope"}).status_code == 403
        assert client.get("/console").status_code == 200  # still signed in
        out = client.post("/console/logout", data={"csrf": _csrf(client)})
        assert out.status_code == 303
        assert client.get("/console").status_code == 303


def test_odd_login_input_is_a_page_not_a_500(platform: Harness) -> None:
    with console_browser(platform) as client:
        for data in (
            {"account": "x" * 5000, "password": "y"},
            {"account": "1234\x00", "password": "y"},
            {"account": "", "password": ""},
        ):
            answer = client.post("/console/login", data=data)
            assert 400 <= answer.status_code < 500, (data, answer.status_code)
        answer = client.post(
            "/console/login", content=b"\xff\xfe", headers={"content-type": "text/plain"}
        )
        assert answer.status_code == 400
