"""The payer's wallet over plain HTTP: history pages, 零钱明细, the password and policy settings,
the payment code as digits + barcode + QR, the micropay password prompt, APP pay by card."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from pages_support import post_form

from reference_client import OracleHarness
from reference_wire import v2_sign
from wxpay_local.sdk import RejectedError
from wxpay_local.settings import Settings
from wxpay_local.store import SqlStore
from wxpay_local.testing import Harness, MerchantInfo

pytestmark = pytest.mark.api


def _code(h: Harness, payer_id: int) -> str:
    return str(h.control("POST", f"/_local/payers/{payer_id}/codes")["auth_code"])


def _micropay(h: Harness, merchant: MerchantInfo, payer_id: int, n: int, fee: int = 100) -> None:
    h.client(merchant).call(
        "/pay/micropay",
        body=f"Shop-item {n}",
        out_trade_no=f"MP{n:04d}",
        total_fee=fee,
        spbill_create_ip="203.0.113.10",
        auth_code=_code(h, payer_id),
    )


def _policy(h: Harness, payer_id: int, policy: str) -> None:
    answer = post_form(h.http, "/wallet/policy", data={"payer_id": str(payer_id), "policy": policy})
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == f"/wallet?payer_id={payer_id}&notice=POLICY_SET#settings"


def _bills(html: str) -> list[str]:
    return re.findall(r'<div class="bill-body">([^<]*)</div>', html)


def test_history_pages_newest_first_with_merchant_method_and_state(platform: Harness) -> None:
    merchant = platform.merchant(name="便利店 Corner shop")
    payer = platform.payer(balance=100_000, name="Hana", cards=["ICBC_DEBIT"])
    payer_id = payer["payer_id"]
    _policy(platform, payer_id, "never")
    for n in range(22):
        _micropay(platform, merchant, payer_id, n, fee=100 + n)
    native = platform.client(merchant).unifiedorder(
        body="Shop-native",
        out_trade_no="NAT1",
        total_fee=1800,
        spbill_create_ip="203.0.113.10",
        notify_url="http://127.0.0.1:9/notify",
        trade_type="NATIVE",
        product_id="p1",
    )
    card_id = payer["cards"][0]["card_id"]
    assert platform.pay(payer_id, code_url=native["code_url"], card_id=card_id)["outcome"] == (
        "SUCCESS"
    )
    first = platform.http.get("/wallet", params={"payer_id": payer_id})
    assert first.status_code == 200
    bodies = _bills(first.text)
    assert bodies[:3] == ["Shop-native", "Shop-item 21", "Shop-item 20"] and len(bodies) == 20
    assert "便利店 Corner shop" in first.text and "-18.00" in first.text and "-1.21" in first.text
    assert "工商银行储蓄卡 尾号" in first.text and "零钱" in first.text and "支付成功" in first.text
    older = re.search(r'id="older" href="([^"]+)"', first.text)
    assert older, "a second page exists"
    second = platform.http.get(older[1].replace("&amp;", "&"))
    assert _bills(second.text) == ["Shop-item 2", "Shop-item 1", "Shop-item 0"]
    assert 'id="older"' not in second.text
    other = platform.payer(name="Nobody")
    assert "还没有账单" in platform.http.get("/wallet", params={"payer_id": other["payer_id"]}).text


def test_wallet_changes_list_topups_and_payments(platform: Harness) -> None:
    merchant = platform.merchant()
    payer = platform.payer(balance=5_000, name="Ivy")
    _policy(platform, payer["payer_id"], "never")
    _micropay(platform, merchant, payer["payer_id"], 1, fee=250)
    page = platform.http.get("/wallet/changes", params={"payer_id": payer["payer_id"]})
    assert page.status_code == 200
    amounts = re.findall(r'class="bill-amount[^"]*">([^<]+)<', page.text)
    assert amounts == ["-2.50", "+50.00"]
    assert "余额 47.50" in page.text and "充值" in page.text and "支付" in page.text


def test_password_change_refuses_a_wrong_old_password(platform: Harness) -> None:
    payer = platform.payer(name="Jin")
    form = {"payer_id": str(payer["payer_id"]), "new_password": "246810", "repeat": "246810"}
    wrong = post_form(platform.http, "/wallet/password", data={**form, "old_password": "000000"})
    assert wrong.status_code == 303 and "notice=WRONG_PASSWORD" in wrong.headers["location"]
    shown = platform.http.get(wrong.headers["location"])
    assert 'id="notice"' in shown.text and "原支付密码错误" in shown.text
    mismatch = post_form(
        platform.http,
        "/wallet/password",
        data={**form, "old_password": "123456", "repeat": "246811"},
    )
    assert "notice=MISMATCH" in mismatch.headers["location"]
    ok = post_form(platform.http, "/wallet/password", data={**form, "old_password": "123456"})
    assert "notice=CHANGED" in ok.headers["location"]
    assert "支付密码已修改" in platform.http.get(ok.headers["location"]).text
    # The new password is the one the payer's pages now take.
    again = post_form(platform.http, "/wallet/password", data={**form, "old_password": "123456"})
    assert "notice=WRONG_PASSWORD" in again.headers["location"]
    missing = {"payer_id": "999999", "old_password": "123456"}
    assert post_form(platform.http, "/wallet/password", data=missing).status_code == 404


def test_paycode_shows_digits_barcode_qr_and_countdown(platform: Harness) -> None:
    payer = platform.payer(name="Kai")
    page = post_form(platform.http, "/wallet/paycode", data={"payer_id": str(payer["payer_id"])})
    code = re.search(r'data-auth-code="(\d{18})"', page.text)
    assert code
    assert page.text.count(f"<title>{code[1]}</title>") == 2  # the barcode's and the QR's
    assert 'id="barcode"' in page.text and 'class="barcode"' in page.text
    left = re.search(r'data-seconds-left="(\d+)"', page.text)
    assert left and 55 <= int(left[1]) <= 60


def test_micropay_prompt_is_listed_and_answered(platform: Harness) -> None:
    merchant = platform.merchant(name="收银台 Till")
    payer = platform.payer(balance=10_000, name="Lin", cards=["CMB_CREDIT"])
    payer_id = payer["payer_id"]
    _policy(platform, payer_id, "always")
    assert platform.http.get("/wallet/prompts", params={"payer_id": payer_id}).json() == {
        "prompts": [],
        "cards": [],
    }
    with pytest.raises(RejectedError) as waiting:
        _micropay(platform, merchant, payer_id, 1, fee=680)
    assert waiting.value.err_code == "USERPAYING"
    listed = platform.http.get("/wallet/prompts", params={"payer_id": payer_id}).json()
    [prompt] = listed["prompts"]
    assert prompt["merchant"] == "收银台 Till" and prompt["amount"] == "6.80"
    assert prompt["body"] == "Shop-item 1" and 25 <= prompt["seconds_left"] <= 30
    assert listed["cards"][0]["bank_type"] == "CMB_CREDIT"
    answer = {"payer_id": payer_id, "order_id": prompt["order_id"], "action": "pay"}
    wrong = platform.http.post("/wallet/confirm", json={**answer, "password": "000000"}).json()
    assert wrong == {"outcome": "WRONG_PASSWORD", "message": "支付密码错误，请重试", "done": False}
    card = listed["cards"][0]["card_id"]
    paid = platform.http.post(
        "/wallet/confirm", json={**answer, "password": "123456", "card_id": card}
    ).json()
    assert paid["outcome"] == "SUCCESS" and paid["done"] is True
    query = platform.client(merchant).orderquery(out_trade_no="MP0001")
    assert query["trade_state"] == "SUCCESS" and query["bank_type"] == "CMB_CREDIT"
    assert (
        platform.http.get("/wallet/prompts", params={"payer_id": payer_id}).json()["prompts"] == []
    )
    # A second charge, cancelled on the prompt: PAYERROR for the cashier.
    with pytest.raises(RejectedError):
        _micropay(platform, merchant, payer_id, 2)
    [second] = platform.http.get("/wallet/prompts", params={"payer_id": payer_id}).json()["prompts"]
    cancel = {"payer_id": payer_id, "order_id": second["order_id"], "action": "cancel"}
    assert platform.http.post("/wallet/confirm", json=cancel).json()["outcome"] == "CANCELLED"
    assert platform.client(merchant).orderquery(out_trade_no="MP0002")["trade_state"] == "PAYERROR"
    # Another payer cannot answer someone else's prompt.
    with pytest.raises(RejectedError):
        _micropay(platform, merchant, payer_id, 3)
    [third] = platform.http.get("/wallet/prompts", params={"payer_id": payer_id}).json()["prompts"]
    stranger = platform.payer(name="Mallory")
    theft = {"payer_id": stranger["payer_id"], "order_id": third["order_id"], "password": "123456"}
    assert platform.http.post("/wallet/confirm", json=theft).json()["outcome"] == "ORDER_NOT_FOUND"


def test_app_pay_with_a_card(platform: Harness) -> None:
    merchant = platform.merchant(name="App shop")
    payer = platform.payer(balance=0, name="Mo", cards=["CMB_DEBIT"])
    card_id = payer["cards"][0]["card_id"]
    for n, via in enumerate(("json", "form")):
        order = platform.client(merchant, "app").unifiedorder(
            body="App shop-Gems",
            out_trade_no=f"APPC{n}",
            total_fee=990,
            spbill_create_ip="203.0.113.10",
            notify_url="http://127.0.0.1:9/notify",
            trade_type="APP",
        )
        params = {
            "appid": merchant.apps["app"],
            "partnerid": merchant.mch_id,
            "prepayid": order["prepay_id"],
            "package": "Sign=WXPay",
            "noncestr": "N" * 32,
            "timestamp": str(int(time.time())),
        }
        params["sign"] = v2_sign(params, merchant.api_key)
        page = platform.http.get("/app/pay", params=params)
        assert f'<option value="{card_id}" data-payer-id="{payer["payer_id"]}">' in page.text
        who: dict[str, Any] = {"payer_id": payer["payer_id"], "password": "123456"}
        if via == "json":
            broke = platform.http.post("/app/pay", json={**params, **who}).json()
            assert broke["errCode"] == -1 and broke["outcome"] == "NOTENOUGH"
            paid = platform.http.post("/app/pay", json={**params, **who, "card_id": card_id})
            assert paid.json()["errCode"] == 0
        else:
            form = {**params, **who, "payer_id": str(payer["payer_id"]), "method": str(card_id)}
            assert (
                'data-err-code="0"' in post_form(platform.http, "/app/pay/confirm", data=form).text
            )
        query = platform.client(merchant).orderquery(out_trade_no=f"APPC{n}")
        assert query["trade_state"] == "SUCCESS" and query["bank_type"] == "CMB_DEBIT"


ODD = ["", " ", "²", "-1", "9" * 40, "\x00", "x" * 5000, "1-", "-", "99999999999999-1", "😀"]


def test_odd_wallet_input_is_never_a_server_error(platform: Harness) -> None:
    payer = platform.payer()
    pid = str(payer["payer_id"])
    for value in ODD:
        for path, params in (
            ("/wallet", {"payer_id": pid, "before": value}),
            ("/wallet", {"payer_id": pid, "notice": value}),
            ("/wallet/changes", {"payer_id": pid, "before": value}),
            ("/wallet/changes", {"payer_id": value}),
            ("/wallet/prompts", {"payer_id": value}),
        ):
            answer = platform.http.get(path, params=params)
            assert answer.status_code < 500, (path, params, answer.text[:300])
        for path, form in (
            ("/wallet/password", {"payer_id": pid, "old_password": value, "new_password": value}),
            ("/wallet/password", {"payer_id": value}),
            ("/wallet/policy", {"payer_id": pid, "policy": value}),
            ("/wallet/policy", {"payer_id": value, "policy": "always"}),
            ("/app/pay/confirm", {"payer_id": pid, "method": value}),
        ):
            answer = platform.http.post(path, data=form)
            assert answer.status_code < 500, (path, form, answer.text[:300])
    bodies: list[Any] = [
        [],
        "x",
        {},
        {"payer_id": True, "order_id": 1},
        {"payer_id": 10**30, "order_id": 1},
        {"payer_id": 1, "order_id": 1, "action": "steal"},
        {"payer_id": 1, "order_id": 1, "password": None},
        {"payer_id": 1, "order_id": 1, "password": "123456", "card_id": "1"},
        {"payer_id": 1, "order_id": 10**15, "password": "123456"},
    ]
    for body in bodies:
        answer = platform.http.post("/wallet/confirm", json=body)
        assert answer.status_code < 500, (body, answer.text[:300])
    assert platform.http.post("/wallet/confirm", content=b"\xff").status_code == 400
    assert platform.http.get("/wallet/prompts", params={"payer_id": "999999"}).status_code == 404
    assert platform.http.get("/wallet", params={"payer_id": pid, "before": "x"}).status_code == 400


@pytest.fixture
def relaxed(store: SqlStore) -> Iterator[Harness]:
    settings = Settings(notify_timeout_seconds=2.0, require_client_cert=False)
    with OracleHarness.start(store, settings=settings) as harness:
        yield harness
        harness.assert_ledger_balanced()


def test_refunds_show_under_their_payment(relaxed: Harness) -> None:
    merchant = relaxed.merchant(name="Refund shop")
    payer = relaxed.payer(balance=10_000, name="Nia")
    _policy(relaxed, payer["payer_id"], "never")
    _micropay(relaxed, merchant, payer["payer_id"], 1, fee=1_000)
    relaxed.client(merchant).call(
        "/secapi/pay/refund",
        out_trade_no="MP0001",
        out_refund_no="R1",
        total_fee=1_000,
        refund_fee=300,
    )
    page = relaxed.http.get("/wallet", params={"payer_id": payer["payer_id"]}).text
    assert "部分退款" in page and re.search(r"退款 \+3\.00 · (已到账|退款中)", page)
