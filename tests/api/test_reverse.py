"""撤销订单 reverse: paid orders refunded in full, unpaid ones closed, and every refusal.

Spec §4.5 and the transitions of §5.4. ``/secapi/pay/reverse`` needs the merchant's client
certificate; these tests are about reverse's business rules, so the platform runs with the
certificate check relaxed (``require_client_cert=False``) — mutual TLS is tested elsewhere.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from reference_wire import verify
from wxpay_local.codes import SignType
from wxpay_local.sdk import Client, FaultError, RejectedError
from wxpay_local.testing import Harness, MerchantInfo

pytestmark = pytest.mark.api

FEE_INCOME = "platform:fee_income"
PASSWORD_PROMPT = "需要用户输入支付密码"
REVERSE = "/secapi/pay/reverse"


# --- helpers ----------------------------------------------------------------------------------
def new_code(h: Harness, payer_id: int) -> str:
    return str(h.control("POST", f"/_local/payers/{payer_id}/codes")["auth_code"])


def charge(
    client: Client, auth_code: str, out_trade_no: str, total_fee: int = 1800
) -> dict[str, str]:
    return client.call(
        "/pay/micropay",
        body="Test shop-Coffee",
        out_trade_no=out_trade_no,
        total_fee=total_fee,
        spbill_create_ip="203.0.113.10",
        auth_code=auth_code,
    )


def charge_refused(client: Client, auth_code: str, out_trade_no: str) -> RejectedError:
    with pytest.raises(RejectedError) as caught:
        charge(client, auth_code, out_trade_no)
    return caught.value


def reverse(client: Client, **ids: str) -> dict[str, str]:
    return client.call(REVERSE, **ids)


def reverse_refused(client: Client, **ids: str) -> RejectedError:
    with pytest.raises(RejectedError) as caught:
        reverse(client, **ids)
    return caught.value


def state(client: Client, out_trade_no: str) -> str:
    return client.orderquery(out_trade_no=out_trade_no)["trade_state"]


def accounts(h: Harness) -> dict[str, int]:
    ledger = h.ledger()
    assert ledger["total"] == 0, ledger
    return {k: v for k, v in ledger["accounts"].items() if v != 0}


def wallet(h: Harness, payer_id: int) -> int:
    return accounts(h).get(f"payer:{payer_id}:wallet", 0)


def basic(h: Harness, merchant: MerchantInfo) -> int:
    return accounts(h).get(f"merchant:{merchant.mch_id}:basic", 0)


def always_password(h: Harness, payer_id: int) -> None:
    h.control("POST", f"/_local/payers/{payer_id}/policy", {"password_policy": "always"})


def confirm(h: Harness, payer_id: int, **body: Any) -> dict[str, Any]:
    result: dict[str, Any] = h.control("POST", f"/_local/payers/{payer_id}/confirm", body)
    return result


def waiting_order(h: Harness, client: Client, payer_id: int, out_trade_no: str) -> str:
    always_password(h, payer_id)
    code = new_code(h, payer_id)
    caught = charge_refused(client, code, out_trade_no)
    assert (caught.err_code, caught.err_code_des) == ("USERPAYING", PASSWORD_PROMPT)
    return code


# --- a paid order --------------------------------------------------------------------------------
@pytest.mark.parametrize("sign_type", [SignType.MD5, SignType.HMAC_SHA256])
def test_reversing_a_paid_order_refunds_it_in_full(relaxed: Harness, sign_type: SignType) -> None:
    merchant = relaxed.merchant()
    client = relaxed.client(merchant, sign_type=sign_type)
    payer = relaxed.payer(balance=10_000)["payer_id"]
    start = accounts(relaxed)
    paid = charge(client, new_code(relaxed, payer), "MPREV")
    assert wallet(relaxed, payer) == 10_000 - 1800
    assert basic(relaxed, merchant) == 1800 - 11
    relaxed.advance(15)

    answer = reverse(client, out_trade_no="MPREV")  # the SDK verified the signature
    assert answer["result_code"] == "SUCCESS" and answer["recall"] == "N"
    assert answer["appid"] == client.appid and answer["mch_id"] == merchant.mch_id
    assert answer["nonce_str"] and answer["sign"]
    assert (answer.get("sign_type") or "MD5") in ("MD5", str(sign_type))

    query = client.orderquery(out_trade_no="MPREV")
    assert (query["trade_state"], query["trade_state_desc"]) == ("REVOKED", "订单已撤销")
    # spec §4.3: a REVOKED order answers identification and state only
    assert "transaction_id" not in query and "time_end" not in query and "cash_fee" not in query
    by_transaction = client.orderquery(transaction_id=paid["transaction_id"])
    assert (by_transaction["out_trade_no"], by_transaction["trade_state"]) == ("MPREV", "REVOKED")
    assert accounts(relaxed) == start  # wallet, merchant basic and the fee income all back

    again = reverse(client, out_trade_no="MPREV")
    assert again["result_code"] == "SUCCESS" and again["recall"] == "N"
    by_id = reverse(client, transaction_id=paid["transaction_id"])
    assert by_id["recall"] == "N"
    assert accounts(relaxed) == start
    assert state(client, "MPREV") == "REVOKED"


def test_a_reversed_order_number_cannot_be_charged_again(relaxed: Harness) -> None:
    merchant = relaxed.merchant()
    client = relaxed.client(merchant)
    payer = relaxed.payer()["payer_id"]
    code = new_code(relaxed, payer)
    charge(client, code, "MPGONE")
    reverse(client, out_trade_no="MPGONE")

    again = charge_refused(client, code, "MPGONE")  # identical
    assert (again.err_code, again.err_code_des) == ("ORDERREVERSED", "订单已撤销")
    assert charge_refused(client, new_code(relaxed, payer), "MPGONE").err_code == "ORDERREVERSED"
    assert wallet(relaxed, payer) == 100_000
    assert state(client, "MPGONE") == "REVOKED"


def test_transaction_id_wins_over_out_trade_no(relaxed: Harness) -> None:
    merchant = relaxed.merchant()
    client = relaxed.client(merchant)
    payer = relaxed.payer()["payer_id"]
    first = charge(client, new_code(relaxed, payer), "MPONE")
    charge(client, new_code(relaxed, payer), "MPTWO")
    reverse(client, transaction_id=first["transaction_id"], out_trade_no="MPTWO")
    assert (state(client, "MPONE"), state(client, "MPTWO")) == ("REVOKED", "SUCCESS")
    assert wallet(relaxed, payer) == 100_000 - 1800


# --- unpaid orders -------------------------------------------------------------------------------
def test_a_waiting_order_is_reversed_only_after_15_seconds(relaxed: Harness) -> None:
    merchant = relaxed.merchant()
    client = relaxed.client(merchant)
    payer = relaxed.payer()["payer_id"]
    waiting_order(relaxed, client, payer, "MPWAIT")

    relaxed.advance(5)
    early = reverse_refused(client, out_trade_no="MPWAIT")
    assert early.err_code == "TRADE_ERROR"
    assert early.fields["recall"] == "Y"  # not finished: call reverse again
    assert early.fields["appid"] == client.appid and early.fields["mch_id"] == merchant.mch_id
    assert state(client, "MPWAIT") == "USERPAYING"

    relaxed.advance(10)
    answer = reverse(client, out_trade_no="MPWAIT")
    assert answer["recall"] == "N"
    query = client.orderquery(out_trade_no="MPWAIT")
    assert (query["trade_state"], query["trade_state_desc"]) == ("REVOKED", "订单已撤销")
    assert "transaction_id" not in query

    # the prompt on the phone is gone: the password no longer pays
    assert relaxed.control("GET", f"/_local/payers/{payer}/pending")["orders"] == []
    late = confirm(relaxed, payer, password="123456", out_trade_no="MPWAIT")
    assert late["outcome"] != "SUCCESS"
    assert state(client, "MPWAIT") == "REVOKED"
    assert wallet(relaxed, payer) == 100_000
    assert basic(relaxed, merchant) == 0
    assert late["outcome"] == "ORDER_CLOSED", late  # not "no such order": it was reversed


@pytest.mark.parametrize("how", ["cancel", "timeout"])
def test_a_failed_order_is_reversed(relaxed: Harness, how: str) -> None:
    merchant = relaxed.merchant()
    client = relaxed.client(merchant)
    payer = relaxed.payer()["payer_id"]
    waiting_order(relaxed, client, payer, "MPFAIL")
    if how == "cancel":
        assert confirm(relaxed, payer, cancel=True)["outcome"] == "CANCELLED"
    else:
        relaxed.advance(31)
    assert state(client, "MPFAIL") == "PAYERROR"

    assert reverse(client, out_trade_no="MPFAIL")["recall"] == "N"
    assert state(client, "MPFAIL") == "REVOKED"
    assert reverse(client, out_trade_no="MPFAIL")["recall"] == "N"
    assert wallet(relaxed, payer) == 100_000


# --- refusals ------------------------------------------------------------------------------------
def test_unknown_orders_are_refused(relaxed: Harness) -> None:
    merchant = relaxed.merchant()
    client = relaxed.client(merchant)
    payer = relaxed.payer()["payer_id"]
    paid = charge(client, new_code(relaxed, payer), "MPMINE")

    unknown = reverse_refused(client, out_trade_no="NOSUCHORDER")
    # spec §4.5's table has no ORDERNOTEXIST: an order not found is INVALID_TRANSACTIONID
    assert (unknown.err_code, unknown.fields["recall"]) == ("INVALID_TRANSACTIONID", "N")
    bad_id = "4200000000" + "9" * 18
    caught = reverse_refused(client, transaction_id=bad_id)
    assert (caught.err_code, caught.fields["recall"]) == ("INVALID_TRANSACTIONID", "N")

    # another merchant can neither see nor reverse this merchant's order
    stranger = relaxed.client(relaxed.merchant(name="Other shop"))
    assert reverse_refused(stranger, out_trade_no="MPMINE").err_code == "INVALID_TRANSACTIONID"
    refused_by_id = reverse_refused(stranger, transaction_id=paid["transaction_id"])
    assert refused_by_id.err_code == "INVALID_TRANSACTIONID"
    assert state(client, "MPMINE") == "SUCCESS"
    # spec §4.5: recall is part of every return_code=SUCCESS answer, refusals included
    assert unknown.fields.get("recall") == "N", unknown.fields


def test_a_unifiedorder_order_cannot_be_reversed(relaxed: Harness) -> None:
    merchant = relaxed.merchant()
    client = relaxed.client(merchant)
    client.unifiedorder(
        body="Test shop-Coffee",
        out_trade_no="NATIVE001",
        total_fee=1800,
        spbill_create_ip="203.0.113.10",
        notify_url="http://127.0.0.1:9/notify",
        trade_type="NATIVE",
        product_id="latte",
    )
    relaxed.advance(15)
    caught = reverse_refused(client, out_trade_no="NATIVE001")
    assert (caught.err_code, caught.fields["recall"]) == ("INVALID_REQUEST", "N")
    assert state(client, "NATIVE001") == "NOTPAY"


def test_orders_older_than_7_days_cannot_be_reversed(relaxed: Harness) -> None:
    merchant = relaxed.merchant()
    client = relaxed.client(merchant)
    payer = relaxed.payer()["payer_id"]
    charge(client, new_code(relaxed, payer), "MPOLD")
    relaxed.advance(6 * 86400)
    charge(client, new_code(relaxed, payer), "MPWEEK")
    relaxed.advance(86400 + 1)
    after = accounts(relaxed)

    caught = reverse_refused(client, out_trade_no="MPOLD")
    assert (caught.err_code, caught.fields["recall"]) == ("REVERSE_EXPIRE", "N")
    assert state(client, "MPOLD") == "SUCCESS"
    assert accounts(relaxed) == after

    assert reverse(client, out_trade_no="MPWEEK")["recall"] == "N"  # one day old: fine
    assert wallet(relaxed, payer) == 100_000 - 1800


def test_reverse_needs_an_order_id(relaxed: Harness) -> None:
    client = relaxed.client(relaxed.merchant())
    with pytest.raises(FaultError) as caught:
        client.call(REVERSE)
    assert caught.value.return_msg
    assert "sign" not in caught.value.fields


def test_reverse_answers_are_signed_and_requests_verified(relaxed: Harness) -> None:
    """The answer verifies with the merchant's key (the SDK checks it too); a request signed
    with another key is refused at the protocol layer."""
    merchant = relaxed.merchant()
    client = relaxed.client(merchant)
    payer = relaxed.payer()["payer_id"]
    charge(client, new_code(relaxed, payer), "MPSIGNED")
    answer = reverse(client, out_trade_no="MPSIGNED")
    assert re.fullmatch(r"[0-9A-F]{32}", answer["sign"])
    assert verify(answer, merchant.api_key)
    assert not verify({**answer, "recall": "Y"}, merchant.api_key)
    wrong_key = Client(
        client.base_url,
        mch_id=merchant.mch_id,
        api_key="0" * 32,
        appid=client.appid,
        http=relaxed.http,
    )
    with pytest.raises(FaultError) as caught:
        wrong_key.call(REVERSE, out_trade_no="MPSIGNED")
    assert caught.value.return_msg == "签名错误"
