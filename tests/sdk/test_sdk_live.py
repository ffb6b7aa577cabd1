"""wxpay_sdk against wxpay-local over real sockets: every endpoint, with ``Client`` (MD5) and
``AsyncClient`` (HMAC-SHA256), the certificate from PEM files (plain HTTP for ordinary calls,
the HTTPS port for /secapi/ and downloadfundflow) or from the PKCS#12 file (everything over
HTTPS). The client-certificate check is on: /secapi/ is mutual TLS for real.

Notifications: the platform delivers to a sink, the SDK verifies / decrypts what arrived.
"""

from __future__ import annotations

import asyncio
import base64
import inspect
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from wxpay_local.testing import Harness, MerchantInfo, MerchantSink, wait_for
from wxpay_sdk import (
    AsyncClient,
    Client,
    ResultError,
    ReturnError,
    notify,
    refunds_of,
)

pytestmark = pytest.mark.e2e

IP = "203.0.113.10"
BAD_SIGN = "签名错误"  # spec §1.4


def set_clock(h: Harness, iso: str) -> None:
    h.control("POST", "/_local/clock", {"now": iso, "freeze": True})


def code(h: Harness, payer_id: int) -> str:
    return str(h.control("POST", f"/_local/payers/{payer_id}/codes")["auth_code"])


def cert_options(h: Harness, m: MerchantInfo, folder: Path, mode: str) -> dict[str, Any]:
    files = h.control("GET", f"/_local/merchants/{m.mch_id}/cert")
    if mode == "p12":
        p12 = folder / "apiclient_cert.p12"
        p12.write_bytes(base64.b64decode(files["apiclient_cert.p12"]))
        return {"base_url": h.tls_url, "p12": p12, "ca_file": h.ca_file}
    cert, key = folder / "apiclient_cert.pem", folder / "apiclient_key.pem"
    cert.write_text(files["apiclient_cert.pem"])
    key.write_text(files["apiclient_key.pem"])
    return {
        "base_url": h.base_url,
        "cert_base_url": h.tls_url,
        "cert": cert,
        "key": key,
        "ca_file": h.ca_file,
    }


Call = Callable[..., Any]


class Driver:
    """One client behind a uniform ``call(method, **fields)``, sync or async alike."""

    def __init__(self, client: Client | AsyncClient) -> None:
        self.client = client
        self.loop = asyncio.new_event_loop()

    def __call__(self, method: str, *args: Any, **fields: Any) -> Any:
        result = getattr(self.client, method)(*args, **fields)
        return self.loop.run_until_complete(result) if inspect.isawaitable(result) else result

    def close(self) -> None:
        if isinstance(self.client, AsyncClient):
            self.loop.run_until_complete(self.client.aclose())
        else:
            self.client.close()
        self.loop.close()


