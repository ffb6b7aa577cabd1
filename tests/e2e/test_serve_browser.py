"""By hand against ``wxpay-local serve``: what a person does after the two README commands.

The server runs as its own process with its first-run demo data; the test reads the banner as a
person would (API key, appid, console logins), places a Native order with the demo merchant's
key, pays it on the phone page as Alice, and finds the paid order and its delivered notification
in the merchant console.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from browser_support import screenshot_on_failure
from serve_support import DEMO_MCH_ID, Served, serve

from wxpay_local.sdk import Client
from wxpay_local.testing import MerchantSink, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with serve(tmp_path / "data") as s:
        yield s


def test_a_native_payment_on_the_phone_then_in_the_console(
    served: Served, page: Any, desk: Any, sink: MerchantSink
) -> None:
    logins = re.search(r"log in as (\d+) / (\S+)", served.banner)
    assert logins, served.banner
    with httpx.Client(timeout=10, trust_env=False) as http:
        client = Client(
            served.url, mch_id=DEMO_MCH_ID, api_key=served.api_key, appid=served.appid, http=http
        )
        answer = client.unifiedorder(
            body="Demo Coffee-Flat white",
            out_trade_no="BY-HAND-1",
            total_fee=2600,
            spbill_create_ip="127.0.0.1",
            notify_url=sink.url,
            trade_type="NATIVE",
            product_id="flat-white",
        )
    with screenshot_on_failure(page, "serve_phone"):
        page.goto(f"{served.url}/pay/qr?" + urlencode({"code_url": answer["code_url"]}))
        page.click("#open-phone")
        page.click('[data-payer-id="1"]')  # Alice, the first demo payer
        assert "26.00" in page.inner_text("#amount")
        page.fill("#password", "123456")
        page.click("#pay")
        assert page.get_attribute("#result", "data-outcome") == "SUCCESS"
    wait_for(lambda: len(sink.received) == 1)
    with screenshot_on_failure(desk, "serve_console"):
        desk.goto(f"{served.url}/console")
        desk.fill("#account", logins.group(1))
        desk.fill("#password", logins.group(2))
        desk.click("#login")
        desk.goto(f"{served.url}/console/orders?q=BY-HAND-1")
        row = desk.locator('tr.order-row[data-out-trade-no="BY-HAND-1"]')
        assert "SUCCESS" in row.inner_text()
        row.locator("a").first.click()
        desk.wait_for_url("**/console/orders/*/BY-HAND-1")
        assert "支付成功 Paid" in desk.inner_text("#timeline")
        wait_for(lambda: _delivered(desk))


def _delivered(desk: Any) -> bool:
    desk.reload()
    return bool(desk.locator('tr.attempt.ok[data-http="200"]').count() == 1)
