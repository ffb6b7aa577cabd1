"""The acceptance checker (issue 14 part 2) grading two sample integrations over real sockets.

Both integrations are written here with the third-party ``wechatpy`` client over mutual TLS,
the way a till would be: ``careful`` follows the documented algorithm (spec §5: query after an
unclear answer, reverse no sooner than 15 s after the charge and retry a failed reverse, retry a
refund with the same out_refund_no, query a paid order whose notification never came, close an
unpaid order no sooner than 5 minutes after it, download the bill) and so plays every case;
``careless`` never queries after SYSTEMERROR: it reverses at once (after USERPAYING too, so that
case fails as well), its notification receiver refuses a duplicate, it trusts the notification
alone (no query when none came), and it never closes an order (that case is not run). Waits
move the platform clock, not the wall clock.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from wechatpy.exceptions import WeChatPayException  # type: ignore[import-untyped]
from wechatpy_support import mtls_wechatpy

from wxpay_local.cli import main
from wxpay_local.store import SqlStore
from wxpay_local.testing import Harness, MerchantInfo, MerchantSink, wait_for

pytestmark = pytest.mark.e2e

CLIENT_IP = "203.0.113.10"


@pytest.fixture
def mtls(store: SqlStore) -> Iterator[Harness]:
    with Harness.start(store, live=True) as harness:
        yield harness


class Shop:
    """A merchant's system; ``careful`` picks which of the two integrations it is."""

    def __init__(self, h: Harness, tmp_path: Path, careful: bool) -> None:
        self.h, self.careful = h, careful
        self.merchant: MerchantInfo = h.merchant()
        self.client = mtls_wechatpy(h, self.merchant, tmp_path, timeout=5)
        self.payer = h.payer(balance=100_000)["payer_id"]

    def charge(self, out_trade_no: str) -> str:
        code = self.h.control("POST", f"/_local/payers/{self.payer}/codes")["auth_code"]
        try:
            self.client.micropay.create(
                body="Test shop-Coffee",
                total_fee=1800,
                auth_code=code,
                client_ip=CLIENT_IP,
                out_trade_no=out_trade_no,
            )
            return "SUCCESS"
        except WeChatPayException as refused:
            return str(refused.errcode or refused.return_code)

    def query(self, out_trade_no: str) -> str:
        try:
            return str(self.client.order.query(out_trade_no=out_trade_no)["trade_state"])
        except (WeChatPayException, requests.RequestException):
            return "UNKNOWN"

    def reverse(self, out_trade_no: str, waited: int) -> None:
        if self.careful and waited < 15:
            self.h.advance(15 - waited)
        for _ in range(5):
            try:
                self.client.order.reverse(out_trade_no=out_trade_no)
                return
            except WeChatPayException:
                self.h.advance(2)

    def pay(self, out_trade_no: str) -> None:
        answer = self.charge(out_trade_no)
        if answer not in ("USERPAYING", "SYSTEMERROR", "BANKERROR"):
            return
        waited, wait = 0, 5
        if self.careful:
            while waited + wait <= 45:
                self.h.advance(wait)
                waited += wait
                wait = 10
                state = self.query(out_trade_no)
                if state == "SUCCESS":
                    return
        self.reverse(out_trade_no, waited)

    def sell(self, out_trade_no: str, notify_url: str) -> None:
        """A NATIVE order the payer pays; the notification goes to ``notify_url``."""
        created = self.client.order.create(
            trade_type="NATIVE",
            body="Test shop-Coffee",
            total_fee=1800,
            notify_url=notify_url,
            client_ip=CLIENT_IP,
            product_id="latte",
            out_trade_no=out_trade_no,
        )
        assert self.h.pay(self.payer, code_url=created["code_url"])["outcome"] == "SUCCESS"

    def settle_without_notification(self, out_trade_no: str, sink: MerchantSink) -> None:
        """The payer paid but no notification reached the till: the careful one queries."""
        heard = any(out_trade_no.encode() in r.body for r in sink.received)
        if self.careful and not heard:
            assert self.query(out_trade_no) == "SUCCESS"

    def abandon(self, out_trade_no: str) -> None:
        """A NATIVE order nobody pays: closed once the 5 minutes the platform asks for passed."""
        self.client.order.create(
            trade_type="NATIVE",
            body="Test shop-Coffee",
            total_fee=1800,
            notify_url="http://127.0.0.1:9/notify",
            client_ip=CLIENT_IP,
            product_id="latte",
            out_trade_no=out_trade_no,
        )
        self.h.advance(300)
        self.client.order.close(out_trade_no=out_trade_no)

    def refund(self, out_trade_no: str) -> None:
        for _ in range(3):
            try:
                self.client.refund.apply(
                    total_fee=1800,
                    refund_fee=1800,
                    out_refund_no=f"R{out_trade_no}",
                    out_trade_no=out_trade_no,
                )
                return
            except WeChatPayException:
                self.h.advance(2)

    def bill(self) -> None:
        # Any day's bill will do: the checker looks for the reconciliation call, not its rows.
        try:
            self.client.tools.download_bill("20240101", bill_type="ALL")
        except WeChatPayException:
            pass


