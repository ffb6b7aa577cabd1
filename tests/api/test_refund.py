"""申请退款 /secapi/pay/refund (refunds spec §2; docs/behaviour.md "Refunds").

The business rules, the answer, the money and the lifecycle of a refund. ``/secapi/`` needs the
merchant's client certificate; these tests are about the refund's rules, so the platform runs
with the certificate check relaxed (``require_client_cert=False``) over plain HTTP (in-process
and live on SQLite, live on PostgreSQL). Mutual TLS for refunds is exercised in
test_refund_concurrency.py and tests/e2e/test_wechatpy_refund.py.

Money (default fee rate 0.6 %): an order of 1000 fen pays the merchant 994 and the platform 6.
A refund of r fen takes ``r − share`` from the merchant's basic account and ``share`` from the
fee income (share = 6 × r / 1000 rounded half up, the refund completing the order takes what is
left of the fee) into ``platform:refunds_in_transit``; SUCCESS pays it to the payer.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from reference_wire import from_xml, verify
from wxpay_local.codes import SignType
from wxpay_local.domain.model import LedgerTxn, Posting
from wxpay_local.sdk import Client, FaultError, RejectedError
from wxpay_local.store import SqlStore
from wxpay_local.testing import Harness, MerchantInfo, MerchantSink, wait_for
from wxpay_local.timefmt import SHANGHAI

#: Where these run, as the conftest ``platform`` fixture does: both transports on SQLite and
#: PostgreSQL over a real socket.
PLATFORMS = pytest.mark.parametrize(
    ("relaxed", "store"),
    [
        pytest.param("inproc", "sqlite", id="inproc-sqlite"),
        pytest.param("live", "sqlite", id="live-sqlite"),
        pytest.param("live", "postgres", id="live-postgres", marks=pytest.mark.postgres),
    ],
    indirect=True,
)
pytestmark = [pytest.mark.api, PLATFORMS]

REFUND = "/secapi/pay/refund"
REFUNDQUERY = "/pay/refundquery"
FEE_INCOME = "platform:fee_income"
IN_TRANSIT = "platform:refunds_in_transit"
MISMATCH_DES = "订单金额或退款金额与之前请求不一致，请核实后再试"
T0 = "2024-05-01T16:20:10+08:00"  # a frozen platform time for exact success times


# --- helpers ----------------------------------------------------------------------------------
def accounts(h: Harness) -> dict[str, int]:
    ledger = h.ledger()
    assert ledger["total"] == 0, ledger
    return {k: v for k, v in ledger["accounts"].items() if v != 0}


def basic(m: MerchantInfo) -> str:
    return f"merchant:{m.mch_id}:basic"


def wallet(payer_id: int) -> str:
    return f"payer:{payer_id}:wallet"


def pay_order(
    h: Harness,
    client: Client,
    payer_id: int,
    out_trade_no: str,
    notify_url: str,
    total_fee: int = 1000,
    card_id: int | None = None,
) -> dict[str, str]:
    """A NATIVE order paid by the payer (wallet or card); its orderquery answer."""
    answer = client.unifiedorder(
        body="Test shop-Coffee",
        out_trade_no=out_trade_no,
        total_fee=total_fee,
        spbill_create_ip="203.0.113.10",
        notify_url=notify_url,
        trade_type="NATIVE",
        product_id="latte",
    )
    extra: dict[str, Any] = {} if card_id is None else {"card_id": card_id}
    paid = h.pay(payer_id, code_url=answer["code_url"], **extra)
    assert paid["outcome"] == "SUCCESS", paid
    return client.orderquery(out_trade_no=out_trade_no)


def refund(client: Client, **fields: Any) -> dict[str, str]:
    return client.call(REFUND, **fields)


def refused(client: Client, **fields: Any) -> RejectedError:
    with pytest.raises(RejectedError) as caught:
        refund(client, **fields)
    return caught.value


def faulted(client: Client, **fields: Any) -> FaultError:
    with pytest.raises(FaultError) as caught:
        refund(client, **fields)
    return caught.value


def order_refunds(h: Harness, m: MerchantInfo, out_trade_no: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = h.control(
        "GET", f"/_local/orders/{m.mch_id}/{out_trade_no}/refunds"
    )["refunds"]
    return found


def outcome(h: Harness, refund_id: str, status: str, expect: int = 200) -> dict[str, Any]:
    result: dict[str, Any] = h.control(
        "POST", f"/_local/refunds/{refund_id}/outcome", {"refund_status": status}, expect=expect
    )
    return result


def freeze(h: Harness, now: str = T0) -> datetime:
    clock = h.control("POST", "/_local/clock", {"now": now, "freeze": True})
    assert clock["frozen"] is True
    return datetime.fromisoformat(clock["now"])


class Shop:
    """One merchant, its SDK client and a payer with 10 000 fen in the wallet."""

    def __init__(self, h: Harness, sink: MerchantSink, **merchant: Any) -> None:
        self.h = h
        self.sink = sink
        self.m = h.merchant(**merchant)
        self.client = h.client(self.m)
        self.payer = int(h.payer(balance=10_000)["payer_id"])

    def order(self, out_trade_no: str, total_fee: int = 1000, **kw: Any) -> dict[str, str]:
        return pay_order(
            self.h, self.client, self.payer, out_trade_no, self.sink.url, total_fee, **kw
        )


@pytest.fixture
def shop(relaxed: Harness, sink: MerchantSink) -> Shop:
    return Shop(relaxed, sink)


# --- acceptance and the answer -----------------------------------------------------------------
def test_partial_refund_answer_carries_the_documented_fields(shop: Shop) -> None:
    h, m = shop.h, shop.m
    query = shop.order("RF-ANS-1")
    body = shop.client.body(
        {
            "out_trade_no": "RF-ANS-1",
            "out_refund_no": "R-ANS-1",
            "total_fee": 1000,
            "refund_fee": 300,
        }
    )
    raw = h.http.post(h.base_url + REFUND, content=body)
    assert raw.status_code == 200
    answer = from_xml(raw.content)
    assert verify(answer, m.api_key), "the answer is signed (MD5)"
    assert "sign_type" not in answer
    assert answer["return_code"] == "SUCCESS" and answer["result_code"] == "SUCCESS"
    assert answer["appid"] == m.apps["official_account"] and answer["mch_id"] == m.mch_id
    assert answer["transaction_id"] == query["transaction_id"]
    assert answer["out_trade_no"] == "RF-ANS-1"
    assert answer["out_refund_no"] == "R-ANS-1"
    refund_id = answer["refund_id"]
    assert len(refund_id) == 29 and refund_id.isdigit(), refund_id
    expected = {
        "refund_fee": "300",
        "settlement_refund_fee": "300",
        "total_fee": "1000",
        "cash_fee": "1000",
        "cash_refund_fee": "300",
        "coupon_refund_fee": "0",
        "coupon_refund_count": "0",
    }
    for name, value in expected.items():
        assert answer[name] == value, name
        # integers are written bare, never in CDATA
        assert f"<{name}>{value}</{name}>".encode() in raw.content, name
    assert "err_code" not in answer

    # the order reads REFUND from the first accepted refund on
    after = shop.client.orderquery(out_trade_no="RF-ANS-1")
    assert after["trade_state"] == "REFUND"
    assert after["trade_state_desc"] == "订单发生过退款"
    listed = order_refunds(h, m, "RF-ANS-1")
    assert [(r["refund_id"], r["refund_fee"]) for r in listed] == [(refund_id, 300)]


def test_hmac_sha256_refund_answer_is_signed_with_hmac(
    relaxed: Harness, sink: MerchantSink
) -> None:
    m = relaxed.merchant()
    client = relaxed.client(m, sign_type=SignType.HMAC_SHA256)
    payer = int(relaxed.payer(balance=10_000)["payer_id"])
    pay_order(relaxed, client, payer, "RF-HMAC-1", sink.url)
    answer = refund(
        client, out_trade_no="RF-HMAC-1", out_refund_no="R-HMAC-1", total_fee=1000, refund_fee=1
    )
    assert len(answer["sign"]) == 64
    assert verify(answer, m.api_key, SignType.HMAC_SHA256)


def test_transaction_id_wins_over_out_trade_no(shop: Shop) -> None:
    a = shop.order("RF-TX-A")
    b = shop.order("RF-TX-B")
    answer = refund(
        shop.client,
        transaction_id=a["transaction_id"],
        out_trade_no="RF-TX-B",
        out_refund_no="R-TX-1",
        total_fee=1000,
        refund_fee=100,
    )
    assert answer["transaction_id"] == a["transaction_id"]
    assert answer["out_trade_no"] == "RF-TX-A"
    assert len(order_refunds(shop.h, shop.m, "RF-TX-A")) == 1
    assert order_refunds(shop.h, shop.m, "RF-TX-B") == []
    assert shop.client.orderquery(out_trade_no="RF-TX-B")["trade_state"] == "SUCCESS"

    by_id_only = refund(
        shop.client,
        transaction_id=b["transaction_id"],
        out_refund_no="R-TX-2",
        total_fee=1000,
        refund_fee=200,
    )
    assert by_id_only["out_trade_no"] == "RF-TX-B"
    # an unknown transaction_id is not rescued by a valid out_trade_no
    caught = refused(
        shop.client,
        transaction_id="4200000000209901010000000000",
        out_trade_no="RF-TX-B",
        out_refund_no="R-TX-3",
        total_fee=1000,
        refund_fee=100,
    )
    assert caught.err_code == "INVALID_TRANSACTIONID"


# --- money ----------------------------------------------------------------------------------------
def test_acceptance_moves_refund_less_fee_share_into_transit_and_success_pays_the_payer(
    shop: Shop,
) -> None:
    h, m, payer = shop.h, shop.m, shop.payer
    freeze(h)
    shop.order("RF-MONEY-1")
    before = accounts(h)
    assert before[basic(m)] == 994 and before[FEE_INCOME] == 6
    assert before[wallet(payer)] == 9000

    refund(
        shop.client,
        out_trade_no="RF-MONEY-1",
        out_refund_no="R-M-1",
        total_fee=1000,
        refund_fee=300,
    )
    after = accounts(h)
    share = 2  # 6 × 300 / 1000 = 1.8 → 2
    assert after[basic(m)] == 994 - (300 - share)
    assert after[FEE_INCOME] == 6 - share
    assert after[IN_TRANSIT] == 300
    assert after[wallet(payer)] == 9000, "nothing reaches the payer before SUCCESS"
    assert order_refunds(h, m, "RF-MONEY-1")[0]["fee_returned"] == share

    h.advance(5)  # the dispatcher settles it: no query needed
    wait_for(lambda: accounts(h).get(wallet(payer)) == 9300)
    settled = accounts(h)
    assert IN_TRANSIT not in settled
    assert settled[basic(m)] == 696 and settled[FEE_INCOME] == 4
    assert order_refunds(h, m, "RF-MONEY-1")[0]["refund_status"] == "SUCCESS"


def test_full_refund_in_parts_gives_the_whole_fee_back_exactly_once(shop: Shop) -> None:
    h, m, payer = shop.h, shop.m, shop.payer
    freeze(h)
    start = accounts(h)
    shop.order("RF-FEE-1")
    for number, amount in enumerate((250, 250, 500), start=1):
        refund(
            shop.client,
            out_trade_no="RF-FEE-1",
            out_refund_no=f"R-FEE-{number}",
            total_fee=1000,
            refund_fee=amount,
        )
    # 6 × 250 / 1000 = 1.5 → 2 twice; the refund completing the order takes the rest: 2 (not 3)
    assert [r["fee_returned"] for r in order_refunds(h, m, "RF-FEE-1")] == [2, 2, 2]
    now = accounts(h)
    assert now.get(FEE_INCOME, 0) == start.get(FEE_INCOME, 0) == 0
    assert now.get(basic(m), 0) == 0
    assert now[IN_TRANSIT] == 1000

    h.advance(5)
    wait_for(lambda: accounts(h).get(wallet(payer)) == 10_000)
    assert accounts(h) == start, "a full refund puts every account back as before the payment"
    again = refused(
        shop.client, out_trade_no="RF-FEE-1", out_refund_no="R-FEE-4", total_fee=1000, refund_fee=1
    )
    assert (again.err_code, again.err_code_des) == ("ERROR", "订单已全额退款")


def test_single_full_refund_returns_the_whole_fee(shop: Shop) -> None:
    h, m = shop.h, shop.m
    shop.order("RF-FULL-1", total_fee=1001)  # fee 6 (6.006 rounded)
    assert accounts(h)[FEE_INCOME] == 6
    refund(
        shop.client,
        out_trade_no="RF-FULL-1",
        out_refund_no="R-FULL-1",
        total_fee=1001,
        refund_fee=1001,
    )
    assert accounts(h).get(FEE_INCOME, 0) == 0
    assert accounts(h).get(basic(m), 0) == 0
    caught = refused(
        shop.client,
        out_trade_no="RF-FULL-1",
        out_refund_no="R-FULL-2",
        total_fee=1001,
        refund_fee=1,
    )
    assert (caught.err_code, caught.err_code_des) == ("ERROR", "订单已全额退款")


def test_card_paid_order_is_refunded_to_the_card(relaxed: Harness, sink: MerchantSink) -> None:
    h = relaxed
    m = h.merchant()
    client = h.client(m)
    payer = h.payer(balance=0, cards=["CMB_DEBIT"])
    payer_id = int(payer["payer_id"])
    card = h.control("GET", f"/_local/payers/{payer_id}")["cards"][0]
    assert card["bank_type"] == "CMB_DEBIT"
    bank = "external:bank:CMB_DEBIT"
    freeze(h)
    before = accounts(h).get(bank, 0)
    pay_order(h, client, payer_id, "RF-CARD-1", sink.url, card_id=card["card_id"])
    assert accounts(h)[bank] == before - 1000

    answer = refund(
        client, out_trade_no="RF-CARD-1", out_refund_no="R-CARD-1", total_fee=1000, refund_fee=400
    )
    query = client.call(REFUNDQUERY, refund_id=answer["refund_id"])
    assert query["refund_recv_accout_0"] == f"招商银行借记卡{card['last4']}"
    assert query["refund_status_0"] == "PROCESSING"

    h.advance(5)
    wait_for(lambda: accounts(h).get(bank) == before - 600)
    assert accounts(h).get(wallet(payer_id), 0) == 0, "a card payment is not refunded to 零钱"
    query = client.call(REFUNDQUERY, refund_id=answer["refund_id"])
    assert query["refund_status_0"] == "SUCCESS"
    assert query["refund_recv_accout_0"] == f"招商银行借记卡{card['last4']}"


def test_notenough_when_the_basic_account_cannot_pay(shop: Shop, store: SqlStore) -> None:
    """Refunds alone can never overdraw the basic account (each order's refunds take back at
    most what that order brought in), so the merchant withdraws to its bank first: posted
    straight into the ledger, as a settlement to the merchant's bank account would be."""
    h, m = shop.h, shop.m
    shop.order("RF-NE-1")
    with store.begin() as tx:
        tx.post(
            LedgerTxn(
                "withdrawal",
                "W-RF-NE-1",
                (Posting(basic(m), -900), Posting(f"external:withdrawal:{m.mch_id}", 900)),
                at=datetime.now(SHANGHAI),
            )
        )
    assert accounts(h)[basic(m)] == 94
    caught = refused(
        shop.client, out_trade_no="RF-NE-1", out_refund_no="R-NE-1", total_fee=1000, refund_fee=300
    )
    assert caught.err_code == "NOTENOUGH"
    assert order_refunds(h, m, "RF-NE-1") == []
    assert accounts(h)[basic(m)] == 94
    assert shop.client.orderquery(out_trade_no="RF-NE-1")["trade_state"] == "SUCCESS"

    # 95 fen: the fee share is 1 (0.57 → 1), the basic account pays 94: exactly enough
    refund(
        shop.client, out_trade_no="RF-NE-1", out_refund_no="R-NE-2", total_fee=1000, refund_fee=95
    )
    assert accounts(h).get(basic(m), 0) == 0
    assert accounts(h)[IN_TRANSIT] == 95
    # the refused out_refund_no was not used up
    again = refused(
        shop.client, out_trade_no="RF-NE-1", out_refund_no="R-NE-1", total_fee=1000, refund_fee=300
    )
    assert again.err_code == "NOTENOUGH"