@pytest.fixture(params=["Client-MD5", "AsyncClient-HMAC"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=["pem", "p12"])
def tls_mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make(
    live: Harness, kind: str, tls_mode: str, tmp_path: Path
) -> Iterator[Callable[..., Driver]]:
    made: list[Driver] = []

    def build(m: MerchantInfo, **overrides: Any) -> Driver:
        options: dict[str, Any] = {
            "mch_id": m.mch_id,
            "api_key": m.api_key,
            "appid": m.apps["official_account"],
            "sign_type": "MD5" if kind.startswith("Client") else "HMAC-SHA256",
            **cert_options(live, m, tmp_path, tls_mode),
            **overrides,
        }
        client = Client(**options) if kind.startswith("Client") else AsyncClient(**options)
        made.append(Driver(client))
        return made[-1]

    yield build
    for driver in made:
        driver.close()


def test_every_endpoint(live: Harness, make: Callable[..., Driver], sink: MerchantSink) -> None:
    h = live
    set_clock(h, "2024-05-01T09:00:00+08:00")
    m = h.merchant()
    payer = h.payer(balance=100_000)["payer_id"]
    h.control("POST", f"/_local/payers/{payer}/policy", {"password_policy": "never"})
    call = make(m)
    appid = m.apps["official_account"]

    # unifiedorder (NATIVE) → the payer scans and pays → orderquery; the notification verifies
    order = call(
        "unifiedorder",
        body="Shop-Latte",
        out_trade_no="SDK-N1",
        total_fee=1800,
        spbill_create_ip=IP,
        notify_url=sink.url,
        trade_type="NATIVE",
        product_id="latte",
    )
    assert str(order["code_url"]).startswith("weixin://wxpay/bizpayurl?pr=")
    assert h.pay(payer, code_url=order["code_url"])["outcome"] == "SUCCESS"
    paid = call("orderquery", out_trade_no="SDK-N1")
    assert (paid["trade_state"], paid["total_fee"], paid["trade_type"]) == (
        "SUCCESS",
        1800,
        "NATIVE",
    )
    h.dispatch()
    wait_for(lambda: len(sink.received) >= 1)
    note = notify.payment_notification(sink.received[0].body, m.api_key, expected_mch_id=m.mch_id)
    assert (note["out_trade_no"], note["total_fee"]) == ("SDK-N1", 1800)

    # unifiedorder (JSAPI) → closeorder → CLOSED
    jsapi = call(
        "unifiedorder",
        body="Shop-Tea",
        out_trade_no="SDK-J1",
        total_fee=600,
        spbill_create_ip=IP,
        notify_url=sink.url,
        trade_type="JSAPI",
        openid=h.openid(payer, appid),
    )
    assert jsapi["prepay_id"]
    h.advance(301)  # an order cannot be closed within 5 minutes of its creation
    assert call("closeorder", out_trade_no="SDK-J1")["result_code"] == "SUCCESS"
    assert call("orderquery", out_trade_no="SDK-J1")["trade_state"] == "CLOSED"

    # micropay, authcodetoopenid, reverse
    charged = call(
        "micropay", body="Shop-Cake", out_trade_no="SDK-M1", total_fee=500,
        spbill_create_ip=IP, auth_code=code(h, payer),
    )  # fmt: skip
    assert (charged["trade_type"], charged["total_fee"]) == ("MICROPAY", 500)
    assert call("authcodetoopenid", code(h, payer))["openid"] == h.openid(payer, appid)
    call(
        "micropay", body="Shop-Cake", out_trade_no="SDK-M2", total_fee=300,
        spbill_create_ip=IP, auth_code=code(h, payer),
    )  # fmt: skip
    assert call("reverse", out_trade_no="SDK-M2")["recall"] == "N"
    assert call("orderquery", out_trade_no="SDK-M2")["trade_state"] == "REVOKED"

    # refund twice with one out_refund_no (a safe retry) → refundquery; refund notification
    refund = {"out_trade_no": "SDK-N1", "out_refund_no": "SDK-R1", "total_fee": 1800}
    first = call("refund", **refund, refund_fee=500, notify_url=sink.url)
    again = call("refund", **refund, refund_fee=500, notify_url=sink.url)
    assert (first["refund_fee"], again["refund_id"]) == (500, first["refund_id"])
    listed = refunds_of(call("refundquery", out_trade_no="SDK-N1"))
    assert [(r["out_refund_no"], r["refund_fee"]) for r in listed] == [("SDK-R1", 500)]
    h.control("POST", f"/_local/refunds/{first['refund_id']}/outcome", {"refund_status": "SUCCESS"})
    h.dispatch()
    wait_for(lambda: len(sink.received) >= 2)
    inner = notify.refund_notification(sink.received[-1].body, m.api_key)
    assert (inner["out_refund_no"], inner["refund_status"]) == ("SDK-R1", "SUCCESS")

    # tools and report
    assert str(call("shorturl", "weixin://wxpay/bizpayurl?pr=abc")["short_url"]).startswith(
        "weixin://wxpay/s/"
    )
    reported = call(
        "report", interface_url="https://api.mch.weixin.qq.com/pay/orderquery",
        execute_time_=12, return_code="SUCCESS", result_code="SUCCESS", user_ip=IP,
    )  # fmt: skip
    assert reported["return_code"] == "SUCCESS"

    # the error tree
    with pytest.raises(ResultError) as missing:
        call("orderquery", out_trade_no="SDK-NOPE")
    assert missing.value.err_code == "ORDERNOTEXIST"
    with pytest.raises(ReturnError) as forged:
        make(m, api_key="k" * 32)("orderquery", out_trade_no="SDK-N1")
    assert forged.value.return_msg == BAD_SIGN

    # bills of 2024-05-01, the next morning
    set_clock(h, "2024-05-02T10:00:00+08:00")
    bill = call("bill", bill_date="20240501")
    payments = {r.out_trade_no for r in bill.rows if r.trade_state == "SUCCESS"}
    assert {"SDK-N1", "SDK-M1"} <= payments
    refunds = [(r.out_refund_no, r.refund_fee) for r in bill.rows if r.trade_state == "REFUND"]
    assert refunds == [("SDK-R1", 500)]
    assert bill.totals.count == len(bill.rows)
    plain = call("downloadbill", bill_date="20240501")
    assert plain == call("downloadbill", bill_date="20240501", tar_type="GZIP")
    with pytest.raises(ReturnError) as no_bill:
        call("downloadbill", bill_date="20240430", tar_type="GZIP", timeout=10)
    assert no_bill.value.return_msg == "No Bill Exist"  # refunds file §6.8
    fund = call("downloadfundflow", bill_date="20240501", account_type="Basic")
    assert fund.decode("utf-8").lstrip("\ufeff").startswith("记账时间,")


def test_sandbox_key_is_fetched_cached_and_used(live: Harness, make: Callable[..., Driver]) -> None:
    m = live.merchant()
    call = make(m, sandbox=True, sign_type="MD5")
    key = call("getsignkey")["sandbox_signkey"]
    assert len(key) == 32 and key != m.api_key
    with pytest.raises(ResultError) as missing:  # signed with the sandbox key: verified
        call("orderquery", out_trade_no="SB-NOPE")
    assert missing.value.err_code == "ORDERNOTEXIST"
    assert call.client._sandbox_key == key


def test_micropay_best_practice_reverses_an_unconfirmed_payment(
    live: Harness, make: Callable[..., Driver]
) -> None:
    """The payer never types the password: the flow polls, then reverses over mutual TLS.
    Waiting moves the platform's clock instead of sleeping."""
    h = live
    set_clock(h, "2024-05-01T09:00:00+08:00")
    m = h.merchant()
    payer = h.payer(balance=100_000)["payer_id"]
    h.control("POST", f"/_local/payers/{payer}/policy", {"password_policy": "always"})
    call = make(m)
    waited: list[float] = []

    def advance(seconds: float) -> None:
        waited.append(seconds)
        h.advance(int(seconds))

    async def advance_async(seconds: float) -> None:
        advance(seconds)

    sleep = advance_async if isinstance(call.client, AsyncClient) else advance
    outcome = call(
        "micropay_best_practice",
        sleep=sleep,
        body="Shop-Cake",
        out_trade_no="SDK-MP-BP",
        total_fee=500,
        spbill_create_ip=IP,
        auth_code=code(h, payer),
    )
    assert outcome.status == "REVERSED", outcome.steps
    # polled at 5, 15, 25 s (USERPAYING), at 35 s the ~30 s password window is over (PAYERROR,
    # spec §5.2): reversed then, which is after 15 s
    assert waited == [5, 10, 10, 10]
    assert [text for _, text in outcome.steps][-2:] == ["orderquery: PAYERROR", "REVERSED"]
    assert call("orderquery", out_trade_no="SDK-MP-BP")["trade_state"] == "REVOKED"
    assert h.control("GET", f"/_local/payers/{payer}")["balance"] == 100_000
