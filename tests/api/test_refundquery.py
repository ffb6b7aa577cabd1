"""查询退款 /pay/refundquery (refunds spec §3; docs/behaviour.md "Refunds").

Selection (one refund by its ids, an order's refunds by the order's ids), the priority of the
identifiers, paging with ``offset``, the fields and their spelling, and settling due refunds
before answering. Refunds are created with the client-certificate check relaxed
(``require_client_cert=False``); refundquery itself needs no certificate.
"""

from __future__ import annotations

from typing import Any

import pytest

from reference_wire import from_xml, verify
from wxpay_local.codes import SignType
from wxpay_local.sdk import Client, FaultError, RejectedError
from wxpay_local.testing import Harness, MerchantInfo, MerchantSink, wait_for

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
IN_TRANSIT = "platform:refunds_in_transit"


class Shop:
    """A merchant, its SDK client, a payer with 100 000 fen; orders of 1000 fen by default."""

    def __init__(self, h: Harness, notify_url: str, sign_type: SignType = SignType.MD5) -> None:
        self.h = h
        self.notify_url = notify_url
        self.m: MerchantInfo = h.merchant()
        self.client: Client = h.client(self.m, sign_type=sign_type)
        self.payer = int(h.payer(balance=100_000)["payer_id"])

    def order(self, out_trade_no: str, total_fee: int = 1000) -> dict[str, str]:
        answer = self.client.unifiedorder(
            body="Test shop-Coffee",
            out_trade_no=out_trade_no,
            total_fee=total_fee,
            spbill_create_ip="203.0.113.10",
            notify_url=self.notify_url,
            trade_type="NATIVE",
            product_id="latte",
        )
        paid = self.h.pay(self.payer, code_url=answer["code_url"])
        assert paid["outcome"] == "SUCCESS", paid
        return self.client.orderquery(out_trade_no=out_trade_no)

    def refund(self, out_trade_no: str, out_refund_no: str, refund_fee: int, **kw: Any) -> str:
        answer = self.client.call(
            REFUND,
            out_trade_no=out_trade_no,
            out_refund_no=out_refund_no,
            total_fee=kw.pop("total_fee", 1000),
            refund_fee=refund_fee,
            **kw,
        )
        return answer["refund_id"]

    def query(self, **ids: Any) -> dict[str, str]:
        return self.client.call(REFUNDQUERY, **ids)

    def refused(self, **ids: Any) -> RejectedError:
        with pytest.raises(RejectedError) as caught:
            self.query(**ids)
        return caught.value


@pytest.fixture
def shop(relaxed: Harness, sink: MerchantSink) -> Shop:
    return Shop(relaxed, sink.url)


def freeze(h: Harness) -> None:
    assert h.control("POST", "/_local/clock", {"freeze": True})["frozen"] is True


def listed(answer: dict[str, str]) -> list[str]:
    """The out_refund_no_$n of an answer, in $n order."""
    return [answer[f"out_refund_no_{n}"] for n in range(int(answer["refund_count"]))]


def per_refund_fields(answer: dict[str, str]) -> set[str]:
    return {k for k in answer if k[-1].isdigit()}


# --- selection ------------------------------------------------------------------------------------
def test_query_by_refund_id_or_out_refund_no_answers_that_refund_only(shop: Shop) -> None:
    freeze(shop.h)
    order = shop.order("RQ-ONE-1")
    first = shop.refund("RQ-ONE-1", "RQ-R-1", 300)
    second = shop.refund("RQ-ONE-1", "RQ-R-2", 200)

    for ids in ({"refund_id": second}, {"out_refund_no": "RQ-R-2"}):
        answer = shop.query(**ids)  # the SDK verified the signature
        assert answer["return_code"] == "SUCCESS" and answer["result_code"] == "SUCCESS"
        assert answer["refund_count"] == "1"
        assert "total_refund_count" not in answer
        assert answer["transaction_id"] == order["transaction_id"]
        assert answer["out_trade_no"] == "RQ-ONE-1"
        assert answer["total_fee"] == "1000" and answer["cash_fee"] == "1000"
        assert answer["refund_fee"] == "500", "the order's refunds, not only this one"
        assert answer["out_refund_no_0"] == "RQ-R-2"
        assert answer["refund_id_0"] == second
        assert answer["refund_fee_0"] == "200"
        assert answer["refund_status_0"] == "PROCESSING"
        assert answer["refund_channel_0"] == "ORIGINAL"
        assert "out_refund_no_1" not in answer and "refund_id_1" not in answer

    assert shop.query(refund_id=first)["out_refund_no_0"] == "RQ-R-1"


