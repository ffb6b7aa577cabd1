"""The console's tools in a real headless Chromium, at a desktop size, as a developer uses them.

Flows: find a failed call in the request journal and read why its signature did not match;
rotate the API key through the confirmation step and see the new key; move the test clock by
a day; preview a day's bill. A failing test leaves a screenshot in ``artifacts/``; with
``WXPAY_DOCS_SCREENSHOTS=1`` the journal entry, keys, clock and bill pages go to
``docs/screenshots/``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from browser_support import console_login, docs_shot, screenshot_on_failure

from wxpay_local.testing import Harness, MerchantInfo, wait_for
from wxpay_local.wire import signing

pytestmark = pytest.mark.e2e

PASSWORD = "console-pw-1"
IP = "203.0.113.10"


def _order(web: Harness, merchant: MerchantInfo, out_trade_no: str) -> dict[str, str]:
    return web.client(merchant).unifiedorder(
        body="蓝瓶咖啡-拿铁",
        out_trade_no=out_trade_no,
        total_fee=1800,
        spbill_create_ip=IP,
        notify_url="http://127.0.0.1:9/notify",
        trade_type="NATIVE",
        product_id="latte",
    )


def test_a_failed_call_shows_why_the_signature_did_not_match(web: Harness, desk: Any) -> None:
    merchant = web.merchant(name="蓝瓶咖啡", console_password=PASSWORD)
    _order(web, merchant, "E2E-OK-1")
    fields = {
        "appid": merchant.apps["official_account"],
        "mch_id": merchant.mch_id,
        "nonce_str": "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
        "body": "蓝瓶咖啡-拿铁",
        "out_trade_no": "E2E-BAD-1",
        "total_fee": "1800",
        "spbill_create_ip": IP,
        "notify_url": "http://127.0.0.1:9/notify",
        "trade_type": "NATIVE",
        "product_id": "latte",
    }
    fields["sign"] = signing.sign(fields, "0" * 32, signing.SignType.MD5)
    body = "<xml>" + "".join(f"<{k}>{v}</{k}>" for k, v in fields.items()) + "</xml>"
    web.http.post("/pay/unifiedorder", content=body.encode())
    wait_for(lambda: len(web.journal(mch_id=merchant.mch_id)) >= 2, timeout=5)
    with screenshot_on_failure(desk, "console_journal"):
        console_login(desk, web, merchant.mch_id, PASSWORD, "/console/journal")
        assert desk.locator("table.journal tbody tr").count() == 2
        desk.locator("table.journal tr.failed a").first.click()
        desk.wait_for_selector("#signature")
        assert desk.inner_text("#sig-algorithm") == "MD5"
        assert desk.inner_text("#sig-received") == fields["sign"]
        expected = signing.sign(fields, merchant.api_key, signing.SignType.MD5)
        assert desk.inner_text("#sig-expected") == expected
        signed_string = desk.inner_text("#sig-string")
        assert signed_string.startswith("appid=" + merchant.apps["official_account"])
        assert "out_trade_no=E2E-BAD-1" in signed_string
        assert "&key=" in signed_string and "*" in signed_string.rpartition("&key=")[2]
        assert desk.locator("#sig-string mark.key").is_visible()
        assert merchant.api_key not in desk.content()
        assert "E2E-BAD-1" in desk.inner_text("#request-raw")
        docs_shot(desk, "console_journal_signature")
    assert desk.console_errors == []


def test_rotating_the_api_key_through_the_confirm_step(web: Harness, desk: Any) -> None:
    merchant = web.merchant(name="蓝瓶咖啡", console_password=PASSWORD)
    with screenshot_on_failure(desk, "console_keys"):
        console_login(desk, web, merchant.mch_id, PASSWORD, "/console/keys")
        masked = desk.inner_text("#api-key")
        assert merchant.api_key not in masked and masked.endswith(merchant.api_key[-4:])
        desk.click("#reveal-key")
        assert desk.inner_text("#api-key") == merchant.api_key
        desk.click("#reveal-key")
        assert desk.inner_text("#api-key") == masked
        desk.click("#rotate-key")
        desk.wait_for_selector("#confirm-panel")
        assert "stops working" in desk.inner_text("#confirm-panel")
        desk.click("#confirm-rotate")
        desk.wait_for_selector("#flash")
        new_key = desk.inner_text("#api-key")
        assert len(new_key) == 32 and new_key != merchant.api_key
        docs_shot(desk, "console_keys")
    answer = web.control("GET", f"/_local/merchants/{merchant.mch_id}")
    assert answer["api_key"] == new_key
    assert desk.console_errors == []


def test_advancing_the_clock_by_one_day(web: Harness, desk: Any) -> None:
    merchant = web.merchant(console_password=PASSWORD)
    with screenshot_on_failure(desk, "console_clock"):
        console_login(desk, web, merchant.mch_id, PASSWORD, "/console/clock")
        before = datetime.fromisoformat(desk.get_attribute("#clock-now", "data-iso"))
        assert desk.inner_text("#clock-offset") == "0"
        desk.click('button[data-seconds="86400"]')
        desk.wait_for_url(f"{web.base_url}/console/clock?moved=1")
        after = datetime.fromisoformat(desk.get_attribute("#clock-now", "data-iso"))
        assert 86400 <= (after - before).total_seconds() < 86400 + 60
        assert desk.inner_text("#clock-now") == after.strftime("%Y-%m-%d %H:%M:%S")
        assert desk.inner_text("#clock-offset").startswith("+1d")
        docs_shot(desk, "console_clock")
    state = web.control("GET", "/_local/clock")
    assert state["offset_seconds"] >= 86400
    web.control("POST", "/_local/clock", {"real": True})
    assert desk.console_errors == []


def test_previewing_a_bill(web: Harness, desk: Any) -> None:
    merchant = web.merchant(name="蓝瓶咖啡", console_password=PASSWORD)
    payer = web.payer(balance=50_000)
    web.control("POST", "/_local/clock", {"now": "2024-05-01T10:00:00+08:00", "freeze": True})
    for n in (1, 2, 3):
        paid = web.pay(
            payer["payer_id"], code_url=_order(web, merchant, f"E2E-BILL-{n}")["code_url"]
        )
        assert paid["outcome"] == "SUCCESS"
    web.control("POST", "/_local/clock", {"now": "2024-05-02T10:00:00+08:00", "freeze": True})
    with screenshot_on_failure(desk, "console_bills"):
        console_login(desk, web, merchant.mch_id, PASSWORD, "/console/bills")
        assert desk.input_value("#bill-date") == "2024-05-01"
        desk.select_option("#bill-type", "SUCCESS")
        desk.click("#preview-trade")
        desk.wait_for_selector("table.bill-rows tbody tr")
        rows = desk.locator("table.bill-rows tbody tr")
        assert rows.count() == 3
        assert "E2E-BILL-2" in desk.inner_text("table.bill-rows")
        totals = desk.locator("#bill-totals tbody td").all_inner_texts()
        assert totals[0] == "3" and "54.00" in totals
        assert desk.get_attribute("#download-gzip", "href").endswith("tar_type=GZIP")
        docs_shot(desk, "console_bills")
    web.control("POST", "/_local/clock", {"real": True})
    assert desk.console_errors == []