# --- idempotency ----------------------------------------------------------------------------------
def test_same_out_refund_no_and_amounts_return_the_same_refund_once(shop: Shop) -> None:
    h, m = shop.h, shop.m
    freeze(h)
    shop.order("RF-IDEM-1")
    fields = {"out_trade_no": "RF-IDEM-1", "out_refund_no": "R-IDEM-1", "total_fee": 1000}
    first = refund(shop.client, refund_fee=300, **fields)
    money = accounts(h)
    second = refund(shop.client, refund_fee=300, **fields)
    assert second["refund_id"] == first["refund_id"]
    assert second["refund_fee"] == "300"
    assert accounts(h) == money, "the repeat moves no money"
    assert len(order_refunds(h, m, "RF-IDEM-1")) == 1

    # whatever its state: the same answer after SUCCESS too
    h.advance(5)
    wait_for(lambda: accounts(h).get(wallet(shop.payer)) == 9300)  # settled by the dispatcher
    assert order_refunds(h, m, "RF-IDEM-1")[0]["refund_status"] == "SUCCESS"
    settled = accounts(h)
    third = refund(shop.client, refund_fee=300, **fields)
    assert third["refund_id"] == first["refund_id"]
    assert accounts(h) == settled
    assert len(order_refunds(h, m, "RF-IDEM-1")) == 1

    # by transaction_id instead of out_trade_no: still the same refund
    txid = shop.client.orderquery(out_trade_no="RF-IDEM-1")["transaction_id"]
    fourth = refund(
        shop.client,
        transaction_id=txid,
        out_refund_no="R-IDEM-1",
        total_fee=1000,
        refund_fee=300,
    )
    assert fourth["refund_id"] == first["refund_id"]


