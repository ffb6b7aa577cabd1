"""The documented merchant-side micropay algorithm (spec §5.1) run against the live platform.

``pay_at_the_till`` below is what a cashier system does: submit; on USERPAYING / SYSTEMERROR /
BANKERROR (or a transport failure) poll orderquery ~5 s later and then every ~10 s; stop on a
final state; give up after 45 s; then reverse — never sooner than 15 s after the charge — while
the platform answers ``recall=Y``, at most 10 times. Waiting never sleeps: it moves the
platform's clock, and the payer's phone acts at its scheduled platform time in between.
The certificate check is relaxed (mutual TLS is tested elsewhere).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from wxpay_local.sdk import Client, FaultError, RejectedError
from wxpay_local.settings import Settings
from wxpay_local.store import SqlStore
from wxpay_local.testing import Harness, MerchantInfo

pytestmark = pytest.mark.e2e

UNKNOWN = ("USERPAYING", "SYSTEMERROR", "BANKERROR")
KEEP_POLLING = ("USERPAYING", "NOTPAY", "ACCEPT")
FIRST_POLL, POLL_INTERVAL, GIVE_UP = 5, 10, 45
MIN_REVERSE_AGE, MAX_REVERSALS, RECALL_PAUSE = 15, 10, 2
FEE_INCOME = "platform:fee_income"


@pytest.fixture
def till(store: SqlStore) -> Iterator[Harness]:
    """The live platform on each database, without the client-certificate check."""
    settings = Settings(notify_timeout_seconds=2.0, require_client_cert=False)
    with Harness.start(store, live=True, settings=settings) as harness:
        yield harness
        harness.assert_ledger_balanced()


# --- platform time and the payer's phone ---------------------------------------------------------
@dataclass
class PlatformTime:
    """Seconds since the charge, advanced on the platform clock; payer actions fire on time."""

    harness: Harness
    elapsed: int = 0
    events: dict[int, Callable[[], None]] = field(default_factory=dict)

    def at(self, second: int, action: Callable[[], None]) -> None:
        self.events[second] = action

    def sleep(self, seconds: int) -> None:
        target = self.elapsed + seconds
        for second in sorted(s for s in self.events if self.elapsed < s <= target):
            self.harness.advance(second - self.elapsed)
            self.elapsed = second
            self.events.pop(second)()
        if target > self.elapsed:
            self.harness.advance(target - self.elapsed)
        self.elapsed = target


# --- the cashier's algorithm (spec §5.1) ---------------------------------------------------------
@dataclass
class TillResult:
    outcome: str  # PAID, FAILED (definite refusal, nothing to undo) or REVERSED
    err_code: str = ""
    answer: dict[str, str] = field(default_factory=dict)
    polls: list[tuple[int, str]] = field(default_factory=list)
    recalls: list[tuple[int, str]] = field(default_factory=list)


def pay_at_the_till(
    client: Client,
    time: PlatformTime,
    order: dict[str, str | int],
    *,
    give_up_after: int = GIVE_UP,
    wait_before_reverse: bool = True,
) -> TillResult:
    out_trade_no = str(order["out_trade_no"])
    result = TillResult("UNKNOWN")
    # 1–2: submit and interpret
    try:
        result.answer = client.call("/pay/micropay", **order)
        result.outcome = "PAID"
        return result
    except RejectedError as refusal:
        result.err_code = refusal.err_code
        if refusal.err_code not in UNKNOWN:
            result.outcome = "FAILED"
            return result
    except (FaultError, httpx.HTTPError):
        pass  # the outcome is unknown
    # 3–4: poll until a final state, or give up
    wait = FIRST_POLL
    while time.elapsed + wait <= give_up_after:
        time.sleep(wait)
        wait = POLL_INTERVAL
        try:
            query = client.orderquery(out_trade_no=out_trade_no)
        except RejectedError as refusal:
            if refusal.err_code == "ORDERNOTEXIST":
                result.polls.append((time.elapsed, "ORDERNOTEXIST"))
                break
            continue  # SYSTEMERROR: keep polling
        except (FaultError, httpx.HTTPError):
            continue
        result.polls.append((time.elapsed, query["trade_state"]))
        if query["trade_state"] == "SUCCESS":
            result.outcome, result.answer = "PAID", query
            return result
        if query["trade_state"] not in KEEP_POLLING:
            break  # PAYERROR, CLOSED, REVOKED, REFUND: not paid — still reverse it
    # 5: reverse, not sooner than 15 s after the charge, while recall=Y
    if wait_before_reverse and time.elapsed < MIN_REVERSE_AGE:
        time.sleep(MIN_REVERSE_AGE - time.elapsed)
    for attempt in range(MAX_REVERSALS):
        if attempt:
            time.sleep(RECALL_PAUSE)
        try:
            answer = client.call("/secapi/pay/reverse", out_trade_no=out_trade_no)
        except RejectedError as refusal:
            answer = refusal.fields
        except (FaultError, httpx.HTTPError):
            result.recalls.append((time.elapsed, "?"))
            continue
        result.recalls.append((time.elapsed, answer.get("recall", "")))
        if answer.get("recall") != "Y":
            result.outcome = "REVERSED" if answer.get("result_code") == "SUCCESS" else "FAILED"
            result.err_code = answer.get("err_code", result.err_code)
            return result
    result.outcome = "UNRESOLVED"  # hand over to a person
    return result


# --- scenarios -----------------------------------------------------------------------------------
def open_till(
    h: Harness, policy: str, balance: int = 10_000
) -> tuple[MerchantInfo, Client, int, dict[str, str | int], PlatformTime]:
    merchant = h.merchant()
    client = h.client(merchant)
    payer = h.payer(balance=balance)["payer_id"]
    h.control("POST", f"/_local/payers/{payer}/policy", {"password_policy": policy})
    code = h.control("POST", f"/_local/payers/{payer}/codes")["auth_code"]
    order: dict[str, str | int] = {
        "body": "Test shop-Coffee",
        "out_trade_no": "TILL0001",
        "total_fee": 1800,
        "spbill_create_ip": "203.0.113.10",
        "auth_code": code,
        "device_info": "POS-01",
    }
    return merchant, client, payer, order, PlatformTime(h)


def balances(h: Harness, merchant: MerchantInfo, payer: int) -> tuple[int, int, int]:
    ledger = h.ledger()
    assert ledger["total"] == 0, ledger
    accounts = ledger["accounts"]
    return (
        accounts.get(f"payer:{payer}:wallet", 0),
        accounts.get(f"merchant:{merchant.mch_id}:basic", 0),
        accounts.get(FEE_INCOME, 0),
    )


def confirm(h: Harness, payer: int, **body: str | bool) -> Callable[[], None]:
    def act() -> None:
        answer = h.control("POST", f"/_local/payers/{payer}/confirm", body)
        assert answer["outcome"] in ("SUCCESS", "CANCELLED", "WRONG_PASSWORD"), answer

    return act


def test_a_password_free_payment_is_paid_at_once(till: Harness) -> None:
    merchant, client, payer, order, time = open_till(till, "platform")
    result = pay_at_the_till(client, time, order)
    assert result.outcome == "PAID"
    assert result.polls == [] and result.recalls == [] and time.elapsed == 0
    assert result.answer["trade_type"] == "MICROPAY" and len(result.answer["transaction_id"]) == 28
    assert balances(till, merchant, payer) == (10_000 - 1800, 1800 - 11, 11)


def test_a_late_password_ends_paid(till: Harness) -> None:
    merchant, client, payer, order, time = open_till(till, "always")
    time.at(20, confirm(till, payer, password="123456"))
    result = pay_at_the_till(client, time, order)

    assert result.err_code == "USERPAYING"
    assert result.outcome == "PAID", result
    assert result.polls == [(5, "USERPAYING"), (15, "USERPAYING"), (25, "SUCCESS")]
    assert result.recalls == []
    assert client.orderquery(out_trade_no="TILL0001")["trade_state"] == "SUCCESS"
    assert balances(till, merchant, payer) == (10_000 - 1800, 1800 - 11, 11)


def test_a_password_never_entered_is_reversed(till: Harness) -> None:
    merchant, client, payer, order, time = open_till(till, "always")
    result = pay_at_the_till(client, time, order)

    assert result.outcome == "REVERSED", result
    # USERPAYING until the 30 s password window closes, then PAYERROR, then reverse
    assert result.polls == [
        (5, "USERPAYING"),
        (15, "USERPAYING"),
        (25, "USERPAYING"),
        (35, "PAYERROR"),
    ]
    assert result.recalls == [(35, "N")]
    query = client.orderquery(out_trade_no="TILL0001")
    assert (query["trade_state"], query["trade_state_desc"]) == ("REVOKED", "订单已撤销")
    assert balances(till, merchant, payer) == (10_000, 0, 0)


def test_a_wrong_password_then_silence_is_reversed(till: Harness) -> None:
    merchant, client, payer, order, time = open_till(till, "always")
    time.at(8, confirm(till, payer, password="000000"))
    result = pay_at_the_till(client, time, order)
    assert result.outcome == "REVERSED"
    assert [state for _, state in result.polls][-1] == "PAYERROR"
    assert balances(till, merchant, payer) == (10_000, 0, 0)


def test_an_impatient_cashier_reverses_a_waiting_order(till: Harness) -> None:
    """A cashier that gives up after 5 s and reverses at once (ignoring the 15 s rule) is told
    recall=Y until the order is 15 s old; the payer's password afterwards pays nothing."""
    merchant, client, payer, order, time = open_till(till, "always")
    result = pay_at_the_till(client, time, order, give_up_after=5, wait_before_reverse=False)

    assert result.outcome == "REVERSED", result
    assert result.polls == [(5, "USERPAYING")]
    assert [recall for _, recall in result.recalls[:-1]] == ["Y"] * (len(result.recalls) - 1)
    assert result.recalls[0] == (5, "Y") and result.recalls[-1][1] == "N"
    assert result.recalls[-1][0] >= MIN_REVERSE_AGE and len(result.recalls) <= MAX_REVERSALS

    late = till.control("POST", f"/_local/payers/{payer}/confirm", {"password": "123456"})
    assert late["outcome"] != "SUCCESS"
    assert client.orderquery(out_trade_no="TILL0001")["trade_state"] == "REVOKED"
    assert balances(till, merchant, payer) == (10_000, 0, 0)


def test_a_definite_refusal_is_neither_polled_nor_reversed(till: Harness) -> None:
    merchant, client, payer, order, time = open_till(till, "platform", balance=1000)
    result = pay_at_the_till(client, time, order)
    assert (result.outcome, result.err_code) == ("FAILED", "NOTENOUGH")
    assert result.polls == [] and result.recalls == [] and time.elapsed == 0
    with pytest.raises(RejectedError) as caught:
        client.orderquery(out_trade_no="TILL0001")
    assert caught.value.err_code == "ORDERNOTEXIST"
    assert balances(till, merchant, payer) == (1000, 0, 0)
