"""wxpay_sdk's ``micropay_best_practice`` against wxpay-local's fault rules and scripted payers
(issue 13): a live platform over real sockets, the client-certificate check on, so reverse is
mutual TLS for real. The flow's waits go through an injected ``sleep`` that moves the platform
clock (frozen, so nothing else moves it): no wall-clock waiting.

Each branch is checked where a merchant would look afterwards: the order's state on the
platform and the payer's wallet in the ledger (charged once, or not at all after a reversal).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from wxpay_local.testing import Harness, MerchantInfo
from wxpay_sdk import AsyncClient, Client, Outcome
from wxpay_sdk.models import MicropayArgs

pytestmark = pytest.mark.e2e

FEE = 1800
BALANCE = 10_000


class Till:
    """One merchant's till: a sync ``Client`` or an ``AsyncClient`` with the merchant's
    certificate (PEM; /secapi/ goes to the HTTPS port), whose pauses advance the platform
    clock and are recorded in ``waited``, with the payer's wallet at each pause in ``wallets``
    (what the platform had booked while the till was still waiting)."""

    def __init__(self, h: Harness, m: MerchantInfo, folder: Path, kind: str, payer: int) -> None:
        files = h.control("GET", f"/_local/merchants/{m.mch_id}/cert")
        cert, key = folder / "apiclient_cert.pem", folder / "apiclient_key.pem"
        cert.write_text(files["apiclient_cert.pem"])
        key.write_text(files["apiclient_key.pem"])
        self.h, self.kind, self.payer = h, kind, payer
        self.waited: list[float] = []
        self.wallets: list[int] = []
        self.options = {
            "mch_id": m.mch_id,
            "api_key": m.api_key,
            "appid": m.apps["official_account"],
            "base_url": h.base_url,
            "cert_base_url": h.tls_url,
            "cert": cert,
            "key": key,
            "ca_file": h.ca_file,
        }

    def with_backup(self) -> None:
        """Two domains, as the hosts-file recipe of docs/testing.md gives: ``localhost`` plays
        the primary api.mch.weixin.qq.com, ``127.0.0.1`` the backup api2 (one server)."""
        port = self.h.base_url.rsplit(":", 1)[1]
        tls_port = self.h.tls_url.rsplit(":", 1)[1]
        self.options |= {
            "base_url": f"http://localhost:{port}",
            "backup_url": f"http://127.0.0.1:{port}",
            "cert_base_url": f"https://localhost:{tls_port}",
            "cert_backup_url": f"https://127.0.0.1:{tls_port}",
            "failover_stay": 3600.0,  # remembered for the whole test, however slow the machine
        }

    def advance(self, seconds: float) -> None:
        self.waited.append(seconds)
        self.wallets.append(wallet(self.h, self.payer))
        self.h.advance(int(seconds))

    def charge(self, out_trade_no: str, auth_code: str) -> Outcome:
        args: MicropayArgs = {
            "body": "Test shop-Latte",
            "out_trade_no": out_trade_no,
            "total_fee": FEE,
            "spbill_create_ip": "203.0.113.10",
            "auth_code": auth_code,
        }
        if self.kind == "Client":
            with Client(**self.options) as client:  # type: ignore[arg-type]
                return client.micropay_best_practice(sleep=self.advance, **args)
        return asyncio.run(self._charge_async(args))

    async def _charge_async(self, args: MicropayArgs) -> Outcome:
        async def sleep(seconds: float) -> None:
            self.advance(seconds)  # a control-plane call; the flow awaits nothing else meanwhile

        async with AsyncClient(**self.options) as client:  # type: ignore[arg-type]
            return await client.micropay_best_practice(sleep=sleep, **args)


@pytest.fixture(params=["Client", "AsyncClient"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def start(live: Harness, tmp_path: Path, kind: str) -> tuple[Till, int, str]:
    """A frozen clock, a merchant with its till, a payer with ¥100 and one payment code."""
    live.control("POST", "/_local/clock", {"now": "2024-05-01T09:00:00+08:00", "freeze": True})
    merchant = live.merchant()
    payer = int(live.payer(balance=BALANCE)["payer_id"])
    code = str(live.control("POST", f"/_local/payers/{payer}/codes")["auth_code"])
    return Till(live, merchant, tmp_path, kind, payer), payer, code


def wallet(live: Harness, payer: int) -> int:
    return int(live.ledger()["accounts"][f"payer:{payer}:wallet"])


def trade_state(live: Harness, till: Till, out_trade_no: str) -> str:
    """The order's state as the platform answers orderquery (a fresh sync client)."""
    with Client(**till.options) as client:  # type: ignore[arg-type]
        return str(client.orderquery(out_trade_no=out_trade_no)["trade_state"])


