"""Payment notifications (refunds spec §4): content and signature, the merchant's ack, retries.

Every test drives a real merchant endpoint (``MerchantSink``) on loopback; retries are driven
by the platform clock, never by sleeping through the schedule.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import pytest

from reference_client import OracleHarness
from reference_wire import from_xml, verify
from wxpay_local.codes import SignType
from wxpay_local.store import SqlStore
from wxpay_local.testing import Harness, MerchantInfo, MerchantSink, wait_for
from wxpay_local.testing.harness import free_port

pytestmark = pytest.mark.api

SUCCESS_XML = (
    b"<xml><return_code><![CDATA[SUCCESS]]></return_code>"
    b"<return_msg><![CDATA[OK]]></return_msg></xml>"
)
FAIL_BUSY = b"<xml><return_code><![CDATA[FAIL]]></return_code><return_msg>busy</return_msg></xml>"

#: §4.5: the offset of each of the 16 deliveries from the first one, in seconds.
OFFSETS = (
    0,
    15,
    30,
    60,
    4 * 60,
    14 * 60,
    34 * 60,
    3840,  # 1 h 04 min
    5640,  # 1 h 34 min
    7440,  # 2 h 04 min
    11040,  # 3 h 04 min
    21840,  # 6 h 04 min
    32640,  # 9 h 04 min
    43440,  # 12 h 04 min
    65040,  # 18 h 04 min
    86640,  # 24 h 04 min
)
DAY = 86_400

#: §4.2: what a notification of a paid order carries (no device_info was sent).
DOCUMENTED_FIELDS = {
    "appid",
    "attach",
    "bank_type",
    "cash_fee",
    "fee_type",
    "is_subscribe",
    "mch_id",
    "nonce_str",
    "openid",
    "out_trade_no",
    "result_code",
    "return_code",
    "sign",
    "time_end",
    "total_fee",
    "trade_type",
    "transaction_id",
}


def _paid_order(
    platform: Harness,
    notify_url: str,
    *,
    sign_type: SignType = SignType.MD5,
    out_trade_no: str = "N0001",
    **extra: Any,
) -> tuple[MerchantInfo, dict[str, str]]:
    """A merchant with one NATIVE order paid by a fresh payer; the orderquery answer."""
    merchant = platform.merchant()
    client = platform.client(merchant, sign_type=sign_type)
    payer = platform.payer(balance=10_000)
    answer = client.unifiedorder(
        body="Test shop-Coffee",
        out_trade_no=out_trade_no,
        total_fee=1800,
        spbill_create_ip="203.0.113.10",
        notify_url=notify_url,
        trade_type="NATIVE",
        product_id="latte",
        **extra,
    )
    paid = platform.pay(payer["payer_id"], code_url=answer["code_url"])
    assert paid["outcome"] == "SUCCESS", paid
    return merchant, client.orderquery(out_trade_no=out_trade_no)


def _only_notification(platform: Harness, merchant: MerchantInfo) -> dict[str, Any]:
    notes = platform.notifications(merchant.mch_id)
    assert len(notes) == 1, notes
    return notes[0]


def _wait_attempts(platform: Harness, merchant: MerchantInfo, count: int) -> dict[str, Any]:
    """The merchant's notification once it has ``count`` recorded attempts."""

    def ready() -> dict[str, Any] | None:
        note = _only_notification(platform, merchant)
        return note if len(note["attempts"]) >= count else None

    wait_for(ready)
    # Read again: on PostgreSQL one listing can pair a notification row read just before the
    # attempt's commit with the attempts read just after it (READ COMMITTED; see the report).
    note = _only_notification(platform, merchant)
    assert len(note["attempts"]) == count, note["attempts"]
    return note


def _freeze(platform: Harness) -> datetime:
    clock = platform.control("POST", "/_local/clock", {"freeze": True})
    assert clock["frozen"] is True
    return datetime.fromisoformat(clock["now"])


def _nothing_more(platform: Harness, sink: MerchantSink, received: int) -> None:
    """Nothing is due: a synchronous dispatch attempts nothing and the sink stays quiet."""
    assert platform.dispatch() == 0
    time.sleep(0.2)
    assert len(sink.received) == received


