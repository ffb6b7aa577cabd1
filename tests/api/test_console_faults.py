"""The console's Fault rules page (operator only): add a rule, see it fire in the list and
in "Recently applied", remove it; a merchant login is refused."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest
from console_support import PASSWORD, as_operator, signed_in

from wxpay_local.sdk import RejectedError
from wxpay_local.settings import Settings
from wxpay_local.store import SqlStore
from wxpay_local.testing import Harness

pytestmark = pytest.mark.api


@pytest.fixture
def h(store: SqlStore) -> Iterator[Harness]:
    with Harness.start(store, live=True, settings=Settings()) as harness:
        yield harness


def csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found
    return found.group(1)


def test_operator_adds_sees_and_removes_a_rule(h: Harness) -> None:
    merchant = h.merchant()
    client = h.client(merchant)
    with as_operator(h) as browser:
        page = browser.get("/console/faults")
        assert page.status_code == 200 and 'id="no-rules"' in page.text
        added = browser.post(
            "/console/faults",
            data={
                "csrf": csrf(page.text),
                "do": "add",
                "action": "err_code",
                "when": "before",
                "err_code": "SYSTEMERROR",
                "endpoint": "orderquery",
                "times": "1",
            },
        )
        assert added.status_code == 303
        with pytest.raises(RejectedError) as refused:
            client.orderquery(out_trade_no="C-1")
        assert refused.value.err_code == "SYSTEMERROR"
        page = browser.get("/console/faults")
        [rule] = h.control("GET", "/_local/faults")["rules"]
        row = re.search(rf'id="rule-{rule["id"]}">(.*?)</tr>', page.text, re.S)
        assert row and "SYSTEMERROR before commit" in row.group(1)
        applied = html.unescape(page.text.split('id="fault-applied"', 1)[1])
        assert f"rule #{rule['id']} applied: SYSTEMERROR before commit" in applied
        bad = browser.post(
            "/console/faults",
            data={"csrf": csrf(page.text), "do": "add", "action": "delay"},
        )
        assert bad.status_code == 400 and "action delay needs delay_ms" in bad.text
        removed = browser.post(
            "/console/faults",
            data={"csrf": csrf(page.text), "do": "remove", "rule_id": str(rule["id"])},
        )
        assert removed.status_code == 303
        assert h.control("GET", "/_local/faults")["rules"] == []


def test_a_merchant_may_not_see_the_page(h: Harness) -> None:
    merchant = h.merchant(console_password=PASSWORD)
    with signed_in(h, merchant.mch_id) as browser:
        assert browser.get("/console/faults").status_code in (403, 404)
        assert "/console/faults" not in browser.get("/console").text