def test_same_out_refund_no_with_other_amounts_is_a_mismatch(shop: Shop) -> None:
    h, m = shop.h, shop.m
    shop.order("RF-MIS-1")
    fields = {"out_trade_no": "RF-MIS-1", "out_refund_no": "R-MIS-1"}
    refund(shop.client, total_fee=1000, refund_fee=300, **fields)
    money = accounts(h)
    other_refund = refused(shop.client, total_fee=1000, refund_fee=301, **fields)
    assert (other_refund.err_code, other_refund.err_code_des) == (
        "REFUND_FEE_MISMATCH",
        MISMATCH_DES,
    )
    other_total = refused(shop.client, total_fee=999, refund_fee=300, **fields)
    assert other_total.err_code == "REFUND_FEE_MISMATCH"
    assert accounts(h) == money
    assert len(order_refunds(h, m, "RF-MIS-1")) == 1


def test_same_out_refund_no_on_another_order_is_invalid_request(shop: Shop) -> None:
    h, m = shop.h, shop.m
    shop.order("RF-OTHER-A")
    shop.order("RF-OTHER-B")
    refund(
        shop.client,
        out_trade_no="RF-OTHER-A",
        out_refund_no="R-OTHER-1",
        total_fee=1000,
        refund_fee=100,
    )
    caught = refused(
        shop.client,
        out_trade_no="RF-OTHER-B",
        out_refund_no="R-OTHER-1",
        total_fee=1000,
        refund_fee=100,
    )
    assert (caught.err_code, caught.err_code_des) == ("INVALID_REQUEST", "商户退款单号已被使用")
    assert order_refunds(h, m, "RF-OTHER-B") == []