def run(h: Harness, shop: Shop, sink: MerchantSink) -> dict[str, Any]:
    mch_id = shop.merchant.mch_id
    started = h.control("POST", f"/_local/acceptance/{mch_id}")
    shop.sell("ACCNOTIFY1", sink.url)
    wait_for(lambda: sink.received if len(sink.received) >= 2 else None)
    wait_for(lambda: [n for n in h.notifications(mch_id) if n["attempts"]])
    shop.pay("ACCSYSERR1")
    shop.pay("ACCPAYING1")
    shop.pay("ACCREVERSE1")
    shop.pay("ACCREFUND1")
    shop.refund("ACCREFUND1")
    shop.sell("ACCNONOTIFY1", sink.url)
    # The till cannot see the platform; the test waits for the first (lost) attempt so that
    # "no notification came" is true when the till decides.
    wait_for(
        lambda: [
            n
            for n in h.notifications(mch_id)
            if n["out_trade_no"] == "ACCNONOTIFY1" and n["attempts"]
        ]
    )
    shop.settle_without_notification("ACCNONOTIFY1", sink)
    if shop.careful:  # the careless till never closes an order: that case stays not_run
        shop.abandon("ACCCLOSE1")
    shop.bill()
    report: dict[str, Any] = h.control(
        "GET", f"/_local/acceptance/{mch_id}", since_id=started["since_id"]
    )
    return report


def statuses(report: dict[str, Any]) -> dict[str, str]:
    return {case["case"]: case["status"] for case in report["cases"]}


def test_a_careful_integration_passes(mtls: Harness, tmp_path: Path, sink: MerchantSink) -> None:
    # The careful receiver books a transaction once and acknowledges every copy (the default).
    report = run(mtls, Shop(mtls, tmp_path, careful=True), sink)
    assert statuses(report) == {
        "query_after_systemerror": "pass",
        "poll_userpaying": "pass",
        "reverse_when_unclear": "pass",
        "reverse_waits_15s": "pass",
        "closeorder_waits_5min": "pass",
        "refund_retry_same_out_refund_no": "pass",
        "notification_dedupe": "pass",
        "query_when_no_notification": "pass",
        "download_bill": "pass",
    }, report


def test_a_careless_integration_fails_its_mistakes_with_evidence(
    mtls: Harness, tmp_path: Path, sink: MerchantSink
) -> None:
    # The careless receiver inserts each copy under a unique key: the duplicate fails.
    sink.answers = [sink.answers[0], (500, b"duplicate key value violates unique constraint")]
    report = run(mtls, Shop(mtls, tmp_path, careful=False), sink)
    assert statuses(report) == {
        "query_after_systemerror": "fail",
        "poll_userpaying": "fail",
        "reverse_when_unclear": "pass",
        "reverse_waits_15s": "fail",
        "closeorder_waits_5min": "not_run",
        "refund_retry_same_out_refund_no": "pass",
        "notification_dedupe": "fail",
        "query_when_no_notification": "fail",
        "download_bill": "pass",
    }, report
    cases = {case["case"]: case for case in report["cases"]}
    assert cases["query_after_systemerror"]["evidence"][0].endswith(
        " micropay ACCSYSERR1 → SYSTEMERROR"
    )
    # The platform clock runs with the wall clock between calls: the gap is a few ms, not 0.
    assert cases["reverse_waits_15s"]["why"].endswith(" ms after the charge (at least 15 s)")
    charge, reverse = cases["reverse_waits_15s"]["evidence"]
    assert charge.endswith(" micropay ACCSYSERR1 → SYSTEMERROR")
    assert reverse.endswith(" reverse ACCSYSERR1 → SUCCESS")
    [refused] = cases["notification_dedupe"]["evidence"]
    assert refused.startswith("ACCNOTIFY1 at ") and refused.endswith(": not acknowledged")
    unheard = cases["query_when_no_notification"]
    assert unheard["evidence"][0].endswith(" unifiedorder ACCNONOTIFY1 → SUCCESS")
    assert unheard["evidence"][1].startswith("ACCNONOTIFY1 at ")
    assert unheard["evidence"][1].endswith(": lost")
    assert all(b"ACCNONOTIFY1" not in r.body for r in sink.received)


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    sys.stdin = io.StringIO("")
    capsys.readouterr()
    with pytest.raises(SystemExit) as done:
        main(list(argv))
    code = done.value.code
    return (code if isinstance(code, int) else 0), capsys.readouterr().out


def test_the_cli_starts_a_run_and_prints_the_report_card(
    mtls: Harness, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shop = Shop(mtls, tmp_path, careful=False)
    mch_id, url = shop.merchant.mch_id, ("--url", mtls.base_url)
    code, out = cli(capsys, "acceptance", mch_id, "--json", *url)
    assert code == 0
    since_id = json.loads(out)["since_id"]
    shop.pay("ACCSYSERR1")
    code, out = cli(capsys, "acceptance", mch_id, "--report", str(since_id), *url)
    assert code == 1, out
    rows = {line.split()[0]: line.split()[1] for line in out.splitlines()[2:11]}
    assert rows["query_after_systemerror"] == "FAIL"
    assert rows["reverse_waits_15s"] == "FAIL"
    assert rows["download_bill"] == "FAIL"
    assert "  query_after_systemerror: #" in out
    assert out.rstrip().endswith("report card: 0 pass, 3 fail")