# content and signature -------------------------------------------------------------------------
def test_paid_order_is_notified_once_with_the_documented_signed_fields(
    platform: Harness, sink: MerchantSink
) -> None:
    nonce = "5f0c3a8e2b7d4c19a6e0f3b2d1c4a597"
    merchant, query = _paid_order(platform, sink.url, nonce_str=nonce, attach="store=SZ01")

    received = wait_for(lambda: sink.received)
    note = _wait_attempts(platform, merchant, 1)
    assert note["status"] == "delivered"
    _nothing_more(platform, sink, 1)
    assert len(_only_notification(platform, merchant)["attempts"]) == 1

    request = received[0]
    assert request.path == "/wxpay/notify"  # no query string appended
    fields = from_xml(request.body)
    assert verify(fields, merchant.api_key)  # MD5 by default
    assert len(fields["sign"]) == 32
    assert set(fields) == DOCUMENTED_FIELDS
    assert "sign_type" not in fields
    assert list(fields) == sorted(fields), "elements are in alphabetical order"
    assert all(value != "" for value in fields.values()), fields
    assert b"<![CDATA[]]>" not in request.body
    assert b"<total_fee>1800</total_fee>" in request.body, "total_fee is written bare"

    assert fields["return_code"] == "SUCCESS" and fields["result_code"] == "SUCCESS"
    assert fields["appid"] == merchant.apps["official_account"]
    assert fields["mch_id"] == merchant.mch_id
    assert fields["nonce_str"] == nonce, "the order's nonce_str is reused"
    assert fields["out_trade_no"] == "N0001"
    assert fields["transaction_id"] == query["transaction_id"]
    assert fields["openid"] == query["openid"]
    assert fields["time_end"] == query["time_end"] and len(fields["time_end"]) == 14
    assert fields["total_fee"] == "1800" and fields["cash_fee"] == "1800"
    assert fields["fee_type"] == "CNY"
    assert fields["bank_type"] == query["bank_type"]
    assert fields["is_subscribe"] in ("Y", "N")
    assert fields["trade_type"] == "NATIVE"
    assert fields["attach"] == "store=SZ01"


def test_hmac_sha256_order_is_notified_with_md5_by_default(
    live: Harness, sink: MerchantSink
) -> None:
    """Spec README: notifications are MD5 by default (HMAC is a merchant opt-in, see
    test_notify_sign_type.py for every setting)."""
    merchant, query = _paid_order(live, sink.url, sign_type=SignType.HMAC_SHA256)
    fields = from_xml(wait_for(lambda: sink.received)[0].body)
    assert "sign_type" not in fields
    assert len(fields["sign"]) == 32
    assert verify(fields, merchant.api_key, SignType.MD5)
    assert fields["transaction_id"] == query["transaction_id"]
    assert "attach" not in fields, "attach only when the order had one"


# the retry schedule ------------------------------------------------------------------------
def test_failed_notifications_follow_the_schedule_to_sixteen_deliveries(
    platform: Harness, sink: MerchantSink
) -> None:
    sink.answers = [(200, FAIL_BUSY)]
    _freeze(platform)
    merchant, _ = _paid_order(platform, sink.url)

    note = _wait_attempts(platform, merchant, 1)
    assert note["status"] == "pending"
    first = datetime.fromisoformat(note["attempts"][0]["at"])
    assert datetime.fromisoformat(note["next_attempt_at"]) == first + timedelta(seconds=15)

    platform.advance(14)
    _nothing_more(platform, sink, 1)
    elapsed = 14
    for number, offset in enumerate(OFFSETS[1:], start=2):
        if offset - 1 > elapsed:
            platform.advance(offset - 1 - elapsed)  # one second early: not yet
            assert platform.dispatch() == 0, f"delivery {number} came before +{offset} s"
            assert len(sink.received) == number - 1
        platform.advance(1)
        elapsed = offset
        note = _wait_attempts(platform, merchant, number)
        at = datetime.fromisoformat(note["attempts"][-1]["at"])
        assert at == first + timedelta(seconds=offset), (number, at - first)
        assert note["status"] == ("exhausted" if number == len(OFFSETS) else "pending")

    assert OFFSETS[-1] == 24 * 3600 + 4 * 60
    platform.advance(DAY)
    _nothing_more(platform, sink, len(OFFSETS))
    note = _only_notification(platform, merchant)
    assert note["status"] == "exhausted"
    assert note["next_attempt_at"] is None
    assert note["delivered_at"] is None

    attempts = note["attempts"]
    assert [a["number"] for a in attempts] == list(range(1, 17))
    assert [datetime.fromisoformat(a["at"]) - first for a in attempts] == [
        timedelta(seconds=s) for s in OFFSETS
    ]
    for attempt in attempts:
        assert attempt["ok"] is False
        assert attempt["http_status"] == 200
        assert isinstance(attempt["latency_ms"], int) and attempt["latency_ms"] >= 0
        assert attempt["reason"] == "return_code=FAIL (busy)"
        assert attempt["excerpt"] == FAIL_BUSY.decode()
    assert len(sink.received) == 16
    assert len({r.body for r in sink.received}) == 1, "every retry carries identical bytes"