def test_out_refund_no_is_per_merchant(relaxed: Harness, sink: MerchantSink) -> None:
    one, two = Shop(relaxed, sink), Shop(relaxed, sink)
    one.order("RF-PM-1")
    two.order("RF-PM-1")
    a = refund(
        one.client, out_trade_no="RF-PM-1", out_refund_no="R-PM", total_fee=1000, refund_fee=10
    )
    b = refund(
        two.client, out_trade_no="RF-PM-1", out_refund_no="R-PM", total_fee=1000, refund_fee=20
    )
    assert a["refund_id"] != b["refund_id"]
    assert b["refund_fee"] == "20"


# --- amounts and counts ---------------------------------------------------------------------------
def test_total_fee_other_than_the_orders_is_a_mismatch(shop: Shop) -> None:
    shop.order("RF-TOT-1")
    caught = refused(
        shop.client, out_trade_no="RF-TOT-1", out_refund_no="R-TOT-1", total_fee=999, refund_fee=100
    )
    assert (caught.err_code, caught.err_code_des) == ("REFUND_FEE_MISMATCH", MISMATCH_DES)
    assert order_refunds(shop.h, shop.m, "RF-TOT-1") == []


def test_refund_fee_above_total_fee_is_refused_at_the_protocol_layer(shop: Shop) -> None:
    shop.order("RF-OVER-1")
    caught = faulted(
        shop.client,
        out_trade_no="RF-OVER-1",
        out_refund_no="R-OVER-1",
        total_fee=1000,
        refund_fee=1001,
    )
    assert caught.return_msg == "invalid refund_fee"
    assert set(caught.fields) == {"return_code", "return_msg"}, "FAIL answers are unsigned"
    assert order_refunds(shop.h, shop.m, "RF-OVER-1") == []


