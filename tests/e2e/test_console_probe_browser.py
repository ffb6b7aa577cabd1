"""The probe on the console in a real headless Chromium (issue 14): a merchant signs in, runs
the probe against a receiver that answers SUCCESS to anything, and reads the report table;
the operator runs it for a merchant it names. A failing test leaves a screenshot in
``artifacts/``.
"""

from __future__ import annotations

from typing import Any

import pytest
from browser_support import axe_violations, console_login, operator_password, screenshot_on_failure

from wxpay_local.testing import Harness, MerchantSink

pytestmark = pytest.mark.e2e

PASSWORD = "console-pw-1"


def test_a_merchant_probes_its_receiver_and_sees_the_failures(
    web: Harness, desk: Any, sink: MerchantSink
) -> None:
    merchant = web.merchant(name="蓝瓶咖啡", console_password=PASSWORD)
    with screenshot_on_failure(desk, "console_probe"):
        console_login(desk, web, merchant.mch_id, PASSWORD, "/console/probe")
        assert desk.locator("#probe-mch-id").count() == 0  # a merchant probes only itself
        desk.fill("#probe-url", sink.url)
        desk.click("#probe-run")
        desk.wait_for_selector("#probe-report", timeout=60_000)
        verdict = desk.inner_text("#probe-verdict")
        assert verdict.startswith("未通过 Failed: ")
        # A receiver that answers SUCCESS to anything accepts a forged signature.
        rows = desk.locator("#probe-report tbody tr")
        assert rows.count() >= 10
        results = {
            rows.nth(i).locator("td").nth(0).inner_text(): rows.nth(i)
            .locator("td")
            .nth(2)
            .inner_text()
            for i in range(rows.count())
        }
        assert "FAIL" in results.values() and "PASS" in results.values()
        failed = verdict.removeprefix("未通过 Failed: ").split(", ")
        assert all(results[name] == "FAIL" for name in failed)
        assert axe_violations(desk) == []


def test_the_operator_names_the_merchant_and_a_missing_one_is_refused(
    web: Harness, desk: Any, sink: MerchantSink
) -> None:
    with screenshot_on_failure(desk, "console_probe_operator"):
        console_login(desk, web, "operator", operator_password(web), "/console/probe")
        desk.fill("#probe-mch-id", "1999999999")
        desk.fill("#probe-url", sink.url)
        desk.click("#probe-run")
        desk.wait_for_selector("#form-error")
        assert "1999999999" in desk.inner_text("#form-error")
        assert desk.locator("#probe-report").count() == 0