def test_query_by_order_answers_every_refund_in_creation_order(shop: Shop) -> None:
    freeze(shop.h)
    order = shop.order("RQ-ALL-1")
    ids = [
        shop.refund("RQ-ALL-1", f"RQ-ALL-{n}", amount)
        for n, amount in ((3, 100), (1, 200), (2, 300))
    ]
    for by in ({"out_trade_no": "RQ-ALL-1"}, {"transaction_id": order["transaction_id"]}):
        answer = shop.query(**by)
        assert answer["refund_count"] == "3"
        assert "total_refund_count" not in answer, "only with more than ten or with offset"
        assert listed(answer) == ["RQ-ALL-3", "RQ-ALL-1", "RQ-ALL-2"], "creation order"
        assert [answer[f"refund_id_{n}"] for n in range(3)] == ids
        assert [answer[f"refund_fee_{n}"] for n in range(3)] == ["100", "200", "300"]
        assert answer["refund_fee"] == "600"
        assert answer["transaction_id"] == order["transaction_id"]


def test_identifier_priority_refund_id_out_refund_no_transaction_id_out_trade_no(
    shop: Shop,
) -> None:
    freeze(shop.h)
    a = shop.order("RQ-PRI-A")
    shop.order("RQ-PRI-B")
    a1 = shop.refund("RQ-PRI-A", "RQ-PRI-A1", 100)
    shop.refund("RQ-PRI-A", "RQ-PRI-A2", 100)
    b1 = shop.refund("RQ-PRI-B", "RQ-PRI-B1", 100)
    everything = {
        "refund_id": b1,
        "out_refund_no": "RQ-PRI-A2",
        "transaction_id": a["transaction_id"],
        "out_trade_no": "RQ-PRI-B",
    }
    answer = shop.query(**everything)
    assert (answer["refund_count"], answer["refund_id_0"]) == ("1", b1)
    assert answer["out_trade_no"] == "RQ-PRI-B"

    answer = shop.query(**{k: v for k, v in everything.items() if k != "refund_id"})
    assert (answer["refund_count"], listed(answer)) == ("1", ["RQ-PRI-A2"])

    answer = shop.query(transaction_id=a["transaction_id"], out_trade_no="RQ-PRI-B")
    assert answer["out_trade_no"] == "RQ-PRI-A"
    assert listed(answer) == ["RQ-PRI-A1", "RQ-PRI-A2"]
    assert answer["refund_id_0"] == a1

    # the winning identifier decides alone: an unknown refund_id is not rescued
    caught = shop.refused(refund_id="50300000000000000000000000000", out_refund_no="RQ-PRI-A2")
    assert caught.err_code == "REFUNDNOTEXIST"
    caught = shop.refused(out_refund_no="RQ-PRI-NONE", out_trade_no="RQ-PRI-A")
    assert caught.err_code == "REFUNDNOTEXIST"
    caught = shop.refused(transaction_id="4200000000209901010000000000", out_trade_no="RQ-PRI-A")
    assert caught.err_code == "REFUNDNOTEXIST"


# --- paging ---------------------------------------------------------------------------------------
def test_twelve_refunds_are_paged_ten_at_a_time(shop: Shop) -> None:
    freeze(shop.h)
    shop.order("RQ-PAGE-1", total_fee=1200)
    numbers = [f"RQ-PG-{n:02d}" for n in range(12)]
    for number in numbers:
        shop.refund("RQ-PAGE-1", number, 100, total_fee=1200)

    first = shop.query(out_trade_no="RQ-PAGE-1")
    assert first["total_refund_count"] == "12"
    assert first["refund_count"] == "10"
    assert listed(first) == numbers[:10]
    assert "out_refund_no_10" not in first and "refund_id_10" not in first
    assert first["refund_fee"] == "1200", "refund_fee covers the whole order"

    rest = shop.query(out_trade_no="RQ-PAGE-1", offset=10)
    assert rest["total_refund_count"] == "12"
    assert rest["refund_count"] == "2"
    assert listed(rest) == numbers[10:]
    assert "out_refund_no_2" not in rest

    middle = shop.query(out_trade_no="RQ-PAGE-1", offset=5)
    assert listed(middle) == numbers[5:12] and middle["refund_count"] == "7"
    zero = shop.query(out_trade_no="RQ-PAGE-1", offset=0)
    assert listed(zero) == numbers[:10] and zero["total_refund_count"] == "12"

    # spec §3.2: PARAM_ERROR when offset is *greater* than total_refund_count; equal is an
    # empty page.
    end = shop.query(out_trade_no="RQ-PAGE-1", offset=12)
    assert (end["refund_count"], end["total_refund_count"]) == ("0", "12")
    assert listed(end) == []
    past = shop.refused(out_trade_no="RQ-PAGE-1", offset=13)
    assert (past.err_code, past.err_code_des) == ("PARAM_ERROR", "offset大于退款笔数")
    far = shop.refused(out_trade_no="RQ-PAGE-1", offset=100)
    assert far.err_code == "PARAM_ERROR"