def test_partial_refunds_cannot_exceed_what_is_left(shop: Shop) -> None:
    h, m = shop.h, shop.m
    shop.order("RF-LEFT-1")
    base = {"out_trade_no": "RF-LEFT-1", "total_fee": 1000}
    refund(shop.client, out_refund_no="R-LEFT-1", refund_fee=400, **base)
    refund(shop.client, out_refund_no="R-LEFT-2", refund_fee=500, **base)
    money = accounts(h)
    caught = refused(shop.client, out_refund_no="R-LEFT-3", refund_fee=101, **base)
    assert (caught.err_code, caught.err_code_des) == ("INVALID_REQUEST", "refund_fee大于可退金额")
    assert accounts(h) == money
    assert len(order_refunds(h, m, "RF-LEFT-1")) == 2

    refund(shop.client, out_refund_no="R-LEFT-3", refund_fee=100, **base)  # exactly what is left
    done = refused(shop.client, out_refund_no="R-LEFT-4", refund_fee=1, **base)
    assert (done.err_code, done.err_code_des) == ("ERROR", "订单已全额退款")
    assert [r["refund_fee"] for r in order_refunds(h, m, "RF-LEFT-1")] == [400, 500, 100]


def test_the_51st_refund_of_an_order_is_refused(shop: Shop) -> None:
    h, m = shop.h, shop.m
    shop.order("RF-51", total_fee=100)
    base = {"out_trade_no": "RF-51", "total_fee": 100, "refund_fee": 1}
    for number in range(50):
        refund(shop.client, out_refund_no=f"R-51-{number:02d}", **base)
    caught = refused(shop.client, out_refund_no="R-51-50", **base)
    assert caught.err_code == "ERROR"
    assert caught.err_code_des.startswith("退款次数超过限制"), caught.err_code_des
    assert len(order_refunds(h, m, "RF-51")) == 50
    # a repeat of an accepted one is still answered (idempotency comes first)
    assert refund(shop.client, out_refund_no="R-51-07", **base)["out_refund_no"] == "R-51-07"


