"""The failover drill (issue 12, part 5): the platform answers as the primary and the backup
domain by ``Host`` (docs/testing.md has the hosts-file recipe); a fault rule takes the primary
down, and wxpay_sdk configured with both domains completes payments through the backup.

Here ``localhost:PORT`` plays api.mch.weixin.qq.com and ``127.0.0.1:PORT`` plays
api2.mch.weixin.qq.com: one server, two Host headers, as the hosts-file recipe gives.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from wxpay_local.settings import Settings
from wxpay_local.store import SqlStore
from wxpay_local.testing import Harness
from wxpay_sdk import Client, TransportError

pytestmark = pytest.mark.e2e


@pytest.fixture
def platform(store: SqlStore) -> Iterator[Harness]:
    settings = Settings(notify_timeout_seconds=2.0, require_client_cert=False)
    with Harness.start(store, live=True, settings=settings) as harness:
        yield harness
        harness.assert_ledger_balanced()


def both_domains(h: Harness) -> Client:
    merchant = h.merchant()
    port = h.base_url.rsplit(":", 1)[1]
    return Client(
        mch_id=merchant.mch_id,
        api_key=merchant.api_key,
        appid=merchant.apps["official_account"],
        base_url=f"http://localhost:{port}",  # the primary
        backup_url=f"http://127.0.0.1:{port}",  # the backup
    )


@pytest.mark.parametrize(
    "down", [{"action": "http_status", "http_status": 502}, {"action": "reset"}], ids=str
)
def test_with_the_primary_down_a_payment_completes_through_the_backup(
    platform: Harness, down: dict[str, object]
) -> None:
    rule = platform.fault(host="localhost:*", **down)  # type: ignore[arg-type]
    payer = platform.payer(balance=10_000)["payer_id"]
    with both_domains(platform) as client:
        order = {
            "body": "Test shop-Coffee",
            "out_trade_no": "DRILL-1",
            "total_fee": 1800,
            "spbill_create_ip": "203.0.113.10",
            "trade_type": "NATIVE",
            "product_id": "latte",
            "notify_url": "http://127.0.0.1:9/notify",
        }
        # unifiedorder is not repeated by the SDK on its own once sent (it may have run) ...
        with pytest.raises(TransportError) as lost:
            client.unifiedorder(**order)  # type: ignore[arg-type]
        assert lost.value.outcome_unknown
        # ... but the primary is now remembered as failed: the merchant's retry (the same
        # out_trade_no and fields, safe to repeat) goes to the backup
        created = client.unifiedorder(**order)  # type: ignore[arg-type]
        assert client.hosts.on_backup
        paid = platform.pay(payer, code_url=str(created["code_url"]))
        assert paid["outcome"] == "SUCCESS", paid
        assert client.orderquery(out_trade_no="DRILL-1")["trade_state"] == "SUCCESS"
        code = platform.control("POST", f"/_local/payers/{payer}/codes")["auth_code"]
        micro = client.micropay(
            body="Test shop-Tea",
            out_trade_no="DRILL-2",
            total_fee=900,
            spbill_create_ip="203.0.113.10",
            auth_code=code,
        )
        assert micro["trade_type"] == "MICROPAY"
    # only the primary's requests met the rule: the first unifiedorder
    assert platform.fault_rule(rule["id"])["fired"] == 1
    wallet = platform.ledger()["accounts"][f"payer:{payer}:wallet"]
    assert wallet == 10_000 - 1800 - 900