def test_fail_twice_then_success_stops_after_the_third_delivery(
    live: Harness, sink: MerchantSink
) -> None:
    platform = live
    sink.answer_fail_then_success(2)
    merchant, _ = _paid_order(platform, sink.url)
    note = _wait_attempts(platform, merchant, 1)
    assert note["status"] == "pending"
    platform.advance(15)
    _wait_attempts(platform, merchant, 2)
    platform.advance(15)
    note = _wait_attempts(platform, merchant, 3)
    assert note["status"] == "delivered"
    assert [a["ok"] for a in note["attempts"]] == [False, False, True]
    assert note["attempts"][-1]["reason"] == "acknowledged"
    assert note["delivered_at"] == note["attempts"][-1]["at"]
    assert note["next_attempt_at"] is None

    platform.advance(DAY)
    _nothing_more(platform, sink, 3)
    assert len(_only_notification(platform, merchant)["attempts"]) == 3


# what counts as an acknowledgement (§4.4) ------------------------------------------------------
#: The merchant's answer does not depend on the database or on how the control plane is reached:
#: these run in-process on SQLite only (the dispatcher still posts to the sink over a socket).
F = TypeVar("F", bound=Callable[..., None])


def judge_only(test: F) -> F:
    marked: F = pytest.mark.parametrize("platform", [("inproc", "sqlite")], indirect=True)(test)
    return marked


def _judged(platform: Harness, notify_url: str) -> tuple[dict[str, Any], dict[str, Any]]:
    merchant, _ = _paid_order(platform, notify_url)
    note = _wait_attempts(platform, merchant, 1)
    return note, note["attempts"][0]


@judge_only
@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        pytest.param((500, SUCCESS_XML), "HTTP status 500", id="http-500"),
        pytest.param((200, b"success"), "not a v2 XML document", id="plain-success"),
        pytest.param(
            (200, b'{"return_code":"SUCCESS","return_msg":"OK"}'),
            "not a v2 XML document",
            id="json",
        ),
        pytest.param(
            (200, b"<!DOCTYPE html><html><body>SUCCESS</body></html>"),
            "not a v2 XML document",
            id="html",
        ),
        pytest.param((200, b""), "empty body", id="empty"),
        pytest.param(
            (200, b"<xml><return_msg><![CDATA[OK]]></return_msg></xml>"),
            "no return_code",
            id="xml-without-return_code",
        ),
        pytest.param(
            (200, b"<xml><return_code>success</return_code></xml>"),
            "return_code=success",
            id="lowercase-success",
        ),
    ],
)
def test_answers_judged_as_failure_are_retried(
    platform: Harness, sink: MerchantSink, answer: tuple[int, bytes], reason: str
) -> None:
    sink.answers = [answer]
    note, attempt = _judged(platform, sink.url)
    assert attempt["ok"] is False
    assert reason in attempt["reason"], attempt
    assert attempt["http_status"] == answer[0]
    assert attempt["excerpt"] == answer[1].decode()
    assert note["status"] == "pending"
    assert note["delivered_at"] is None
    assert note["next_attempt_at"] is not None