def test_offset_with_few_refunds_still_reports_the_total(shop: Shop) -> None:
    shop.order("RQ-OFF-1")
    shop.refund("RQ-OFF-1", "RQ-OFF-R1", 100)
    shop.refund("RQ-OFF-1", "RQ-OFF-R2", 100)
    answer = shop.query(out_trade_no="RQ-OFF-1", offset=1)
    assert answer["total_refund_count"] == "2"
    assert listed(answer) == ["RQ-OFF-R2"]


# --- fields ---------------------------------------------------------------------------------------
def test_fields_spelling_and_raw_integers(shop: Shop) -> None:
    freeze(shop.h)
    shop.order("RQ-FLD-1")
    shop.refund("RQ-FLD-1", "RQ-FLD-R1", 300)
    shop.refund("RQ-FLD-1", "RQ-FLD-R2", 200, refund_account="REFUND_SOURCE_RECHARGE_FUNDS")
    h = shop.h
    body = shop.client.body({"out_trade_no": "RQ-FLD-1"})
    raw = h.http.post(h.base_url + REFUNDQUERY, content=body)
    assert raw.status_code == 200
    answer = from_xml(raw.content)
    assert verify(answer, shop.m.api_key)
    assert "sign_type" not in answer
    for n in range(2):
        assert f"refund_recv_accout_{n}" in answer
        assert f"refund_recv_account_{n}" not in answer, "the platform's spelling only"
        assert answer[f"refund_recv_accout_{n}"] == "支付用户零钱"
        assert answer[f"refund_channel_{n}"] == "ORIGINAL"
        assert answer[f"refund_status_{n}"] == "PROCESSING"
        assert f"refund_success_time_{n}" not in answer
        assert answer[f"settlement_refund_fee_{n}"] == answer[f"refund_fee_{n}"]
    assert answer["refund_account_0"] == "REFUND_SOURCE_UNSETTLED_FUNDS"
    assert answer["refund_account_1"] == "REFUND_SOURCE_RECHARGE_FUNDS"
    assert per_refund_fields(answer) == {
        f"{name}_{n}"
        for n in range(2)
        for name in (
            "out_refund_no",
            "refund_id",
            "refund_channel",
            "refund_fee",
            "settlement_refund_fee",
            "refund_status",
            "refund_account",
            "refund_recv_accout",
        )
    }
    for element in (
        b"<total_fee>1000</total_fee>",
        b"<cash_fee>1000</cash_fee>",
        b"<refund_fee>500</refund_fee>",
        b"<refund_count>2</refund_count>",
        b"<refund_fee_0>300</refund_fee_0>",
        b"<refund_fee_1>200</refund_fee_1>",
    ):
        assert element in raw.content, f"{element!r} is written bare"
    assert b"<refund_status_0><![CDATA[PROCESSING]]></refund_status_0>" in raw.content


def test_refund_fee_is_the_sum_of_refunds_not_closed(shop: Shop) -> None:
    freeze(shop.h)
    shop.order("RQ-SUM-1")
    shop.refund("RQ-SUM-1", "RQ-SUM-R1", 100)
    closing = shop.refund("RQ-SUM-1", "RQ-SUM-R2", 200)
    changing = shop.refund("RQ-SUM-1", "RQ-SUM-R3", 400)
    shop.h.control("POST", f"/_local/refunds/{closing}/outcome", {"refund_status": "REFUNDCLOSE"})
    shop.h.control("POST", f"/_local/refunds/{changing}/outcome", {"refund_status": "CHANGE"})
    answer = shop.query(out_trade_no="RQ-SUM-1")
    assert answer["refund_fee"] == "500", "100 PROCESSING + 400 CHANGE; the closed 200 not"
    assert [answer[f"refund_status_{n}"] for n in range(3)] == [
        "PROCESSING",
        "REFUNDCLOSE",
        "CHANGE",
    ]
    assert answer["refund_recv_accout_2"] == "商户基本账户"
    assert answer["refund_fee_1"] == "200", "the closed refund is still listed"


