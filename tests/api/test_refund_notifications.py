"""退款结果通知 (refunds spec §5; docs/behaviour.md "Refunds", "Notifications").

When a refund reaches SUCCESS, CHANGE or REFUNDCLOSE the platform posts an unsigned ``<xml>``
with ``req_info`` = Base64(AES-256-ECB(key = hex MD5 of the API key, PKCS#7 to 16 bytes)) of a
``<root>`` document. ``req_info`` is decrypted here with an implementation of §5.3 written for
this test (``cryptography`` directly), not with ``wxpay_local.wire.crypto``.

Refunds are created with the client-certificate check relaxed (``require_client_cert=False``);
payment notifications go to a sink of their own so that the refund sink sees refunds only.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from wxpay_local.codes import SignType
from wxpay_local.sdk import Client
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
FAIL_BUSY = b"<xml><return_code><![CDATA[FAIL]]></return_code><return_msg>busy</return_msg></xml>"

#: §5.2 / §5.5: return_code bare, then appid, mch_id, nonce_str, req_info in CDATA; no sign.
OUTER = re.compile(
    r"<xml>\n"
    r"<return_code>SUCCESS</return_code>\n"
    r"<appid><!\[CDATA\[(?P<appid>[^\]]+)\]\]></appid>\n"
    r"<mch_id><!\[CDATA\[(?P<mch_id>[^\]]+)\]\]></mch_id>\n"
    r"<nonce_str><!\[CDATA\[(?P<nonce_str>[^\]]+)\]\]></nonce_str>\n"
    r"<req_info><!\[CDATA\[(?P<req_info>[A-Za-z0-9+/=]+)\]\]></req_info>\n"
    r"</xml>"
)
INNER_LINE = re.compile(r"<(?P<name>[a-z_]+)><!\[CDATA\[(?P<value>[^\]]*)\]\]></(?P=name)>")
#: §5.4: every field but success_time (SUCCESS only).
INNER_FIELDS = {
    "out_refund_no",
    "out_trade_no",
    "refund_account",
    "refund_fee",
    "refund_id",
    "refund_recv_accout",
    "refund_request_source",
    "refund_status",
    "settlement_refund_fee",
    "settlement_total_fee",
    "total_fee",
    "transaction_id",
}


# --- §5.3, written for this test ----------------------------------------------------------
def decrypt(req_info: str, api_key: str) -> bytes:
    """Base64 → AES-256-ECB with the 32 ASCII hex chars of MD5(key) → strict PKCS#7/16."""
    key = hashlib.md5(api_key.encode("utf-8")).hexdigest().encode("ascii")
    assert len(key) == 32
    data = base64.b64decode(req_info, validate=True)
    assert len(data) % 16 == 0 and data
    decryptor = Cipher(algorithms.AES(key), modes.ECB()).decryptor()
    padded = decryptor.update(data) + decryptor.finalize()
    pad = padded[-1]
    assert 1 <= pad <= 16, f"pad byte {pad} is not PKCS#7 for 16-byte blocks"
    assert padded[-pad:] == bytes([pad]) * pad
    return padded[:-pad]


def parse_root(plaintext: bytes) -> dict[str, str]:
    """The §5.4 layout, strictly: <root>, one CDATA element a line, alphabetical, no trailer."""
    text = plaintext.decode("utf-8")
    lines = text.split("\n")
    assert lines[0] == "<root>" and lines[-1] == "</root>", text
    assert not text.endswith("\n") and not text.startswith("<?xml")
    fields: dict[str, str] = {}
    for line in lines[1:-1]:
        match = INNER_LINE.fullmatch(line)
        assert match, line
        fields[match["name"]] = match["value"]
    assert list(fields) == sorted(fields), "alphabetical order"
    return fields


def outer(body: bytes) -> dict[str, str]:
    match = OUTER.fullmatch(body.decode("utf-8"))
    assert match, body
    assert b"<sign>" not in body and b"sign_type" not in body
    return match.groupdict()


# --- fixtures and helpers -----------------------------------------------------------------


@pytest.fixture
def pay_sink() -> Iterator[MerchantSink]:
    with MerchantSink() as s:
        yield s


