"""The acceptance checker on the console in a real headless Chromium (issue 14 part 2): a
merchant starts a run, its system closes an order at once (the documented minimum is 5
minutes), and the report card shows that case failed with the two journal entries as evidence.
"""

from __future__ import annotations

from typing import Any

import pytest
from browser_support import axe_violations, console_login, screenshot_on_failure

from wxpay_local.sdk.client import RejectedError
from wxpay_local.testing import Harness

pytestmark = pytest.mark.e2e

PASSWORD = "console-pw-1"


def test_a_run_started_on_the_console_grades_a_close_too_soon(web: Harness, desk: Any) -> None:
    merchant = web.merchant(name="蓝瓶咖啡", console_password=PASSWORD)
    with screenshot_on_failure(desk, "console_acceptance"):
        console_login(desk, web, merchant.mch_id, PASSWORD, "/console/acceptance")
        assert desk.locator("#acceptance-cases li").count() == 9
        desk.click("#acceptance-run")
        desk.wait_for_selector("#acceptance-report")
        client = web.client(merchant)
        client.unifiedorder(
            body="蓝瓶咖啡-拿铁",
            out_trade_no="ACC-CLOSE-1",
            total_fee=1800,
            spbill_create_ip="203.0.113.10",
            notify_url="http://127.0.0.1:9/notify",
            trade_type="NATIVE",
            product_id="latte",
        )
        with pytest.raises(RejectedError):  # the platform refuses it, and the card says why
            client.closeorder(out_trade_no="ACC-CLOSE-1")
        desk.reload()
        row = desk.locator("#case-closeorder_waits_5min")
        assert row.locator("td").nth(1).inner_text() == "FAIL"
        evidence = row.locator("td").nth(3).inner_text().splitlines()
        assert [line.split(" ", 1)[1] for line in evidence] == [
            "unifiedorder ACC-CLOSE-1 → SUCCESS",
            "closeorder ACC-CLOSE-1 → PARAM_ERROR",
        ]
        assert desk.locator("#case-download_bill td").nth(1).inner_text() == "FAIL"
        assert desk.locator("#case-poll_userpaying td").nth(1).inner_text() == "not run"
        assert desk.inner_text("#acceptance-verdict").startswith("0 pass · 2 fail")
        assert axe_violations(desk) == []