@judge_only
def test_a_merchant_slower_than_the_timeout_is_a_failure(
    platform: Harness, sink: MerchantSink
) -> None:
    sink.delay = 2.6  # the harness's notify timeout is 2 s
    note, attempt = _judged(platform, sink.url)
    assert attempt["ok"] is False
    assert attempt["reason"] == "timed out after 2 s"
    assert attempt["http_status"] is None
    assert attempt["latency_ms"] >= 1900
    assert note["status"] == "pending"
    assert len(sink.received) == 1


@judge_only
def test_a_refused_connection_is_a_failure(platform: Harness) -> None:
    note, attempt = _judged(platform, f"http://127.0.0.1:{free_port()}/wxpay/notify")
    assert attempt["ok"] is False
    assert attempt["reason"].startswith("connection failed"), attempt
    assert attempt["http_status"] is None
    assert note["status"] == "pending"


@judge_only
@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(b"\xef\xbb\xbf \r\n" + SUCCESS_XML + b"\n\t ", id="bom-and-whitespace"),
        pytest.param(b"<xml><return_code>SUCCESS</return_code></xml>", id="plain-text-no-cdata"),
    ],
)
def test_tolerated_acknowledgements_are_success(
    platform: Harness, sink: MerchantSink, answer: bytes
) -> None:
    sink.answers = [(200, answer)]
    note, attempt = _judged(platform, sink.url)
    assert attempt["ok"] is True
    assert attempt["reason"] == "acknowledged"
    assert note["status"] == "delivered"
    platform.advance(60)
    _nothing_more(platform, sink, 1)


# redelivery and durability -------------------------------------------------------------------
def test_redeliver_sends_the_same_body_again(live: Harness, sink: MerchantSink) -> None:
    platform = live
    merchant, _ = _paid_order(platform, sink.url)
    note = _wait_attempts(platform, merchant, 1)
    assert note["status"] == "delivered"

    answer = platform.control("POST", f"/_local/notifications/{note['id']}/redeliver")
    assert answer == {"requeued": note["id"]}
    note = _wait_attempts(platform, merchant, 2)
    assert note["status"] == "delivered"
    assert [a["number"] for a in note["attempts"]] == [1, 2]
    assert all(a["ok"] for a in note["attempts"])
    wait_for(lambda: len(sink.received) == 2)
    assert sink.received[0].body == sink.received[1].body
    _nothing_more(platform, sink, 2)


def test_redeliver_of_an_unknown_notification_is_404(platform: Harness) -> None:
    platform.control("POST", "/_local/notifications/999999/redeliver", expect=404)


def test_pending_retry_survives_a_restart(store: SqlStore, sink: MerchantSink) -> None:
    sink.answer_fail_then_success(1)
    with OracleHarness.start(store, live=True) as first:
        merchant, query = _paid_order(first, sink.url)
        note = _wait_attempts(first, merchant, 1)
        assert note["status"] == "pending"
        assert note["attempts"][0]["reason"] == "return_code=FAIL (busy)"

    with OracleHarness.start(store, live=True) as second:
        note = _only_notification(second, merchant)
        assert note["status"] == "pending" and len(note["attempts"]) == 1
        _nothing_more(second, sink, 1)
        second.advance(15)
        note = _wait_attempts(second, merchant, 2)
        assert note["status"] == "delivered"
        assert note["attempts"][1]["ok"] is True
        wait_for(lambda: len(sink.received) == 2)
        assert sink.received[0].body == sink.received[1].body
        assert from_xml(sink.received[1].body)["transaction_id"] == query["transaction_id"]
        second.assert_ledger_balanced()


def test_dispatch_returns_once_the_notification_is_delivered(
    platform: Harness, sink: MerchantSink
) -> None:
    """``POST /_local/dispatch`` right after a payment: whether it or the background dispatcher
    claimed the notification, the merchant has it when the call returns."""
    for number in range(20):
        before = len(sink.received)
        _paid_order(platform, sink.url, out_trade_no=f"D{number:04d}")
        platform.dispatch()
        assert len(sink.received) == before + 1