def test_systemerror_after_commit_is_queried_and_found_paid(
    live: Harness, tmp_path: Path, kind: str
) -> None:
    till, payer, code = start(live, tmp_path, kind)
    rule = live.fault(
        "err_code", err_code="SYSTEMERROR", when="after", endpoint="micropay", times=1
    )
    outcome = till.charge(out_trade_no="BP-SYS", auth_code=code)
    assert outcome.status == "PAID", outcome.steps
    assert outcome.result["trade_state"] == "SUCCESS"  # the orderquery's answer
    assert till.waited == [5]  # the one query 5 s after the unclear answer, no second charge
    assert till.wallets == [BALANCE - FEE]  # the money moved although the answer said otherwise
    assert live.fault_rule(rule["id"])["fired"] == 1
    assert trade_state(live, till, "BP-SYS") == "SUCCESS"
    assert wallet(live, payer) == BALANCE - FEE  # paid once


def test_userpaying_the_payer_completes_later_is_polled_to_paid(
    live: Harness, tmp_path: Path, kind: str
) -> None:
    till, payer, code = start(live, tmp_path, kind)
    live.payer_outcome("pays", at_seconds=20, out_trade_no="BP-PAYS")
    outcome = till.charge(out_trade_no="BP-PAYS", auth_code=code)
    assert outcome.status == "PAID", outcome.steps
    # queried at 5 s and 15 s (USERPAYING), at 25 s the password of 20 s is in: SUCCESS
    assert till.waited == [5, 10, 10]
    assert till.wallets == [BALANCE - FEE] * 3  # booked once, at micropay (docs/testing.md)
    assert [text for _, text in outcome.steps][-1] == "PAID"
    assert trade_state(live, till, "BP-PAYS") == "SUCCESS"
    assert wallet(live, payer) == BALANCE - FEE


def test_userpaying_never_is_reversed_and_nothing_is_charged(
    live: Harness, tmp_path: Path, kind: str
) -> None:
    till, payer, code = start(live, tmp_path, kind)
    live.payer_outcome("never", out_trade_no="BP-NEVER")
    outcome = till.charge(out_trade_no="BP-NEVER", auth_code=code)
    assert outcome.status == "REVERSED", outcome.steps
    # USERPAYING at 5, 15, 25 s; at 35 s the 30 s password window is over (PAYERROR): reversed
    assert till.waited == [5, 10, 10, 10]
    assert till.wallets == [BALANCE] * 4  # never charged while waiting
    assert [text for _, text in outcome.steps][-2:] == ["orderquery: PAYERROR", "REVERSED"]
    assert trade_state(live, till, "BP-NEVER") == "REVOKED"
    assert wallet(live, payer) == BALANCE


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_reverse_answering_systemerror_once_is_retried_and_the_money_comes_back(
    live: Harness, tmp_path: Path, kind: str, when: str
) -> None:
    """The payer would type the password only at 100 s, so the charge is booked at micropay
    (docs/testing.md) and still unclear at 45 s: the flow reverses. The first reverse meets
    SYSTEMERROR (recall=Y) — refused before it ran, or after it committed — and is repeated."""
    till, payer, code = start(live, tmp_path, kind)
    live.payer_outcome("pays", at_seconds=100, out_trade_no="BP-REV")
    rule = live.fault("err_code", err_code="SYSTEMERROR", when=when, endpoint="reverse", times=1)
    outcome = till.charge(out_trade_no="BP-REV", auth_code=code)
    assert outcome.status == "REVERSED", outcome.steps
    # queries at 5…45 s (USERPAYING), reverse, a 1 s pause, reverse again
    assert till.waited == [5, 10, 10, 10, 10, 1]
    # charged while the till waited (booked at micropay); after the refused reverse, still
    # charged (before) or already given back (after: the reverse ran, only its answer was lost)
    charged_while_waiting = [BALANCE - FEE] * 5
    assert till.wallets == charged_while_waiting + [BALANCE - FEE if when == "before" else BALANCE]
    tail = [text for _, text in outcome.steps][-3:]
    assert tail[0] == "no final state after 45 s: reversing", outcome.steps
    assert tail[1].startswith("reverse failed, again: SYSTEMERROR"), outcome.steps
    assert tail[2] == "REVERSED", outcome.steps
    assert live.fault_rule(rule["id"])["fired"] == 1
    assert trade_state(live, till, "BP-REV") == "REVOKED"
    assert wallet(live, payer) == BALANCE  # reversed: the money is back


def test_a_primary_failing_mid_flow_sends_the_queries_and_the_reverse_to_the_backup(
    live: Harness, tmp_path: Path, kind: str
) -> None:
    """The failover and the helper together: micropay reaches the primary, whose orderquery
    then answers 502; the query is repeated on the backup, which the client then tries first,
    so the reverse goes there too, over mutual TLS on the backup's HTTPS address."""
    till, payer, code = start(live, tmp_path, kind)
    till.with_backup()
    live.payer_outcome("never", out_trade_no="BP-FAILOVER")
    down = live.fault("http_status", http_status=502, host="localhost:*", endpoint="orderquery")
    outcome = till.charge(out_trade_no="BP-FAILOVER", auth_code=code)
    assert outcome.status == "REVERSED", outcome.steps
    assert till.waited == [5, 10, 10, 10]
    assert [text for _, text in outcome.steps][-2:] == ["orderquery: PAYERROR", "REVERSED"]
    assert live.fault_rule(down["id"])["fired"] == 1  # only the first query met the primary
    assert trade_state(live, till, "BP-FAILOVER") == "REVOKED"
    assert wallet(live, payer) == BALANCE