class Shop:
    def __init__(self, h: Harness, pay_url: str, sign_type: SignType = SignType.MD5) -> None:
        self.h = h
        self.pay_url = pay_url
        self.m: MerchantInfo = h.merchant()
        self.client: Client = h.client(self.m, sign_type=sign_type)
        self.payer = int(h.payer(balance=10_000, cards=["CMB_CREDIT"])["payer_id"])

    def order(self, out_trade_no: str, card_id: int | None = None) -> dict[str, str]:
        answer = self.client.unifiedorder(
            body="Test shop-Coffee",
            out_trade_no=out_trade_no,
            total_fee=1000,
            spbill_create_ip="203.0.113.10",
            notify_url=self.pay_url,
            trade_type="NATIVE",
            product_id="latte",
        )
        extra: dict[str, Any] = {} if card_id is None else {"card_id": card_id}
        paid = self.h.pay(self.payer, code_url=answer["code_url"], **extra)
        assert paid["outcome"] == "SUCCESS", paid
        return self.client.orderquery(out_trade_no=out_trade_no)

    def refund(self, out_trade_no: str, out_refund_no: str, refund_fee: int, **kw: Any) -> str:
        answer = self.client.call(
            REFUND,
            out_trade_no=out_trade_no,
            out_refund_no=out_refund_no,
            total_fee=1000,
            refund_fee=refund_fee,
            **kw,
        )
        return answer["refund_id"]

    def notes(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.h.control(
            "GET", "/_local/notifications", mch_id=self.m.mch_id, kind="refund"
        )["notifications"]
        return found

    def note_with(self, refund_id: str, attempts: int = 1) -> dict[str, Any]:
        """The refund's notification once it has ``attempts`` recorded attempts."""

        def ready() -> dict[str, Any] | None:
            for note in self.notes():
                if note["refund_id"] == refund_id and len(note["attempts"]) >= attempts:
                    return note
            return None

        wait_for(ready)
        note = next(n for n in self.notes() if n["refund_id"] == refund_id)  # read again (PG)
        assert len(note["attempts"]) == attempts, note["attempts"]
        return note


@pytest.fixture
def shop(relaxed: Harness, pay_sink: MerchantSink) -> Shop:
    return Shop(relaxed, pay_sink.url)


def freeze(h: Harness, now: str = "2024-05-01T16:20:10+08:00") -> datetime:
    clock = h.control("POST", "/_local/clock", {"now": now, "freeze": True})
    return datetime.fromisoformat(clock["now"])


def force(h: Harness, refund_id: str, status: str) -> None:
    h.control("POST", f"/_local/refunds/{refund_id}/outcome", {"refund_status": status})


def received_by(sink: MerchantSink, count: int) -> list[bytes]:
    wait_for(lambda: len(sink.received) >= count)
    return [r.body for r in sink.received]


# --- content ---------------------------------------------------------------------------------
def test_success_notification_outer_layout_and_decrypted_root(
    shop: Shop, sink: MerchantSink
) -> None:
    h, m = shop.h, shop.m
    freeze(h)
    order = shop.order("RN-OK-1")
    refund_id = shop.refund("RN-OK-1", "RN-OK-R1", 300, notify_url=sink.url)
    h.advance(4)
    assert h.dispatch() == 0
    assert sink.received == [] and shop.notes() == [], "nothing before the refund is final"

    h.advance(1)
    note = shop.note_with(refund_id)
    assert note["status"] == "delivered" and note["kind"] == "refund"
    assert note["url"] == sink.url
    assert note["attempts"][0]["ok"] is True
    [body] = received_by(sink, 1)
    assert sink.received[0].path == "/wxpay/notify"

    fields = outer(body)
    assert fields["appid"] == m.apps["official_account"]
    assert fields["mch_id"] == m.mch_id
    assert re.fullmatch(r"[0-9a-f]{32}", fields["nonce_str"]), fields["nonce_str"]
    assert len(base64.b64decode(fields["req_info"])) % 16 == 0

    inner = parse_root(decrypt(fields["req_info"], m.api_key))
    assert set(inner) == INNER_FIELDS | {"success_time"}
    assert inner == {
        "out_refund_no": "RN-OK-R1",
        "out_trade_no": "RN-OK-1",
        "refund_account": "REFUND_SOURCE_UNSETTLED_FUNDS",
        "refund_fee": "300",
        "refund_id": refund_id,
        "refund_recv_accout": "支付用户零钱",
        "refund_request_source": "API",
        "refund_status": "SUCCESS",
        "settlement_refund_fee": "300",
        "settlement_total_fee": "1000",
        "success_time": "2024-05-01 16:20:15",
        "total_fee": "1000",
        "transaction_id": order["transaction_id"],
    }
    query = shop.client.call(REFUNDQUERY, refund_id=refund_id)
    assert query["refund_success_time_0"] == inner["success_time"]

    h.advance(86_400)
    assert h.dispatch() == 0
    assert len(sink.received) == 1, "an acknowledged notification is not sent again"


def test_change_and_refundclose_are_notified_without_success_time(
    shop: Shop, sink: MerchantSink
) -> None:
    h, m = shop.h, shop.m
    freeze(h)
    card = h.control("GET", f"/_local/payers/{shop.payer}")["cards"][0]
    shop.order("RN-CHG-1", card_id=card["card_id"])
    changed = shop.refund(
        "RN-CHG-1",
        "RN-CHG-R1",
        300,
        notify_url=sink.url,
        refund_account="REFUND_SOURCE_RECHARGE_FUNDS",
    )
    closed = shop.refund("RN-CHG-1", "RN-CHG-R2", 200, notify_url=sink.url)
    force(h, changed, "CHANGE")
    force(h, closed, "REFUNDCLOSE")
    shop.note_with(changed)
    shop.note_with(closed)
    bodies = received_by(sink, 2)
    inner = {
        f["refund_id"]: f
        for f in (parse_root(decrypt(outer(b)["req_info"], m.api_key)) for b in bodies)
    }
    assert set(inner) == {changed, closed}
    assert set(inner[changed]) == INNER_FIELDS and set(inner[closed]) == INNER_FIELDS
    assert inner[changed]["refund_status"] == "CHANGE"
    assert inner[changed]["refund_recv_accout"] == "商户基本账户"
    assert inner[changed]["refund_account"] == "REFUND_SOURCE_RECHARGE_FUNDS"
    assert inner[changed]["refund_fee"] == "300"
    assert inner[closed]["refund_status"] == "REFUNDCLOSE"
    assert inner[closed]["refund_recv_accout"] == f"招商银行信用卡{card['last4']}"
    assert inner[closed]["refund_fee"] == "200"


def test_card_refund_success_names_the_card(shop: Shop, sink: MerchantSink) -> None:
    h = shop.h
    card = h.control("GET", f"/_local/payers/{shop.payer}")["cards"][0]
    shop.order("RN-CARD-1", card_id=card["card_id"])
    refund_id = shop.refund("RN-CARD-1", "RN-CARD-R1", 1000, notify_url=sink.url)
    force(h, refund_id, "SUCCESS")
    shop.note_with(refund_id)
    [body] = received_by(sink, 1)
    inner = parse_root(decrypt(outer(body)["req_info"], shop.m.api_key))
    assert inner["refund_status"] == "SUCCESS"
    assert inner["refund_recv_accout"] == f"招商银行信用卡{card['last4']}"
    assert inner["refund_fee"] == inner["total_fee"] == "1000"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", inner["success_time"])


def test_change_then_success_is_notified_again(shop: Shop, sink: MerchantSink) -> None:
    """Spec §2.5: a notification is sent on *entering* SUCCESS, REFUNDCLOSE or CHANGE; a CHANGE
    refund handled by hand enters SUCCESS."""
    h, m = shop.h, shop.m
    freeze(h)
    shop.order("RN-C2S-1")
    refund_id = shop.refund("RN-C2S-1", "RN-C2S-R1", 300, notify_url=sink.url)
    force(h, refund_id, "CHANGE")
    shop.note_with(refund_id)
    h.advance(60)
    force(h, refund_id, "SUCCESS")
    notes = [n for n in shop.notes() if n["refund_id"] == refund_id]
    assert len(notes) == 2, "entering SUCCESS from CHANGE is notified too"
    bodies = received_by(sink, 2)
    statuses = [parse_root(decrypt(outer(b)["req_info"], m.api_key)) for b in bodies]
    assert [s["refund_status"] for s in statuses] == ["CHANGE", "SUCCESS"]
    assert statuses[1]["success_time"] == "2024-05-01 16:21:10"
    assert statuses[1]["refund_recv_accout"] == "支付用户零钱"


def test_hmac_merchant_gets_the_same_unsigned_notification(
    relaxed: Harness, pay_sink: MerchantSink, sink: MerchantSink
) -> None:
    shop = Shop(relaxed, pay_sink.url, SignType.HMAC_SHA256)
    shop.order("RN-HMAC-1")
    refund_id = shop.refund("RN-HMAC-1", "RN-HMAC-R1", 1, notify_url=sink.url)
    force(relaxed, refund_id, "SUCCESS")
    shop.note_with(refund_id)
    [body] = received_by(sink, 1)
    inner = parse_root(decrypt(outer(body)["req_info"], shop.m.api_key))
    assert inner["refund_id"] == refund_id


# --- where it goes --------------------------------------------------------------------------------
def test_refund_notify_url_wins_then_the_merchant_default_then_none(
    shop: Shop, sink: MerchantSink
) -> None:
    h, m = shop.h, shop.m
    with MerchantSink() as default:
        answer = h.control(
            "POST",
            f"/_local/merchants/{m.mch_id}/refund-notify-url",
            {"refund_notify_url": default.url},
        )
        assert answer == {"mch_id": m.mch_id, "refund_notify_url": default.url}
        shop.order("RN-URL-1")
        own = shop.refund("RN-URL-1", "RN-URL-R1", 100, notify_url=sink.url)
        fallback = shop.refund("RN-URL-1", "RN-URL-R2", 100)
        force(h, own, "SUCCESS")
        force(h, fallback, "SUCCESS")
        assert shop.note_with(own)["url"] == sink.url
        assert shop.note_with(fallback)["url"] == default.url
        [mine] = received_by(sink, 1)
        [theirs] = received_by(default, 1)
        assert parse_root(decrypt(outer(mine)["req_info"], m.api_key))["refund_id"] == own
        assert parse_root(decrypt(outer(theirs)["req_info"], m.api_key))["refund_id"] == fallback

        # no default and no notify_url: no notification at all
        h.control(
            "POST", f"/_local/merchants/{m.mch_id}/refund-notify-url", {"refund_notify_url": ""}
        )
        silent = shop.refund("RN-URL-1", "RN-URL-R3", 100)
        force(h, silent, "SUCCESS")
        h.dispatch()
        assert all(n["refund_id"] != silent for n in shop.notes())
        assert len(shop.notes()) == 2
        assert len(default.received) == 1 and len(sink.received) == 1


def test_listing_by_kind_separates_refund_and_payment_notifications(
    shop: Shop, sink: MerchantSink, pay_sink: MerchantSink
) -> None:
    h, m = shop.h, shop.m
    order = shop.order("RN-KIND-1")
    refund_id = shop.refund("RN-KIND-1", "RN-KIND-R1", 100, notify_url=sink.url)
    force(h, refund_id, "SUCCESS")
    note = shop.note_with(refund_id)
    assert note["out_trade_no"] == "RN-KIND-1"
    assert note["transaction_id"] == order["transaction_id"]
    payments = h.control("GET", "/_local/notifications", mch_id=m.mch_id, kind="payment")[
        "notifications"
    ]
    assert [(n["kind"], n["refund_id"]) for n in payments] == [("payment", None)]
    assert [n["kind"] for n in shop.notes()] == ["refund"]
    wait_for(lambda: pay_sink.received)
    assert all(b"req_info" not in r.body for r in pay_sink.received)


# --- retries --------------------------------------------------------------------------------------
def test_failed_refund_notification_is_retried_on_schedule_with_identical_bytes(
    shop: Shop, sink: MerchantSink
) -> None:
    h = shop.h
    sink.answers = [(200, FAIL_BUSY)] * 2 + [sink.answers[-1]]
    freeze(h)
    shop.order("RN-RETRY-1")
    refund_id = shop.refund("RN-RETRY-1", "RN-RETRY-R1", 300, notify_url=sink.url)
    force(h, refund_id, "SUCCESS")
    note = shop.note_with(refund_id, 1)
    assert note["status"] == "pending"
    assert note["attempts"][0]["reason"] == "return_code=FAIL (busy)"
    first = datetime.fromisoformat(note["attempts"][0]["at"])
    assert datetime.fromisoformat(note["next_attempt_at"]) == first + timedelta(seconds=15)

    h.advance(14)
    assert h.dispatch() == 0
    assert len(sink.received) == 1
    h.advance(1)
    note = shop.note_with(refund_id, 2)
    assert datetime.fromisoformat(note["attempts"][1]["at"]) == first + timedelta(seconds=15)
    assert note["status"] == "pending"
    h.advance(15)
    note = shop.note_with(refund_id, 3)
    assert note["status"] == "delivered"
    assert [a["ok"] for a in note["attempts"]] == [False, False, True]
    bodies = received_by(sink, 3)
    assert len(set(bodies)) == 1, "every attempt carries identical bytes"
    h.advance(86_400)
    assert h.dispatch() == 0
    assert len(sink.received) == 3