# --- which orders ---------------------------------------------------------------------------------
def test_unpaid_closed_and_unknown_orders_cannot_be_refunded(shop: Shop) -> None:
    h, client = shop.h, shop.client
    for out_trade_no in ("RF-NOTPAY-1", "RF-CLOSED-1"):
        client.unifiedorder(
            body="Test shop-Coffee",
            out_trade_no=out_trade_no,
            total_fee=1000,
            spbill_create_ip="203.0.113.10",
            notify_url=shop.sink.url,
            trade_type="NATIVE",
            product_id="latte",
        )
    h.advance(301)
    client.closeorder(out_trade_no="RF-CLOSED-1")
    assert client.orderquery(out_trade_no="RF-CLOSED-1")["trade_state"] == "CLOSED"

    for out_trade_no in ("RF-NOTPAY-1", "RF-CLOSED-1", "RF-NO-SUCH-ORDER"):
        caught = refused(
            client, out_trade_no=out_trade_no, out_refund_no="R-NP-1", total_fee=1000, refund_fee=1
        )
        assert caught.err_code == "ORDERNOTEXIST", out_trade_no
    caught = refused(
        client,
        transaction_id="4200000000202401010000000000",
        out_refund_no="R-NP-1",
        total_fee=1000,
        refund_fee=1,
    )
    assert caught.err_code == "INVALID_TRANSACTIONID"
    assert client.orderquery(out_trade_no="RF-NOTPAY-1")["trade_state"] == "NOTPAY"


def test_another_merchants_order_is_unknown(relaxed: Harness, sink: MerchantSink) -> None:
    owner, other = Shop(relaxed, sink), Shop(relaxed, sink)
    paid = owner.order("RF-MINE-1")
    by_no = refused(
        other.client, out_trade_no="RF-MINE-1", out_refund_no="R-X-1", total_fee=1000, refund_fee=1
    )
    assert by_no.err_code == "ORDERNOTEXIST"
    by_id = refused(
        other.client,
        transaction_id=paid["transaction_id"],
        out_refund_no="R-X-1",
        total_fee=1000,
        refund_fee=1,
    )
    assert by_id.err_code == "INVALID_TRANSACTIONID"


def test_refunds_are_accepted_within_365_days_of_payment(shop: Shop) -> None:
    freeze(shop.h)
    shop.order("RF-OLD-A")
    shop.order("RF-OLD-B")
    shop.h.advance(364 * 86_400)
    refund(
        shop.client,
        out_trade_no="RF-OLD-A",
        out_refund_no="R-OLD-A",
        total_fee=1000,
        refund_fee=100,
    )
    shop.h.advance(2 * 86_400)  # 366 days after the payment
    caught = refused(
        shop.client,
        out_trade_no="RF-OLD-B",
        out_refund_no="R-OLD-B",
        total_fee=1000,
        refund_fee=100,
    )
    assert caught.err_code == "TRADE_OVERDUE"
    assert order_refunds(shop.h, shop.m, "RF-OLD-B") == []


