"""付款码支付 micropay: the synchronous answer, every refusal, repeats and the password prompt.

Spec §4.1 (request, answer, err_code table), §5.3 (repeated requests with one out_trade_no) and
§5.4 (USERPAYING → SUCCESS / PAYERROR, the ~30 s password window). The payer's phone is the
control plane: ``POST /_local/payers/{id}/codes`` shows a payment code, ``/confirm`` answers the
password prompt, ``/policy`` decides when the prompt appears.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest

from wxpay_local.codes import SignType
from wxpay_local.sdk import Client, FaultError, RejectedError
from wxpay_local.testing import Harness, MerchantInfo

pytestmark = pytest.mark.api

FEE_RATE_PPM = 6000  # a new merchant's rate: 0.6 %, rounded half up to the fen
FEE_INCOME = "platform:fee_income"
USED_CODE = "101 每个二维码仅限使用一次，请刷新再试"
PASSWORD_PROMPT = "需要用户输入支付密码"


# --- helpers ----------------------------------------------------------------------------------
def fee(amount: int) -> int:
    return (amount * FEE_RATE_PPM + 500_000) // 1_000_000


def new_code(h: Harness, payer_id: int) -> str:
    answer = h.control("POST", f"/_local/payers/{payer_id}/codes")
    assert re.fullmatch(r"1[0-5]\d{16}", answer["auth_code"]), answer
    return str(answer["auth_code"])


def charge(
    client: Client, auth_code: str, out_trade_no: str, total_fee: int = 1800, **extra: Any
) -> dict[str, str]:
    return client.call(
        "/pay/micropay",
        body="Test shop-Coffee",
        out_trade_no=out_trade_no,
        total_fee=total_fee,
        spbill_create_ip="203.0.113.10",
        auth_code=auth_code,
        **extra,
    )


def pay_now(
    h: Harness, client: Client, payer_id: int, out_trade_no: str, total_fee: int = 1800
) -> dict[str, str]:
    """Charge a fresh code of the payer."""
    return charge(client, new_code(h, payer_id), out_trade_no, total_fee)


def refused(client: Client, auth_code: str, out_trade_no: str, **extra: Any) -> RejectedError:
    with pytest.raises(RejectedError) as caught:
        charge(client, auth_code, out_trade_no, **extra)
    return caught.value


def query_refused(client: Client, out_trade_no: str) -> str:
    with pytest.raises(RejectedError) as caught:
        client.orderquery(out_trade_no=out_trade_no)
    return caught.value.err_code


def accounts(h: Harness) -> dict[str, int]:
    ledger = h.ledger()
    assert ledger["total"] == 0, ledger
    return dict(ledger["accounts"])


def wallet(h: Harness, payer_id: int) -> int:
    return accounts(h).get(f"payer:{payer_id}:wallet", 0)


def basic(h: Harness, merchant: MerchantInfo) -> int:
    return accounts(h).get(f"merchant:{merchant.mch_id}:basic", 0)


def set_policy(h: Harness, payer_id: int, policy: str) -> None:
    answer = h.control("POST", f"/_local/payers/{payer_id}/policy", {"password_policy": policy})
    assert answer["password_policy"] == policy


def confirm(h: Harness, payer_id: int, **body: Any) -> dict[str, Any]:
    result: dict[str, Any] = h.control("POST", f"/_local/payers/{payer_id}/confirm", body)
    return result


def pending(h: Harness, payer_id: int) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = h.control("GET", f"/_local/payers/{payer_id}/pending")["orders"]
    return result


def platform_now(h: Harness) -> datetime:
    return datetime.fromisoformat(h.control("GET", "/_local/clock")["now"])


def waiting_order(
    h: Harness, client: Client, payer_id: int, out_trade_no: str, total_fee: int = 1800
) -> str:
    """A micropay that asks for the password; returns the code it was charged with."""
    auth_code = new_code(h, payer_id)
    caught = refused(client, auth_code, out_trade_no, total_fee=total_fee)
    assert (caught.err_code, caught.err_code_des) == ("USERPAYING", PASSWORD_PROMPT)
    return auth_code


# --- success without password -----------------------------------------------------------------
@pytest.mark.parametrize("sign_type", [SignType.MD5, SignType.HMAC_SHA256])
def test_password_free_micropay_pays_at_once_and_sends_no_notification(
    platform: Harness, sign_type: SignType
) -> None:
    merchant = platform.merchant()
    client = platform.client(merchant, sign_type=sign_type)
    payer = platform.payer(balance=10_000)["payer_id"]
    fee_income = accounts(platform).get(FEE_INCOME, 0)
    before = platform_now(platform)

    answer = charge(
        client, new_code(platform, payer), "MP1001", attach="table=7", device_info="POS-01"
    )

    assert answer["return_code"] == "SUCCESS" and answer["result_code"] == "SUCCESS"
    assert answer["appid"] == client.appid and answer["mch_id"] == merchant.mch_id
    assert answer["device_info"] == "POS-01"
    assert answer["openid"] == platform.openid(payer, client.appid)
    assert answer["is_subscribe"] == "N"
    assert answer["trade_type"] == "MICROPAY"
    assert answer["bank_type"] == "OTHERS"
    assert answer["total_fee"] == "1800" and answer["cash_fee"] == "1800"
    assert answer.get("fee_type", "CNY") == "CNY"
    assert re.fullmatch(r"\d{28}", answer["transaction_id"]), answer
    assert answer["out_trade_no"] == "MP1001"
    assert answer["attach"] == "table=7"
    time_end = datetime.strptime(answer["time_end"], "%Y%m%d%H%M%S").replace(tzinfo=before.tzinfo)
    assert before - timedelta(seconds=1) <= time_end <= platform_now(platform)
    for absent in ("err_code", "err_code_des", "prepay_id", "trade_state"):
        assert absent not in answer

    assert wallet(platform, payer) == 10_000 - 1800
    assert basic(platform, merchant) == 1800 - fee(1800)
    assert accounts(platform)[FEE_INCOME] == fee_income + fee(1800)

    query = client.orderquery(out_trade_no="MP1001")
    assert query["trade_type"] == "MICROPAY"
    assert (query["trade_state"], query["trade_state_desc"]) == ("SUCCESS", "支付成功")
    assert query["transaction_id"] == answer["transaction_id"]
    assert query["openid"] == answer["openid"]
    assert query["time_end"] == answer["time_end"]
    assert client.orderquery(transaction_id=answer["transaction_id"])["out_trade_no"] == "MP1001"

    platform.dispatch()  # nothing is due: micropay has no notify_url (spec §4.1)
    assert platform.notifications(merchant.mch_id) == []


def test_password_policy_never_pays_large_amounts_directly(platform: Harness) -> None:
    merchant = platform.merchant()
    client = platform.client(merchant)
    payer = platform.payer(balance=500_000)["payer_id"]
    set_policy(platform, payer, "never")
    answer = charge(client, new_code(platform, payer), "MPBIG", total_fee=300_000)
    assert answer["result_code"] == "SUCCESS"
    assert wallet(platform, payer) == 200_000


# --- the payment code ----------------------------------------------------------------------------
def test_a_code_that_is_not_a_wechat_payment_code_is_auth_code_invalid(platform: Harness) -> None:
    """18 ASCII digits starting 10–15 (spec §4.1, regex ^1[0-5]\\d{16}$); anything else is not
    a WeChat code — other wallets use other prefixes (Alipay 25–30)."""
    merchant = platform.merchant()
    client = platform.client(merchant)
    payer = platform.payer()["payer_id"]
    real = new_code(platform, payer)
    bad_codes = [
        real[:17],  # 17 digits
        real + "0",  # 19 digits
        "160000000000000001",  # prefix 16
        "190000000000000001",  # prefix 19
        "090000000000000001",  # prefix 09
        "280000000000000001",  # an Alipay code
        "13abcdefghijklmnop",  # letters
        real[:17] + "x",
        " " + real[1:],
    ]
    for number, bad in enumerate(bad_codes):
        caught = refused(client, bad, f"MPBAD{number}")
        assert caught.err_code == "AUTH_CODE_INVALID", (bad, caught)
        assert caught.err_code_des
        assert query_refused(client, f"MPBAD{number}") == "ORDERNOTEXIST"
    # none of this touched the payer's real code
    assert charge(client, real, "MPGOOD")["result_code"] == "SUCCESS"
    # "digits" are ASCII digits: a scanner never produces full-width or Arabic-Indic ones
    for number, bad in enumerate(["13" + "１２３４５６７８９０１２３４５６", "13" + "٣" * 16]):
        caught = refused(client, bad, f"MPWIDE{number}")
        assert caught.err_code == "AUTH_CODE_INVALID", (bad, caught)


def test_unknown_and_used_codes_are_auth_code_error(platform: Harness) -> None:
    merchant = platform.merchant()
    other = platform.merchant(name="Other shop")
    client, other_client = platform.client(merchant), platform.client(other)
    payer = platform.payer()["payer_id"]
    code = new_code(platform, payer)
    unknown = ("13" if not code.startswith("13") else "14") + code[2:]

    caught = refused(client, unknown, "MPUNKNOWN")
    assert caught.err_code == "AUTH_CODE_ERROR"
    assert query_refused(client, "MPUNKNOWN") == "ORDERNOTEXIST"

    charge(client, code, "MPFIRST")
    wallet_after = wallet(platform, payer)
    for who, out_trade_no in ((client, "MPSECOND"), (other_client, "MPTHIRD")):
        caught = refused(who, code, out_trade_no)
        assert (caught.err_code, caught.err_code_des) == ("AUTH_CODE_ERROR", USED_CODE)
        assert query_refused(who, out_trade_no) == "ORDERNOTEXIST"
    assert wallet(platform, payer) == wallet_after


def test_a_code_expires_after_one_minute(platform: Harness) -> None:
    merchant = platform.merchant()
    client = platform.client(merchant)
    payer = platform.payer()["payer_id"]
    fresh, stale = new_code(platform, payer), new_code(platform, payer)
    platform.advance(50)
    assert charge(client, fresh, "MPFRESH")["result_code"] == "SUCCESS"
    platform.advance(11)
    caught = refused(client, stale, "MPSTALE")
    assert caught.err_code == "AUTHCODEEXPIRE"
    assert caught.err_code_des == "101 付款码已过期，请退出重试"
    assert query_refused(client, "MPSTALE") == "ORDERNOTEXIST"
    assert wallet(platform, payer) == 100_000 - 1800


def test_not_enough_balance_creates_no_order_and_keeps_the_code(platform: Harness) -> None:
    """NOTENOUGH is a definite failure: no order exists afterwards (orderquery ORDERNOTEXIST) and
    nothing is charged. The code is *not* used up — the payer tops up the wallet and the cashier
    scans the same code again (same out_trade_no) within its minute, which is what a payer at a
    till expects and what docs/behaviour.md promises."""
    merchant = platform.merchant()
    client = platform.client(merchant)
    payer = platform.payer(balance=500)["payer_id"]
    code = new_code(platform, payer)

    caught = refused(client, code, "MPPOOR")
    assert caught.err_code == "NOTENOUGH"
    assert query_refused(client, "MPPOOR") == "ORDERNOTEXIST"
    assert wallet(platform, payer) == 500

    platform.control("POST", f"/_local/payers/{payer}/topup", {"amount": 2000})
    answer = charge(client, code, "MPPOOR")
    assert answer["result_code"] == "SUCCESS"
    assert wallet(platform, payer) == 2500 - 1800
    assert client.orderquery(out_trade_no="MPPOOR")["trade_state"] == "SUCCESS"


# --- refusals for an out_trade_no that already exists (spec §5.3) ------------------------------
def test_another_payers_code_on_the_same_order_is_buyer_mismatch(platform: Harness) -> None:
    merchant = platform.merchant()
    client = platform.client(merchant)
    alice, bob = platform.payer()["payer_id"], platform.payer()["payer_id"]
    set_policy(platform, alice, "always")
    waiting_order(platform, client, alice, "MPWAIT")
    charge(client, new_code(platform, bob), "MPPAID")  # Bob paid MPPAID himself

    bobs_code = new_code(platform, bob)
    caught = refused(client, bobs_code, "MPWAIT")
    assert caught.err_code == "BUYER_MISMATCH"
    alices_code = new_code(platform, alice)
    assert refused(client, alices_code, "MPPAID").err_code == "BUYER_MISMATCH"

    assert client.orderquery(out_trade_no="MPWAIT")["trade_state"] == "USERPAYING"
    assert wallet(platform, bob) == 100_000 - 1800
    # a refused code is not used up: Bob pays a fresh order with it
    assert charge(client, bobs_code, "MPBOB2")["result_code"] == "SUCCESS"


def test_a_paid_order_refuses_a_different_code_or_amount_with_orderpaid(
    platform: Harness,
) -> None:
    merchant = platform.merchant()
    client = platform.client(merchant)
    payer = platform.payer()["payer_id"]
    code = new_code(platform, payer)
    charge(client, code, "MPPAID")
    after = accounts(platform)

    assert refused(client, new_code(platform, payer), "MPPAID").err_code == "ORDERPAID"
    assert refused(client, code, "MPPAID", total_fee=1900).err_code == "ORDERPAID"
    assert accounts(platform) == after


def test_an_out_trade_no_of_a_unifiedorder_order_is_out_trade_no_used(platform: Harness) -> None:
    merchant = platform.merchant()
    client = platform.client(merchant)
    payer = platform.payer()["payer_id"]
    client.unifiedorder(
        body="Test shop-Coffee",
        out_trade_no="NATIVE001",
        total_fee=1800,
        spbill_create_ip="203.0.113.10",
        notify_url="http://127.0.0.1:9/notify",
        trade_type="NATIVE",
        product_id="latte",
    )
    code = new_code(platform, payer)
    assert refused(client, code, "NATIVE001").err_code == "OUT_TRADE_NO_USED"
    query = client.orderquery(out_trade_no="NATIVE001")
    assert query["trade_state"] == "NOTPAY"
    assert "trade_type" not in query, "spec §4.3: trade_type is a paid-order field"
    assert wallet(platform, payer) == 100_000
    assert charge(client, code, "MP0002")["result_code"] == "SUCCESS"  # the code is still good


def test_a_different_amount_for_a_waiting_order_is_invalid_request(platform: Harness) -> None:
    merchant = platform.merchant()
    client = platform.client(merchant)
    payer = platform.payer()["payer_id"]
    set_policy(platform, payer, "always")
    code = waiting_order(platform, client, payer, "MPWAIT")

    caught = refused(client, code, "MPWAIT", total_fee=1900)
    assert caught.err_code == "INVALID_REQUEST"
    query = client.orderquery(out_trade_no="MPWAIT")
    assert (query["trade_state"], query["total_fee"]) == ("USERPAYING", "1800")
    assert len(pending(platform, payer)) == 1


def test_a_failed_order_refuses_any_new_attempt_with_trade_error(platform: Harness) -> None:
    merchant = platform.merchant()
    client = platform.client(merchant)
    payer = platform.payer()["payer_id"]
    set_policy(platform, payer, "always")
    code = waiting_order(platform, client, payer, "MPFAIL")
    assert confirm(platform, payer, cancel=True)["outcome"] == "CANCELLED"

    assert refused(client, code, "MPFAIL").err_code == "TRADE_ERROR"
    set_policy(platform, payer, "never")
    assert refused(client, new_code(platform, payer), "MPFAIL").err_code == "TRADE_ERROR"
    assert client.orderquery(out_trade_no="MPFAIL")["trade_state"] == "PAYERROR"
    assert wallet(platform, payer) == 100_000


def test_time_expire_must_be_at_least_a_minute_after_the_start(platform: Harness) -> None:
    merchant = platform.merchant()
    client = platform.client(merchant)
    payer = platform.payer()["payer_id"]
    code = new_code(platform, payer)
    start = platform_now(platform).replace(microsecond=0)

    def stamp(at: datetime) -> str:
        return at.strftime("%Y%m%d%H%M%S")

    caught = refused(
        client,
        code,
        "MPSHORT",
        time_start=stamp(start),
        time_expire=stamp(start + timedelta(seconds=59)),
    )
    assert caught.err_code == "PARAM_ERROR"
    caught = refused(client, code, "MPSHORT2", time_expire=stamp(start + timedelta(seconds=30)))
    assert caught.err_code == "PARAM_ERROR"
    assert query_refused(client, "MPSHORT") == "ORDERNOTEXIST"
    answer = charge(
        client,
        code,
        "MPMINUTE",
        time_start=stamp(start),
        time_expire=stamp(start + timedelta(minutes=1)),
    )
    assert answer["result_code"] == "SUCCESS"


def test_a_missing_auth_code_fails_at_the_protocol_layer(platform: Harness) -> None:
    merchant = platform.merchant()
    client = platform.client(merchant)
    with pytest.raises(FaultError) as caught:
        client.call(
            "/pay/micropay",
            body="Test shop-Coffee",
            out_trade_no="MPNOCODE",
            total_fee=1800,
            spbill_create_ip="203.0.113.10",
        )
    assert caught.value.return_msg == "缺少参数"
    assert "sign" not in caught.value.fields and "result_code" not in caught.value.fields


# --- identical re-submissions (spec §5.3, the official Java SDK's retry loop) --------------------
def test_an_identical_resubmission_of_a_paid_micropay_replays_the_success(
    platform: Harness,
) -> None:
    merchant = platform.merchant()
    client = platform.client(merchant)
    payer = platform.payer()["payer_id"]
    code = new_code(platform, payer)
    first = charge(client, code, "MPREPEAT", attach="a1")
    after = accounts(platform)

    platform.advance(5)
    again = charge(client, code, "MPREPEAT", attach="a1")
    assert again["result_code"] == "SUCCESS"
    for name in ("transaction_id", "time_end", "openid", "total_fee", "cash_fee", "attach"):
        assert again[name] == first[name], name
    assert again["nonce_str"] != first["nonce_str"]
    assert accounts(platform) == after


def test_an_identical_resubmission_while_waiting_answers_userpaying_again(
    platform: Harness,
) -> None:
    merchant = platform.merchant()
    client = platform.client(merchant)
    payer = platform.payer()["payer_id"]
    set_policy(platform, payer, "always")
    code = waiting_order(platform, client, payer, "MPREWAIT")

    platform.advance(5)
    caught = refused(client, code, "MPREWAIT")
    assert (caught.err_code, caught.err_code_des) == ("USERPAYING", PASSWORD_PROMPT)
    assert [o["out_trade_no"] for o in pending(platform, payer)] == ["MPREWAIT"]

    assert confirm(platform, payer, password="123456")["outcome"] == "SUCCESS"
    paid = charge(client, code, "MPREWAIT")  # the Java SDK's next round sees the success
    assert paid["transaction_id"] == client.orderquery(out_trade_no="MPREWAIT")["transaction_id"]
    assert wallet(platform, payer) == 100_000 - 1800


# --- the password prompt (spec §4.1 password rules, §5.4) ----------------------------------------
def test_the_password_prompt_wrong_then_right_password(platform: Harness) -> None:
    merchant = platform.merchant()
    client = platform.client(merchant)
    payer = platform.payer(balance=10_000)["payer_id"]
    set_policy(platform, payer, "always")
    openid = platform.openid(payer, client.appid)
    waiting_order(platform, client, payer, "MPPWD")

    query = client.orderquery(out_trade_no="MPPWD")
    assert query["trade_state"] == "USERPAYING"
    assert query["trade_state_desc"] == PASSWORD_PROMPT
    assert query["openid"] == openid  # the payer is known while waiting (spec §4.3)
    assert "trade_type" not in query and "fee_type" not in query, "paid-order fields"
    assert "transaction_id" not in query and "time_end" not in query

    [shown] = pending(platform, payer)
    assert shown["out_trade_no"] == "MPPWD" and shown["mch_id"] == merchant.mch_id
    assert shown["total_fee"] == 1800 and shown["trade_state"] == "USERPAYING"
    assert shown["password_deadline"]

    wrong = confirm(platform, payer, password="000000")
    assert wrong["outcome"] == "WRONG_PASSWORD"
    assert client.orderquery(out_trade_no="MPPWD")["trade_state"] == "USERPAYING"
    assert wallet(platform, payer) == 10_000

    right = confirm(platform, payer, password="123456", out_trade_no="MPPWD")
    assert right["outcome"] == "SUCCESS" and right["order"]["trade_state"] == "SUCCESS"
    query = client.orderquery(out_trade_no="MPPWD")
    assert (query["trade_state"], query["trade_state_desc"]) == ("SUCCESS", "支付成功")
    assert query["bank_type"] == "OTHERS" and re.fullmatch(r"\d{28}", query["transaction_id"])
    assert wallet(platform, payer) == 10_000 - 1800
    assert basic(platform, merchant) == 1800 - fee(1800)
    assert pending(platform, payer) == []

    again = confirm(platform, payer, password="123456")
    assert again["outcome"] != "SUCCESS"
    assert wallet(platform, payer) == 10_000 - 1800
    platform.dispatch()
    assert platform.notifications(merchant.mch_id) == []


def test_amounts_above_1000_cny_ask_for_the_password(platform: Harness) -> None:
    merchant = platform.merchant()
    client = platform.client(merchant)
    payer = platform.payer(balance=300_000)["payer_id"]
    assert pay_now(platform, client, payer, "MP100000", 100_000)["result_code"] == "SUCCESS"
    waiting_order(platform, client, payer, "MP100001", total_fee=100_001)
    assert wallet(platform, payer) == 200_000
    assert confirm(platform, payer, password="123456")["outcome"] == "SUCCESS"
    assert wallet(platform, payer) == 200_000 - 100_001
    assert client.orderquery(out_trade_no="MP100001")["trade_state"] == "SUCCESS"


def test_cancelling_the_prompt_fails_the_order(platform: Harness) -> None:
    merchant = platform.merchant()
    client = platform.client(merchant)
    payer = platform.payer()["payer_id"]
    set_policy(platform, payer, "always")
    waiting_order(platform, client, payer, "MPCANCEL")

    answer = confirm(platform, payer, cancel=True)
    assert answer["outcome"] == "CANCELLED" and answer["order"]["trade_state"] == "PAYERROR"
    query = client.orderquery(out_trade_no="MPCANCEL")
    assert (query["trade_state"], query["trade_state_desc"]) == ("PAYERROR", "支付失败，请撤销订单")
    assert pending(platform, payer) == []
    assert wallet(platform, payer) == 100_000


def test_an_unanswered_prompt_fails_after_30_seconds(platform: Harness) -> None:
    merchant = platform.merchant()
    client = platform.client(merchant)
    payer = platform.payer()["payer_id"]
    set_policy(platform, payer, "always")
    waiting_order(platform, client, payer, "MPLATE")

    platform.advance(25)
    assert client.orderquery(out_trade_no="MPLATE")["trade_state"] == "USERPAYING"
    platform.advance(6)
    query = client.orderquery(out_trade_no="MPLATE")
    assert (query["trade_state"], query["trade_state_desc"]) == ("PAYERROR", "支付失败，请撤销订单")
    assert pending(platform, payer) == []

    late = confirm(platform, payer, password="123456", out_trade_no="MPLATE")
    assert late["outcome"] != "SUCCESS"
    assert client.orderquery(out_trade_no="MPLATE")["trade_state"] == "PAYERROR"
    assert wallet(platform, payer) == 100_000
    assert late["outcome"] == "ORDER_CLOSED", late  # not "no such order": the window closed


def test_the_eleventh_password_free_payment_of_the_day_asks_for_the_password(
    platform: Harness,
) -> None:
    merchant = platform.merchant()
    client = platform.client(merchant)
    payer = platform.payer()["payer_id"]
    # mid-morning in Beijing, so that the day cannot roll over during the test
    tomorrow = (platform_now(platform) + timedelta(days=1)).date()
    platform.control("POST", "/_local/clock", {"now": f"{tomorrow.isoformat()}T10:00:00+08:00"})

    for n in range(10):
        assert pay_now(platform, client, payer, f"MPDAY{n}", 100)["result_code"] == "SUCCESS"
    waiting_order(platform, client, payer, "MPDAY10", total_fee=100)
    assert confirm(platform, payer, password="123456")["outcome"] == "SUCCESS"
    assert wallet(platform, payer) == 100_000 - 11 * 100

    platform.advance(24 * 3600)  # a new day: password-free again
    assert pay_now(platform, client, payer, "MPNEXTDAY", 100)["result_code"] == "SUCCESS"
