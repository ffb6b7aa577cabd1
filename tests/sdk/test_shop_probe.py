"""The probe (issue 14) against the demo shop's notification endpoint (examples/shop)."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from wxpay_local import cli
from wxpay_local.testing import Harness, wait_for

pytestmark = pytest.mark.e2e


def test_the_probe_grades_the_demo_shops_notify_endpoint(
    web: Harness, shop: tuple[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    url, merchant = shop
    payer = web.payer(balance=10_000)
    with httpx.Client(base_url=url, trust_env=False, timeout=10) as http:
        bought = http.post("/buy", data={"product": "latte", "method": "NATIVE"})
        no = bought.headers["location"].rsplit("/", 1)[-1]
        code_url = re.search(r"weixin://wxpay/bizpayurl\?pr=\w+", http.get(f"/orders/{no}").text)
        assert code_url is not None
        assert web.pay(payer["payer_id"], code_url=code_url.group())["outcome"] == "SUCCESS"
        wait_for(lambda: http.get(f"/orders/{no}.json").json()["state"] == "PAID")
    with pytest.raises(SystemExit) as done:
        cli.main(
            ["probe", "--url", web.base_url, "--mch-id", merchant.mch_id, url + "/notify", "--json"]
        )
    report = json.loads(capsys.readouterr().out)
    assert report["out_trade_no"] == no
    # The shop verifies signatures and parses safely, but it neither compares the amount with
    # its order nor refuses an order it does not have: the probe says so.
    assert report["failed"] == ["wrong_total_fee", "unknown_order"]
    assert done.value.code == 1