# --- refund_account ------------------------------------------------------------------------------
def test_refund_account_is_checked_and_echoed(shop: Shop) -> None:
    shop.order("RF-ACC-1")
    base = {"out_trade_no": "RF-ACC-1", "total_fee": 1000, "refund_fee": 100}
    bad = faulted(
        shop.client, out_refund_no="R-ACC-0", refund_account="REFUND_SOURCE_ELSEWHERE", **base
    )
    assert bad.return_msg == "refund_account参数格式错误"
    assert order_refunds(shop.h, shop.m, "RF-ACC-1") == []

    recharge = refund(
        shop.client, out_refund_no="R-ACC-1", refund_account="REFUND_SOURCE_RECHARGE_FUNDS", **base
    )
    default = refund(shop.client, out_refund_no="R-ACC-2", **base)
    one = shop.client.call(REFUNDQUERY, refund_id=recharge["refund_id"])
    assert one["refund_account_0"] == "REFUND_SOURCE_RECHARGE_FUNDS"
    two = shop.client.call(REFUNDQUERY, refund_id=default["refund_id"])
    assert two["refund_account_0"] == "REFUND_SOURCE_UNSETTLED_FUNDS"


# --- lifecycle ------------------------------------------------------------------------------------
def test_refund_is_processing_until_the_settle_delay_then_success(shop: Shop) -> None:
    h, m = shop.h, shop.m
    start = freeze(h)
    shop.order("RF-LIFE-1")
    answer = refund(
        shop.client,
        out_trade_no="RF-LIFE-1",
        out_refund_no="R-LIFE-1",
        total_fee=1000,
        refund_fee=300,
    )
    query = shop.client.call(REFUNDQUERY, out_refund_no="R-LIFE-1")
    assert query["refund_status_0"] == "PROCESSING"
    assert "refund_success_time_0" not in query
    assert query["refund_recv_accout_0"] == "支付用户零钱"

    h.advance(4)
    h.dispatch()
    query = shop.client.call(REFUNDQUERY, out_refund_no="R-LIFE-1")
    assert query["refund_status_0"] == "PROCESSING", "4 s of the 5 s delay"
    assert accounts(h)[IN_TRANSIT] == 300

    h.advance(1)
    wait_for(lambda: accounts(h).get(wallet(shop.payer)) == 9300)  # settled by the dispatcher
    query = shop.client.call(REFUNDQUERY, refund_id=answer["refund_id"])
    assert query["refund_status_0"] == "SUCCESS"
    expected = (start + timedelta(seconds=5)).astimezone(SHANGHAI)
    assert query["refund_success_time_0"] == expected.strftime("%Y-%m-%d %H:%M:%S")
    assert query["refund_success_time_0"] == "2024-05-01 16:20:15"
    assert query["refund_recv_accout_0"] == "支付用户零钱"
    assert accounts(h)[wallet(shop.payer)] == 9300
    listed = order_refunds(h, m, "RF-LIFE-1")[0]
    assert listed["refund_status"] == "SUCCESS"


def test_forced_change_returns_the_money_to_the_merchant_and_may_then_succeed(shop: Shop) -> None:
    h, m, payer = shop.h, shop.m, shop.payer
    freeze(h)
    shop.order("RF-CHG-1")
    answer = refund(
        shop.client,
        out_trade_no="RF-CHG-1",
        out_refund_no="R-CHG-1",
        total_fee=1000,
        refund_fee=300,
    )
    forced = outcome(h, answer["refund_id"], "CHANGE")
    assert forced["refund_status"] == "CHANGE"
    assert forced["refund_recv_accout"] == "商户基本账户"
    money = accounts(h)
    assert money[basic(m)] == 994 and money[FEE_INCOME] == 6, "money and fee share back"
    assert IN_TRANSIT not in money
    assert money[wallet(payer)] == 9000

    query = shop.client.call(REFUNDQUERY, out_trade_no="RF-CHG-1")
    assert query["refund_status_0"] == "CHANGE"
    assert query["refund_recv_accout_0"] == "商户基本账户"
    assert "refund_success_time_0" not in query
    h.advance(60)  # the settle delay does not touch a CHANGE refund
    h.dispatch()
    assert shop.client.call(REFUNDQUERY, out_trade_no="RF-CHG-1")["refund_status_0"] == "CHANGE"
    # a CHANGE refund still counts against the order
    caught = refused(
        shop.client,
        out_trade_no="RF-CHG-1",
        out_refund_no="R-CHG-2",
        total_fee=1000,
        refund_fee=701,
    )
    assert caught.err_code == "INVALID_REQUEST"

    handled = outcome(h, answer["refund_id"], "SUCCESS")  # handled by hand in the platform
    assert handled["refund_status"] == "SUCCESS"
    assert handled["refund_recv_accout"] == "支付用户零钱"
    money = accounts(h)
    assert money[basic(m)] == 696 and money[FEE_INCOME] == 4
    assert money[wallet(payer)] == 9300
    query = shop.client.call(REFUNDQUERY, refund_id=answer["refund_id"])
    assert query["refund_status_0"] == "SUCCESS"
    assert len(query["refund_success_time_0"]) == 19

    for status in ("SUCCESS", "CHANGE", "REFUNDCLOSE"):
        outcome(h, answer["refund_id"], status, expect=400)
    assert accounts(h) == money


