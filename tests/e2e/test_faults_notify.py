"""Notification faults (issue 12, part 3) with wechatpy over mutual TLS: the same payment
notification delivered twice (after an acknowledgement, and two copies at once), a delayed
first delivery, and the merchant that queries when no notification comes. The merchant's
handler is idempotent (it books a transaction once); the ledger shows one payment.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from wechatpy.pay import WeChatPay  # type: ignore[import-untyped]
from wechatpy_support import mtls_wechatpy

from wxpay_local.store import SqlStore
from wxpay_local.testing import Harness, MerchantSink, wait_for

pytestmark = pytest.mark.e2e

CLIENT_IP = "203.0.113.10"


@pytest.fixture
def mtls(store: SqlStore) -> Iterator[Harness]:
    with Harness.start(store, live=True) as harness:
        yield harness
        harness.assert_ledger_balanced()


@pytest.fixture
def shop(mtls: Harness, tmp_path: Path) -> Iterator[tuple[WeChatPay, str]]:
    merchant = mtls.merchant()
    client = mtls_wechatpy(mtls, merchant, tmp_path)
    yield client, merchant.mch_id
    client._http.close()


def order_and_pay(h: Harness, client: WeChatPay, out_trade_no: str, notify_url: str) -> int:
    created = client.order.create(
        trade_type="NATIVE",
        body="Test shop-Coffee",
        total_fee=1800,
        notify_url=notify_url,
        client_ip=CLIENT_IP,
        product_id="latte",
        out_trade_no=out_trade_no,
    )
    payer = h.payer(balance=10_000)["payer_id"]
    assert h.pay(payer, code_url=created["code_url"])["outcome"] == "SUCCESS"
    return int(payer)


def book(client: WeChatPay, bodies: list[bytes]) -> dict[str, int]:
    """The merchant's idempotent handler: verify each copy, book each transaction once."""
    booked: dict[str, int] = {}
    for body in bodies:
        note = client.parse_payment_result(body)  # raises on a bad signature
        booked.setdefault(note["transaction_id"], note["total_fee"])
    return booked


@pytest.mark.parametrize("action", ["notify_twice", "notify_together"])
def test_a_duplicated_notification_is_booked_once(
    mtls: Harness, shop: tuple[WeChatPay, str], sink: MerchantSink, action: str
) -> None:
    client, mch_id = shop
    rule = mtls.fault(action, mch_id=mch_id, endpoint="payment_notify", times=1)
    payer = order_and_pay(mtls, client, "NOTE-DUP", sink.url)
    copies = wait_for(lambda: sink.received if len(sink.received) >= 2 else None)
    assert copies[0].body == copies[1].body  # the same notification, byte for byte
    assert book(client, [c.body for c in copies]) == {
        client.order.query(out_trade_no="NOTE-DUP")["transaction_id"]: 1800
    }
    assert mtls.fault_rule(rule["id"])["fired"] == 1
    accounts = mtls.ledger()["accounts"]
    assert accounts[f"payer:{payer}:wallet"] == 10_000 - 1800
    [entry] = [e for e in mtls.journal(mch_id=mch_id) if e["endpoint"] == "payment_notify"]
    assert entry["explanation"]["fault"].startswith(f"rule #{rule['id']} applied: ")


def test_a_delayed_first_delivery_still_arrives(
    mtls: Harness, shop: tuple[WeChatPay, str], sink: MerchantSink
) -> None:
    client, mch_id = shop
    mtls.fault("notify_delay", delay_ms=600, endpoint="payment_notify", times=1)
    started = time.monotonic()
    order_and_pay(mtls, client, "NOTE-LATE", sink.url)
    [copy] = wait_for(lambda: sink.received)
    assert time.monotonic() - started >= 0.6
    assert client.parse_payment_result(copy.body)["out_trade_no"] == "NOTE-LATE"


def test_no_notification_then_query(
    mtls: Harness, shop: tuple[WeChatPay, str], sink: MerchantSink
) -> None:
    """The notify_url is unreachable (nothing listens): the merchant, having heard nothing,
    queries and finds the payment; the platform keeps retrying on its schedule."""
    client, mch_id = shop
    order_and_pay(mtls, client, "NOTE-NONE", "http://127.0.0.1:9/notify")
    assert client.order.query(out_trade_no="NOTE-NONE")["trade_state"] == "SUCCESS"
    mtls.dispatch()
    [note] = mtls.notifications(mch_id)
    assert note["status"] == "pending" and len(note["attempts"]) >= 1


def test_an_acknowledgement_lost_to_a_timeout_is_retried_on_schedule(
    mtls: Harness, shop: tuple[WeChatPay, str], sink: MerchantSink
) -> None:
    """The merchant reads the body and answers, but the platform times out first: the attempt
    counts as failed and the real schedule (15 s later) delivers it again."""
    client, mch_id = shop
    mtls.fault("notify_lost_ack", endpoint="payment_notify", times=1)
    order_and_pay(mtls, client, "NOTE-ACK", sink.url)
    wait_for(lambda: sink.received)
    [note] = wait_for(lambda: [n for n in mtls.notifications(mch_id) if n["attempts"]])
    assert note["status"] == "pending"
    assert note["attempts"][0]["reason"].startswith("timed out after the merchant read the body")
    mtls.advance(14)
    mtls.dispatch()
    assert len(sink.received) == 1  # not yet: the first retry is 15 s after the first attempt
    mtls.advance(1)
    mtls.dispatch()
    copies = wait_for(lambda: sink.received if len(sink.received) == 2 else None)
    assert copies[0].body == copies[1].body
    [note] = mtls.notifications(mch_id)
    assert note["status"] == "delivered" and len(note["attempts"]) == 2


def test_the_refund_notification_arrives_before_the_payment_notification(
    mtls: Harness, shop: tuple[WeChatPay, str], sink: MerchantSink
) -> None:
    """The payment notification's first delivery is lost on the way; the merchant refunds at
    once; the refund notification (the refund settles 5 s later) reaches the merchant first, and
    the payment notification follows at the schedule's first retry, 15 s after the first try."""
    client, mch_id = shop
    mtls.fault("notify_lost", endpoint="payment_notify", times=1)
    order_and_pay(mtls, client, "NOTE-ORDER", sink.url)
    [note] = wait_for(lambda: [n for n in mtls.notifications(mch_id) if n["attempts"]])
    assert (
        note["attempts"][0]["reason"] == "lost on the way: never reached the merchant (fault rule)"
    )
    assert sink.received == []
    refund = client.refund.apply(
        total_fee=1800,
        refund_fee=1800,
        out_refund_no="NOTE-ORDER-R1",
        out_trade_no="NOTE-ORDER",
        notify_url=sink.url,
    )
    assert refund["result_code"] == "SUCCESS"
    mtls.advance(6)
    mtls.dispatch()
    [first] = wait_for(lambda: sink.received)
    refunded = client.parse_refund_notify_result(first.body)
    assert (refunded["out_refund_no"], refunded["refund_status"]) == ("NOTE-ORDER-R1", "SUCCESS")
    mtls.advance(8)  # 14 s after the first try: no retry yet
    mtls.dispatch()
    assert len(sink.received) == 1
    mtls.advance(1)
    mtls.dispatch()
    first, second = wait_for(lambda: sink.received if len(sink.received) == 2 else None)
    paid = client.parse_payment_result(second.body)
    assert (paid["out_trade_no"], paid["result_code"]) == ("NOTE-ORDER", "SUCCESS")
