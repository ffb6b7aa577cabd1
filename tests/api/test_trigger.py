"""``wxpay-local trigger payment|refund`` (issue 14, part 3) over real sockets: a real paid order
or refund, its ledger entries, and its notification at the merchant's URL."""

from __future__ import annotations

import json

import pytest

from wxpay_local import cli
from wxpay_local.testing import Harness, MerchantSink, wait_for

pytestmark = pytest.mark.api


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as done:
        cli.main(list(argv))
    out, err = capsys.readouterr()
    print(err)  # shown when a test fails
    return int(done.value.code or 0), out


def test_trigger_payment_pays_for_real_and_notifies(
    relaxed_live: Harness, sink: MerchantSink, capsys: pytest.CaptureFixture[str]
) -> None:
    live = relaxed_live
    merchant = live.merchant()
    code, out = run_cli(
        capsys,
        "trigger",
        "payment",
        "--url",
        live.base_url,
        "--mch-id",
        merchant.mch_id,
        "--notify-url",
        sink.url,
        "--total-fee",
        "2500",
        "--json",
    )
    assert code == 0
    order = json.loads(out)["order"]
    assert order["trade_state"] == "SUCCESS" and order["total_fee"] == 2500
    wait_for(lambda: len(sink.received) == 1)
    body = sink.received[0].body
    assert f"<out_trade_no><![CDATA[{order['out_trade_no']}]]></out_trade_no>".encode() in body
    assert b"<total_fee>2500</total_fee>" in body
    balances = live.ledger()["accounts"]
    assert any(name.startswith("merchant:") and v > 0 for name, v in balances.items())


def test_trigger_refund_refunds_a_fresh_payment_and_notifies(
    relaxed_live: Harness, sink: MerchantSink, capsys: pytest.CaptureFixture[str]
) -> None:
    live = relaxed_live
    merchant = live.merchant()
    code, out = run_cli(
        capsys,
        "trigger",
        "refund",
        "--url",
        live.base_url,
        "--mch-id",
        merchant.mch_id,
        "--notify-url",
        sink.url,
    )
    assert code == 0
    assert "refund made" in out and "PROCESSING" in out
    live.advance(60)  # past the settling time: the refund succeeds and is notified
    wait_for(lambda: any(b"<req_info>" in r.body for r in sink.received))


def test_trigger_for_an_unknown_merchant_is_one_line(
    relaxed_live: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main(["trigger", "payment", "--url", relaxed_live.base_url, "--mch-id", "1"])
    assert done.value.code == 1
    assert "NOT_FOUND: no merchant 1" in capsys.readouterr().err
