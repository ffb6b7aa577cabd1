"""Scripted payer outcomes (issue 12, part 2) over a real socket with the SDK as the client.

``POST /_local/payer-outcomes`` says what the payer does at the next matching micropay; the
platform clock decides when. Expected texts are the platform's (spec §4.1 err_code table,
§5.4): 需要用户输入支付密码 for USERPAYING, 余额不足 / 银行系统异常 / 付款码已过期.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from till_support import micropay, shop

from wxpay_local.sdk import Client, RejectedError
from wxpay_local.settings import Settings
from wxpay_local.store import SqlStore
from wxpay_local.testing import Harness

pytestmark = pytest.mark.api

PASSWORD_PROMPT = "需要用户输入支付密码"


@pytest.fixture
def h(store: SqlStore) -> Iterator[Harness]:
    settings = Settings(require_client_cert=False)
    with Harness.start(store, live=True, settings=settings) as harness:
        yield harness
        harness.assert_ledger_balanced()


def refused(h: Harness, client: Client, payer: int, out_trade_no: str) -> RejectedError:
    with pytest.raises(RejectedError) as caught:
        micropay(h, client, payer, out_trade_no)
    return caught.value


def wallet(h: Harness, payer: int) -> int:
    return int(h.ledger()["accounts"].get(f"payer:{payer}:wallet", 0))


def state(client: Client, out_trade_no: str) -> str:
    return client.orderquery(out_trade_no=out_trade_no)["trade_state"]


def test_the_payer_enters_the_password_after_20_seconds(h: Harness) -> None:
    _, client, payer = shop(h)
    h.payer_outcome("pays", at_seconds=20, out_trade_no="S-PAYS-1")
    answer = refused(h, client, payer, "S-PAYS-1")
    assert (answer.err_code, answer.fields["err_code_des"]) == ("USERPAYING", PASSWORD_PROMPT)
    h.advance(19)
    assert state(client, "S-PAYS-1") == "USERPAYING"
    h.advance(2)
    paid = client.orderquery(out_trade_no="S-PAYS-1")
    assert paid["trade_state"] == "SUCCESS"
    assert paid["transaction_id"]
    assert wallet(h, payer) == 10_000 - 1800


def test_the_rule_fires_once_by_default(h: Harness) -> None:
    _, client, payer = shop(h)
    h.payer_outcome("never")
    assert refused(h, client, payer, "S-ONCE-1").err_code == "USERPAYING"
    assert micropay(h, client, payer, "S-ONCE-2")["result_code"] == "SUCCESS"


def test_a_payer_who_never_answers_fails_when_the_window_ends(h: Harness) -> None:
    _, client, payer = shop(h)
    h.payer_outcome("never", out_trade_no="S-NEVER-*")
    assert refused(h, client, payer, "S-NEVER-1").err_code == "USERPAYING"
    h.advance(29)
    assert state(client, "S-NEVER-1") == "USERPAYING"
    h.advance(2)
    assert state(client, "S-NEVER-1") == "PAYERROR"
    assert wallet(h, payer) == 10_000


def test_three_wrong_passwords_fail_the_order(h: Harness) -> None:
    _, client, payer = shop(h)
    h.payer_outcome("wrong_password", at_seconds=8)
    assert refused(h, client, payer, "S-WRONG-1").err_code == "USERPAYING"
    h.advance(9)
    assert state(client, "S-WRONG-1") == "PAYERROR"
    assert wallet(h, payer) == 10_000


@pytest.mark.parametrize(
    ("outcome", "err_code", "des"),
    [
        ("notenough", "NOTENOUGH", "101 余额不足"),
        ("bankerror", "BANKERROR", "银行系统异常"),
        ("code_expired", "AUTHCODEEXPIRE", "101 付款码已过期，请退出重试"),
    ],
)
def test_refusing_outcomes_answer_the_platforms_refusal_and_create_no_order(
    h: Harness, outcome: str, err_code: str, des: str
) -> None:
    _, client, payer = shop(h)
    h.payer_outcome(outcome, total_fee=1800)
    answer = refused(h, client, payer, "S-REFUSE-1")
    assert (answer.err_code, answer.fields["err_code_des"]) == (err_code, des)
    with pytest.raises(RejectedError) as missing:
        client.orderquery(out_trade_no="S-REFUSE-1")
    assert missing.value.err_code == "ORDERNOTEXIST"
    assert wallet(h, payer) == 10_000


def test_reversing_before_the_payer_answers_gives_the_money_back(h: Harness) -> None:
    _, client, payer = shop(h)
    h.payer_outcome("pays", at_seconds=60)
    refused(h, client, payer, "S-REV-1")
    h.advance(16)
    assert client.call("/secapi/pay/reverse", out_trade_no="S-REV-1")["recall"] == "N"
    h.advance(60)
    assert state(client, "S-REV-1") == "REVOKED"
    assert wallet(h, payer) == 10_000


def test_an_unknown_outcome_is_a_400(h: Harness) -> None:
    answer = h.http.post(h.base_url + "/_local/payer-outcomes", json={"outcome": "maybe"})
    assert answer.status_code == 400
