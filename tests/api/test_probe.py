"""The notification-receiver probe (issue 14, part 1; docs/verify-your-integration.md).

Three receivers written in ``receivers.py`` from the spec, each on a loopback port, probed
through the CLI against a live platform: the careful one passes every check (exit 0), the naive
one is flagged for everything it must refuse, the vulnerable one by the XXE canary alone.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from receivers import Shop

from wxpay_local import cli
from wxpay_local.codes import SignType
from wxpay_local.probe.runner import HostRefused, check_target
from wxpay_local.testing import Harness, MerchantInfo, wait_for
from wxpay_local.testing.harness import xml_endpoint

pytestmark = pytest.mark.api

EVERY_CHECK = [
    "genuine",
    "duplicate",
    "concurrent",
    "hmac",
    "forged_sign",
    "other_key",
    "tampered",
    "wrong_total_fee",
    "unknown_order",
    "bad_req_info",
    "xxe",
    "entity_bomb",
    "oversized",
    "invalid_utf8",
]


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        cli.main(list(argv))
    out, err = capsys.readouterr()
    print(err)  # shown when a test fails
    return int(done.value.code or 0), out, err


def open_shop(live: Harness) -> tuple[Shop, MerchantInfo]:
    """A merchant whose notifications are signed as its orders were (so HMAC orders get HMAC)."""
    merchant = live.merchant()
    live.control(
        "POST",
        f"/_local/merchants/{merchant.mch_id}/config",
        {"notify_sign_type": "ORDER_NO_SIGN_TYPE"},
    )
    return Shop(merchant.mch_id, merchant.api_key), merchant


def sell(live: Harness, merchant: MerchantInfo, shop: Shop, url: str) -> None:
    """Two orders the shop knows, paid for real: one MD5, one HMAC-SHA256 (the latest)."""
    payer = live.payer(balance=10_000)
    for n, (sign_type, fee) in enumerate([(SignType.MD5, 1800), (SignType.HMAC_SHA256, 2500)]):
        client = live.client(merchant, sign_type=sign_type)
        out_trade_no = f"SHOP{n}"
        shop.orders[out_trade_no] = fee
        answer = client.unifiedorder(
            body="Test shop-Coffee",
            out_trade_no=out_trade_no,
            total_fee=fee,
            spbill_create_ip="203.0.113.10",
            notify_url=url,
            trade_type="NATIVE",
            product_id="latte",
        )
        assert live.pay(payer["payer_id"], code_url=answer["code_url"])["outcome"] == "SUCCESS"


def probe_with(
    live: Harness,
    capsys: pytest.CaptureFixture[str],
    receiver: Callable[[Shop], Callable[[bytes], tuple[int, bytes]]],
) -> tuple[Shop, int, dict[str, object]]:
    shop, merchant = open_shop(live)
    with xml_endpoint(receiver(shop), "/pay/notify") as url:
        sell(live, merchant, shop, url)
        code, out, _ = run_cli(
            capsys, "probe", "--url", live.base_url, "--mch-id", shop.mch_id, url, "--json"
        )
    return shop, code, json.loads(out)


def test_a_careful_receiver_passes_every_check(
    live: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    shop, code, report = probe_with(live, capsys, lambda s: s.careful)
    checks = report["checks"]
    assert isinstance(checks, list)
    assert [c["name"] for c in checks] == EVERY_CHECK
    assert [c["name"] for c in checks if not c["passed"] or c["skipped"]] == []
    assert report["failed"] == [] and code == 0
    assert report["out_trade_no"] == "SHOP1"  # the latest paid order
    # the genuine, duplicate and concurrent deliveries (and the platform's own notifications)
    # fulfilled each order once
    wait_for(lambda: len(live.notifications(shop.mch_id)) == 2)
    assert sorted(shop.fulfilled) == ["SHOP0", "SHOP1"]


def test_a_naive_receiver_is_flagged_for_all_it_must_refuse(
    live: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    _, code, report = probe_with(live, capsys, lambda s: s.naive)
    assert code == 1 and report["passed"] is False
    assert report["failed"] == [
        "forged_sign",
        "other_key",
        "tampered",
        "wrong_total_fee",
        "unknown_order",
        "bad_req_info",
        "xxe",
        "entity_bomb",
        "oversized",
        "invalid_utf8",
    ]
    checks = {c["name"]: c for c in report["checks"]}  # type: ignore[attr-defined]
    assert checks["forged_sign"]["detail"] == "answered SUCCESS to a notification it must refuse"


def test_a_parser_resolving_external_entities_is_caught_by_the_canary(
    live: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    _, code, report = probe_with(live, capsys, lambda s: s.vulnerable)
    assert code == 1 and report["failed"] == ["xxe"]
    xxe = next(c for c in report["checks"] if c["name"] == "xxe")  # type: ignore[attr-defined]
    assert xxe["detail"].startswith("the canary URL was fetched")


def test_the_table_names_each_failure_and_its_fix(
    live: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    shop, merchant = open_shop(live)
    with xml_endpoint(shop.naive, "/pay/notify") as url:
        sell(live, merchant, shop, url)
        code, out, _ = run_cli(
            capsys, "probe", "--url", live.base_url, "--mch-id", shop.mch_id, url
        )
    assert code == 1
    lines = out.splitlines()
    assert any(line.split()[:3] == ["genuine", "accept", "PASS"] for line in lines)
    assert any(line.split()[:3] == ["forged_sign", "refuse", "FAIL"] for line in lines)
    assert "wrong_total_fee: Compare total_fee with the amount of your order" in out
    assert lines[-1].startswith("FAILED: forged_sign, other_key, tampered")


@pytest.mark.parametrize("url", ["http://203.0.113.7/notify", "http://example.com:8080/notify"])
def test_the_probe_sends_nowhere_but_loopback_unless_allowed(live: Harness, url: str) -> None:
    merchant = live.merchant()
    refused = live.control(
        "POST", "/_local/probe", {"mch_id": merchant.mch_id, "url": url}, expect=403
    )
    assert refused["error"] == "PROBE_HOST_REFUSED"
    assert live.notifications(merchant.mch_id) == []  # no order was made for it either


def test_an_operator_may_allow_a_host_by_name() -> None:
    assert check_target("http://shop.internal:8000/n", ("shop.internal",))
    assert check_target("http://[::1]:9/n", ())
    with pytest.raises(HostRefused):
        check_target("http://shop.internal.evil.example/n", ("shop.internal",))
    with pytest.raises(HostRefused):
        check_target("file:///etc/passwd", ())