def test_forced_refundclose_returns_the_money_and_the_amount_is_refundable_again(
    shop: Shop,
) -> None:
    h, m, payer = shop.h, shop.m, shop.payer
    freeze(h)
    shop.order("RF-CLS-1")
    answer = refund(
        shop.client,
        out_trade_no="RF-CLS-1",
        out_refund_no="R-CLS-1",
        total_fee=1000,
        refund_fee=1000,
    )
    assert accounts(h).get(basic(m), 0) == 0
    closed = outcome(h, answer["refund_id"], "REFUNDCLOSE")
    assert closed["refund_status"] == "REFUNDCLOSE"
    money = accounts(h)
    assert money[basic(m)] == 994 and money[FEE_INCOME] == 6
    assert IN_TRANSIT not in money and money[wallet(payer)] == 9000

    query = shop.client.call(REFUNDQUERY, out_trade_no="RF-CLS-1")
    assert query["refund_status_0"] == "REFUNDCLOSE"
    assert query["refund_fee"] == "0", "a closed refund does not count"
    for status in ("SUCCESS", "CHANGE", "REFUNDCLOSE"):
        outcome(h, answer["refund_id"], status, expect=400)

    # the closed out_refund_no answers the closed refund again (not re-opened)
    repeat = refund(
        shop.client,
        out_trade_no="RF-CLS-1",
        out_refund_no="R-CLS-1",
        total_fee=1000,
        refund_fee=1000,
    )
    assert repeat["refund_id"] == answer["refund_id"]
    assert accounts(h) == money

    again = refund(
        shop.client,
        out_trade_no="RF-CLS-1",
        out_refund_no="R-CLS-2",
        total_fee=1000,
        refund_fee=1000,
    )
    assert again["refund_id"] != answer["refund_id"]
    assert accounts(h).get(basic(m), 0) == 0 and accounts(h).get(FEE_INCOME, 0) == 0
    h.advance(5)
    wait_for(lambda: accounts(h).get(wallet(payer)) == 10_000)
    statuses = [r["refund_status"] for r in order_refunds(h, m, "RF-CLS-1")]
    assert statuses == ["REFUNDCLOSE", "SUCCESS"]


def test_success_is_final(shop: Shop) -> None:
    h = shop.h
    freeze(h)
    shop.order("RF-FIN-1")
    answer = refund(
        shop.client,
        out_trade_no="RF-FIN-1",
        out_refund_no="R-FIN-1",
        total_fee=1000,
        refund_fee=300,
    )
    assert outcome(h, answer["refund_id"], "SUCCESS")["refund_status"] == "SUCCESS"
    money = accounts(h)
    assert money[wallet(shop.payer)] == 9300
    for status in ("SUCCESS", "CHANGE", "REFUNDCLOSE"):
        outcome(h, answer["refund_id"], status, expect=400)
    assert accounts(h) == money
    query = shop.client.call(REFUNDQUERY, refund_id=answer["refund_id"])
    assert query["refund_status_0"] == "SUCCESS"
    assert query["refund_success_time_0"] == "2024-05-01 16:20:10", "forced at once"


def test_outcome_of_an_unknown_refund_is_404_and_a_bad_status_400(shop: Shop) -> None:
    outcome(shop.h, "50300000000000000000000000000", "SUCCESS", expect=404)
    shop.order("RF-BAD-1")
    answer = refund(
        shop.client, out_trade_no="RF-BAD-1", out_refund_no="R-BAD-1", total_fee=1000, refund_fee=1
    )
    outcome(shop.h, answer["refund_id"], "PROCESSING", expect=400)


def test_control_plane_reset_clears_refunds(shop: Shop) -> None:
    """POST /_local/reset deletes every row, refunds included (docs: "Delete all data")."""
    shop.order("RF-RESET-1")
    refund(
        shop.client,
        out_trade_no="RF-RESET-1",
        out_refund_no="R-RESET-1",
        total_fee=1000,
        refund_fee=1,
    )
    shop.h.control("POST", "/_local/reset", {})
    assert shop.h.control("GET", "/_local/orders")["orders"] == []
    assert shop.h.ledger()["total"] == 0
    assert accounts(shop.h) == {}