def test_hmac_sha256_answers_verify(relaxed: Harness, sink: MerchantSink) -> None:
    shop = Shop(relaxed, sink.url, SignType.HMAC_SHA256)
    shop.order("RQ-HMAC-1")
    refund_id = shop.refund("RQ-HMAC-1", "RQ-HMAC-R1", 1)
    answer = shop.query(refund_id=refund_id)  # BadSignature otherwise
    assert len(answer["sign"]) == 64
    assert verify(answer, shop.m.api_key, SignType.HMAC_SHA256)


# --- nothing found --------------------------------------------------------------------------------
def test_nothing_found_is_refundnotexist(relaxed: Harness, sink: MerchantSink) -> None:
    shop = Shop(relaxed, sink.url)
    other = Shop(relaxed, sink.url)
    paid = shop.order("RQ-NONE-1")
    for ids in (
        {"out_trade_no": "RQ-NONE-1"},  # paid, never refunded
        {"transaction_id": paid["transaction_id"]},
        {"out_trade_no": "RQ-NO-SUCH-ORDER"},
        {"transaction_id": "4200000000209901010000000000"},
        {"refund_id": "50300000000000000000000000000"},
        {"out_refund_no": "RQ-NO-SUCH-REFUND"},
    ):
        caught = shop.refused(**ids)
        assert caught.err_code == "REFUNDNOTEXIST", ids
        assert caught.err_code_des == "退款订单查询失败", ids  # docs/behaviour.md (text ours)
        assert verify(caught.fields, shop.m.api_key), "business failures are signed"

    refund_id = shop.refund("RQ-NONE-1", "RQ-NONE-R1", 1)
    # another merchant sees nothing of it
    for ids in (
        {"refund_id": refund_id},
        {"out_refund_no": "RQ-NONE-R1"},
        {"out_trade_no": "RQ-NONE-1"},
        {"transaction_id": paid["transaction_id"]},
    ):
        assert other.refused(**ids).err_code == "REFUNDNOTEXIST", ids

    unpaid = shop.client.unifiedorder(
        body="Test shop-Coffee",
        out_trade_no="RQ-NONE-2",
        total_fee=1000,
        spbill_create_ip="203.0.113.10",
        notify_url=shop.notify_url,
        trade_type="NATIVE",
        product_id="latte",
    )
    assert unpaid["result_code"] == "SUCCESS"
    assert shop.refused(out_trade_no="RQ-NONE-2").err_code == "REFUNDNOTEXIST"


def test_no_identifier_at_all_is_a_protocol_failure(shop: Shop) -> None:
    with pytest.raises(FaultError) as caught:
        shop.query()
    assert caught.value.return_msg == "缺少参数"


# --- settling -------------------------------------------------------------------------------------
def test_the_answer_settles_due_refunds_and_shows_success_time(shop: Shop) -> None:
    h = shop.h
    h.control("POST", "/_local/clock", {"now": "2024-05-01T16:20:10+08:00", "freeze": True})
    shop.order("RQ-SET-1")
    shop.refund("RQ-SET-1", "RQ-SET-R1", 300)
    h.advance(60)
    shop.refund("RQ-SET-1", "RQ-SET-R2", 200)
    h.advance(5)
    wallet = f"payer:{shop.payer}:wallet"
    wait_for(lambda: h.ledger()["accounts"].get(wallet) == 100_000 - 1000 + 500)
    answer = shop.query(out_trade_no="RQ-SET-1")
    assert [answer[f"refund_status_{n}"] for n in range(2)] == ["SUCCESS", "SUCCESS"]
    assert answer["refund_success_time_0"] == "2024-05-01 16:20:15"
    assert answer["refund_success_time_1"] == "2024-05-01 16:21:15"


@pytest.mark.parametrize("harness_settings", [{"dispatcher": False}], ids=["no-dispatcher"])
def test_refundquery_settles_by_itself_without_a_dispatcher(relaxed: Harness) -> None:
    """With no dispatcher running, refundquery alone moves a due refund to SUCCESS (and pays)."""
    h = relaxed
    shop = Shop(h, "http://127.0.0.1:9/notify")
    h.control("POST", "/_local/clock", {"now": "2024-05-01T16:20:10+08:00", "freeze": True})
    shop.order("RQ-SELF-1")
    refund_id = shop.refund("RQ-SELF-1", "RQ-SELF-R1", 300)
    h.advance(5)
    wallet = f"payer:{shop.payer}:wallet"
    assert h.ledger()["accounts"][IN_TRANSIT] == 300, "nothing settles on its own"
    answer = shop.query(refund_id=refund_id)
    assert answer["refund_status_0"] == "SUCCESS"
    assert answer["refund_success_time_0"] == "2024-05-01 16:20:15"
    accounts = h.ledger()["accounts"]
    assert accounts[IN_TRANSIT] == 0
    assert accounts[wallet] == 100_000 - 1000 + 300
