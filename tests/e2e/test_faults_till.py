"""Every branch of the merchant's micropay algorithm (spec §5.1), driven by the third-party
``wechatpy`` client over real sockets and mutual TLS, with fault rules making the platform take
the paths real money rarely takes; the ledger is checked after each.

The cashier below is what a till does with wechatpy: submit; on USERPAYING / SYSTEMERROR /
BANKERROR or no answer, query 5 s later and then every 10 s up to 45 s; then reverse, never
sooner than 15 s after the charge, again while the platform answers recall=Y or an error.
Waiting moves the platform clock instead of sleeping.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from wechatpy.exceptions import WeChatPayException  # type: ignore[import-untyped]
from wechatpy.pay import WeChatPay  # type: ignore[import-untyped]
from wechatpy_support import mtls_wechatpy

from wxpay_local.store import SqlStore
from wxpay_local.testing import Harness, MerchantInfo

pytestmark = pytest.mark.e2e

CLIENT_IP = "203.0.113.10"
UNKNOWN = ("USERPAYING", "SYSTEMERROR", "BANKERROR")
FEE = 11  # 0.6 % of 18.00 CNY, rounded


@pytest.fixture
def mtls(store: SqlStore) -> Iterator[Harness]:
    """The live platform with the client-certificate check on (the default)."""
    with Harness.start(store, live=True) as harness:
        yield harness
        harness.assert_ledger_balanced()


@dataclass
class Till:
    h: Harness
    client: WeChatPay
    merchant: MerchantInfo
    payer: int
    elapsed: int = 0
    events: dict[int, Callable[[], None]] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)

    def sleep(self, seconds: int) -> None:
        target = self.elapsed + seconds
        for second in sorted(s for s in self.events if self.elapsed < s <= target):
            self.h.advance(second - self.elapsed)
            self.elapsed = second
            self.events.pop(second)()
        if target > self.elapsed:
            self.h.advance(target - self.elapsed)
        self.elapsed = target

    def balances(self) -> tuple[int, int]:
        accounts = self.h.ledger()["accounts"]
        return (
            accounts.get(f"payer:{self.payer}:wallet", 0),
            accounts.get(f"merchant:{self.merchant.mch_id}:basic", 0),
        )

    def pay(self, out_trade_no: str) -> str:
        """The algorithm; returns PAID, FAILED or REVERSED and logs every step."""
        code = self.h.control("POST", f"/_local/payers/{self.payer}/codes")["auth_code"]
        try:
            self.client.micropay.create(
                body="Test shop-Coffee",
                total_fee=1800,
                auth_code=code,
                client_ip=CLIENT_IP,
                out_trade_no=out_trade_no,
            )
            self.log.append("micropay SUCCESS")
            return "PAID"
        except WeChatPayException as refused:
            self.log.append(f"micropay {refused.errcode or refused.return_msg}")
            if refused.errcode not in UNKNOWN and refused.return_code == "SUCCESS":
                return "FAILED"
        except requests.RequestException as lost:
            self.log.append(f"micropay no answer ({type(lost).__name__})")
        wait = 5
        while self.elapsed + wait <= 45:
            self.sleep(wait)
            wait = 10
            try:
                state = self.client.order.query(out_trade_no=out_trade_no)["trade_state"]
            except (WeChatPayException, requests.RequestException):
                self.log.append(f"{self.elapsed}s query failed")
                continue
            self.log.append(f"{self.elapsed}s query {state}")
            if state == "SUCCESS":
                return "PAID"
            if state not in ("USERPAYING", "NOTPAY"):
                break
        if self.elapsed < 15:
            self.sleep(15 - self.elapsed)
        for _ in range(10):
            try:
                self.client.order.reverse(out_trade_no=out_trade_no)
                self.log.append(f"{self.elapsed}s reverse SUCCESS")
                return "REVERSED"
            except WeChatPayException as refused:
                recall = "Y" if b"<recall><![CDATA[Y]]>" in refused.response.content else "N"
                self.log.append(f"{self.elapsed}s reverse {refused.errcode} recall={recall}")
                if recall != "Y":
                    return "FAILED"
            except requests.RequestException:
                self.log.append(f"{self.elapsed}s reverse no answer")
            self.sleep(2)
        return "UNRESOLVED"


def open_till(h: Harness, tmp_path: Path, policy: str = "platform") -> Till:
    merchant = h.merchant()
    client = mtls_wechatpy(h, merchant, tmp_path, timeout=5)
    payer = h.payer(balance=10_000)["payer_id"]
    h.control("POST", f"/_local/payers/{payer}/policy", {"password_policy": policy})
    return Till(h, client, merchant, payer)


@pytest.fixture
def till(mtls: Harness, tmp_path: Path) -> Iterator[Callable[[str], Till]]:
    made: list[Till] = []

    def make(policy: str = "platform") -> Till:
        made.append(open_till(mtls, tmp_path, policy))
        return made[-1]

    yield make
    for t in made:
        t.client._http.close()


def test_success(till: Callable[[str], Till]) -> None:
    t = till("platform")
    assert t.pay("TILL-OK") == "PAID"
    assert t.log == ["micropay SUCCESS"]
    assert t.balances() == (10_000 - 1800, 1800 - FEE)


def test_systemerror_then_query_finds_the_payment(till: Callable[[str], Till]) -> None:
    t = till("platform")
    t.h.fault("err_code", err_code="SYSTEMERROR", when="after", endpoint="micropay", times=1)
    assert t.pay("TILL-SYS") == "PAID"
    assert t.log == ["micropay SYSTEMERROR", "5s query SUCCESS"]
    assert t.balances() == (10_000 - 1800, 1800 - FEE)


def test_systemerror_before_commit_is_reversed_and_costs_nothing(
    till: Callable[[str], Till],
) -> None:
    t = till("platform")
    t.h.fault("err_code", err_code="SYSTEMERROR", endpoint="micropay", times=1)
    assert t.pay("TILL-SYS-0") == "FAILED"  # nothing to reverse: the order does not exist
    assert t.log[0] == "micropay SYSTEMERROR" and t.log[1] == "5s query failed"
    assert t.log[-1] == "45s reverse INVALID_TRANSACTIONID recall=N"
    assert t.balances() == (10_000, 0)


def test_userpaying_then_polling_until_paid(till: Callable[[str], Till]) -> None:
    t = till("always")
    t.events[12] = lambda: t.h.control(
        "POST", f"/_local/payers/{t.payer}/confirm", {"password": "123456"}
    )
    assert t.pay("TILL-WAIT") == "PAID"
    assert t.log == ["micropay USERPAYING", "5s query USERPAYING", "15s query SUCCESS"]
    assert t.balances() == (10_000 - 1800, 1800 - FEE)


def test_userpaying_until_timeout_then_reverse(till: Callable[[str], Till]) -> None:
    t = till("always")
    assert t.pay("TILL-GONE") == "REVERSED"
    assert t.log[:4] == [
        "micropay USERPAYING",
        "5s query USERPAYING",
        "15s query USERPAYING",
        "25s query USERPAYING",
    ]
    assert t.log[-2:] == ["35s query PAYERROR", "35s reverse SUCCESS"]
    assert t.client.order.query(out_trade_no="TILL-GONE")["trade_state"] == "REVOKED"
    assert t.balances() == (10_000, 0)


def test_reverse_fails_once_then_succeeds(till: Callable[[str], Till]) -> None:
    t = till("platform")
    t.h.fault("reset", when="after", endpoint="micropay", times=1)
    t.h.fault("err_code", err_code="SYSTEMERROR", endpoint="orderquery")  # query never helps
    t.h.fault("err_code", err_code="SYSTEMERROR", endpoint="reverse", times=1)
    assert t.pay("TILL-REV") == "REVERSED"
    assert t.log[-2:] == ["45s reverse SYSTEMERROR recall=Y", "47s reverse SUCCESS"]
    t.h.clear_faults()
    assert t.client.order.query(out_trade_no="TILL-REV")["trade_state"] == "REVOKED"
    assert t.balances() == (10_000, 0)  # paid, then refunded in full by the reversal


def test_the_lost_answer_payment(till: Callable[[str], Till]) -> None:
    t = till("platform")
    rule = t.h.fault("reset", when="after", endpoint="micropay", times=1)
    assert t.pay("TILL-LOST") == "PAID"
    assert t.log[0].startswith("micropay no answer") and t.log[1:] == ["5s query SUCCESS"]
    assert t.h.fault_rule(rule["id"])["fired"] == 1
    assert t.balances() == (10_000 - 1800, 1800 - FEE)
