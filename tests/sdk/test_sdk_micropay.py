"""The micropay best practice (spec §5.1, §5.2) as one call, against a scripted platform; the
waits go through an injected sleep that records them (no wall-clock waiting)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from scripted import APPID, DROP, KEY, MCH_ID, Scripted, ok, refused

from wxpay_sdk import AsyncClient, Client, Timings
from wxpay_sdk.models import MicropayArgs

pytestmark = pytest.mark.e2e

MICROPAY, QUERY, REVERSE = "/pay/micropay", "/pay/orderquery", "/secapi/pay/reverse"
ORDER: MicropayArgs = {
    "body": "Cafe-Latte",
    "out_trade_no": "MP-1",
    "total_fee": 1800,
    "spbill_create_ip": "203.0.113.10",
    "auth_code": "134567890123456789",
}


def state(trade_state: str) -> dict[str, object]:
    return ok(trade_state=trade_state, out_trade_no="MP-1", total_fee="1800")


class Waits(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def waits() -> Waits:
    return Waits()


@pytest.fixture
def platform() -> Iterator[Scripted]:
    with Scripted() as p:
        yield p


@pytest.fixture
def till(platform: Scripted) -> Iterator[Client]:
    with Client(mch_id=MCH_ID, api_key=KEY, appid=APPID, base_url=platform.url) as client:
        yield client


def test_paid_at_once(platform: Scripted, till: Client, waits: Waits) -> None:
    platform.script[MICROPAY] = [ok(total_fee="1800", transaction_id="4200")]
    outcome = till.micropay_best_practice(sleep=waits, **ORDER)
    assert (outcome.status, outcome.result["transaction_id"]) == ("PAID", "4200")
    assert (platform.paths(), waits) == ([MICROPAY], [])


def test_userpaying_polls_5_s_then_every_10_s_until_paid(
    platform: Scripted, till: Client, waits: Waits
) -> None:
    platform.script[MICROPAY] = [refused("USERPAYING", "需要用户输入支付密码")]
    platform.script[QUERY] = [state("USERPAYING"), state("USERPAYING"), state("SUCCESS")]
    outcome = till.micropay_best_practice(sleep=waits, **ORDER)
    assert outcome.paid
    assert waits == [5, 10, 10]
    assert platform.paths() == [MICROPAY, QUERY, QUERY, QUERY]
    assert platform.requests[1].fields["out_trade_no"] == "MP-1"


def test_still_unclear_after_45_s_is_reversed_and_reverse_repeats_on_recall(
    platform: Scripted, till: Client, waits: Waits
) -> None:
    platform.script[MICROPAY] = [refused("SYSTEMERROR", "系统超时")]
    platform.script[QUERY] = [state("USERPAYING")]
    platform.script[REVERSE] = [ok(recall="Y"), refused("SYSTEMERROR"), ok(recall="N")]
    outcome = till.micropay_best_practice(sleep=waits, **ORDER)
    assert outcome.status == "REVERSED"
    assert waits == [5, 10, 10, 10, 10, 1, 1]  # queries at 5…45 s, then reverse, pause, again
    assert platform.paths() == [MICROPAY] + [QUERY] * 5 + [REVERSE] * 3
    assert [text for _, text in outcome.steps][-1] == "REVERSED"


def test_payerror_is_reversed_but_never_within_15_s(
    platform: Scripted, till: Client, waits: Waits
) -> None:
    platform.script[MICROPAY] = [refused("BANKERROR")]
    platform.script[QUERY] = [state("PAYERROR")]
    platform.script[REVERSE] = [ok(recall="N")]
    outcome = till.micropay_best_practice(sleep=waits, **ORDER)
    assert outcome.status == "REVERSED"
    assert waits == [5, 10]  # the query at 5 s, the reverse at 15 s
    assert platform.paths() == [MICROPAY, QUERY, REVERSE]


def test_no_answer_then_no_order_means_nothing_charged(
    platform: Scripted, till: Client, waits: Waits
) -> None:
    platform.script[MICROPAY] = [DROP]
    platform.script[QUERY] = [refused("ORDERNOTEXIST", "此交易订单号不存在")]
    outcome = till.micropay_best_practice(sleep=waits, **ORDER)
    assert (outcome.status, outcome.err_code) == ("FAILED", "ORDERNOTEXIST")
    assert platform.paths() == [MICROPAY, QUERY]


def test_a_definite_refusal_is_not_queried(platform: Scripted, till: Client, waits: Waits) -> None:
    platform.script[MICROPAY] = [refused("NOTENOUGH", "余额不足")]
    outcome = till.micropay_best_practice(sleep=waits, **ORDER)
    assert (outcome.status, outcome.err_code) == ("FAILED", "NOTENOUGH")
    assert (platform.paths(), waits) == ([MICROPAY], [])


def test_a_refused_reversal_is_left_for_a_person(
    platform: Scripted, till: Client, waits: Waits
) -> None:
    platform.script[MICROPAY] = [refused("USERPAYING")]
    platform.script[QUERY] = [state("USERPAYING")]
    platform.script[REVERSE] = [refused("REVERSE_EXPIRE", "订单已经超过撤销时间")]
    outcome = till.micropay_best_practice(sleep=waits, **ORDER)
    assert (outcome.status, outcome.err_code) == ("UNRESOLVED", "REVERSE_EXPIRE")


def test_timings_are_configurable_and_the_async_client_runs_the_same_flow(
    platform: Scripted,
) -> None:
    platform.script[MICROPAY] = [refused("USERPAYING")]
    platform.script[QUERY] = [state("USERPAYING"), state("SUCCESS")]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async def run() -> str:
        async with AsyncClient(mch_id=MCH_ID, api_key=KEY, appid=APPID, base_url=platform.url) as c:
            timings = Timings(first_query=2, poll_interval=2, give_up_after=30)
            outcome = await c.micropay_best_practice(timings=timings, sleep=sleep, **ORDER)
            return outcome.status

    assert asyncio.run(run()) == "PAID"
    assert slept == [2, 2]
