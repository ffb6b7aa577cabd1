"""The notifications' HTTP client (dispatch/http_post.py) against merchants that answer in every
HTTP/1.1 framing, redirect, close, stall, speak garbage or present a certificate nobody signed;
and a merchant that hangs does not hold up another merchant's notifications.

Each merchant is a raw asyncio server on loopback that writes exactly the bytes under test.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from wxpay_local import pki
from wxpay_local.dispatch.delivery import Verdict, deliver
from wxpay_local.dispatch.http_post import BODY_CAP, Poster
from wxpay_local.settings import Settings
from wxpay_local.store import SqlStore
from wxpay_local.testing import Harness, MerchantSink, wait_for, xml_endpoint

pytestmark = pytest.mark.api

SUCCESS = b"<xml><return_code><![CDATA[SUCCESS]]></return_code></xml>"
NOTE = b"<xml><out_trade_no><![CDATA[N1]]></out_trade_no></xml>"


def _fixed(length: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: " + length + b"\r\n\r\n"


ANSWER = _fixed(str(len(SUCCESS)).encode()) + SUCCESS


class Merchant:
    """A loopback server answering each request with ``reply(request_bytes)``; counts the
    connections it accepted and keeps every request."""

    def __init__(self, reply: Callable[[bytes], bytes | None], *, close: bool = False) -> None:
        self.reply = reply
        self.close_after = close
        self.connections = 0
        self.requests: list[bytes] = []

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                answer = self.reply(request)
                if answer is None:  # hang: never answer
                    await asyncio.sleep(3600)
                    return
                writer.write(answer)
                await writer.drain()
                if self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def _with_merchant(
    merchant: Merchant,
    scenario: Callable[[str], Awaitable[None]],
    tls: ssl.SSLContext | None = None,
) -> None:
    server = await asyncio.start_server(merchant._serve, "127.0.0.1", 0, ssl=tls)
    port = server.sockets[0].getsockname()[1]
    scheme = "https" if tls else "http"
    try:
        await scenario(f"{scheme}://127.0.0.1:{port}/wxpay/notify?shop=1")
    finally:
        server.close()


def _post_twice(
    merchant: Merchant,
    timeout: float = 5.0,
    run: Callable[[Awaitable[None]], None] = asyncio.run,
) -> list[Verdict]:
    verdicts: list[Verdict] = []

    async def scenario(url: str) -> None:
        poster = Poster()
        try:
            for _ in range(2):
                verdicts.append(await deliver(poster, url, NOTE, timeout))
        finally:
            await poster.close()

    run(_with_merchant(merchant, scenario))
    return verdicts


def test_answers_framed_by_length_reuse_one_connection() -> None:
    merchant = Merchant(lambda _: ANSWER)
    verdicts = _post_twice(merchant)
    assert [(v.ok, v.reason, v.http_status) for v in verdicts] == [(True, "acknowledged", 200)] * 2
    assert merchant.connections == 1
    head = merchant.requests[0].split(b"\r\n\r\n")[0].split(b"\r\n")
    assert head[0] == b"POST /wxpay/notify?shop=1 HTTP/1.1"
    assert b"Content-Type: text/xml" in head
    assert merchant.requests[0].endswith(NOTE)


def test_answers_are_read_on_uvloop_as_serve_runs_it() -> None:
    # `wxpay-local serve` runs on uvloop, whose transports are not asyncio.Transport subclasses
    uvloop = pytest.importorskip("uvloop")
    merchant = Merchant(lambda _: ANSWER)
    verdicts = _post_twice(merchant, run=uvloop.run)
    assert [(v.ok, v.reason, v.http_status) for v in verdicts] == [(True, "acknowledged", 200)] * 2
    assert merchant.connections == 1


def test_chunked_answers_are_read_whole() -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"%x\r\n" % 10
        + SUCCESS[:10]
        + b"\r\n"
        + b"%x\r\n" % (len(SUCCESS) - 10)
        + SUCCESS[10:]
        + b"\r\n0\r\n\r\n"
    )
    verdicts = _post_twice(Merchant(lambda _: chunked))
    assert [(v.ok, v.excerpt) for v in verdicts] == [(True, SUCCESS.decode())] * 2


def test_an_answer_ended_by_closing_the_connection_is_read_and_the_next_one_reconnects() -> None:
    merchant = Merchant(lambda _: b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + SUCCESS)
    merchant.close_after = True
    verdicts = _post_twice(merchant)
    assert [v.ok for v in verdicts] == [True, True]
    assert merchant.connections == 2


def test_a_redirect_is_an_answer_not_followed() -> None:
    moved = b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:9/elsewhere\r\nContent-Length: 0"
    merchant = Merchant(lambda _: moved + b"\r\n\r\n")
    verdicts = _post_twice(merchant)
    assert [(v.ok, v.reason, v.http_status) for v in verdicts] == [
        (False, "HTTP status 302", 302)
    ] * 2
    assert len(merchant.requests) == 2


def test_an_oversized_answer_is_cut_at_the_cap_and_the_connection_replaced() -> None:
    huge = SUCCESS + b" " * (4 * BODY_CAP)
    merchant = Merchant(lambda _: _fixed(str(len(huge)).encode()) + huge)
    verdicts = _post_twice(merchant)
    assert [(v.ok, v.excerpt) for v in verdicts] == [(True, SUCCESS.decode() + " " * 243)] * 2
    assert merchant.connections == 2


def test_garbage_instead_of_http_is_a_failed_connection() -> None:
    verdicts = _post_twice(Merchant(lambda _: b"SSH-2.0-OpenSSH_9.6\r\n"))
    assert all(not v.ok and v.http_status is None for v in verdicts)
    assert all(v.reason.startswith("connection failed: ReadError: ") for v in verdicts), verdicts


def test_a_merchant_that_never_answers_times_out() -> None:
    verdicts = _post_twice(Merchant(lambda _: None), timeout=0.3)
    assert [(v.ok, v.reason, v.http_status) for v in verdicts] == [
        (False, "timed out after 0.3 s", None)
    ] * 2


def test_a_certificate_nobody_signed_is_refused(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    issued = pki.issue_server_cert(pki.create_ca(now), ["127.0.0.1"], now)
    (tmp_path / "cert.pem").write_text(issued.cert_pem)
    (tmp_path / "key.pem").write_text(issued.key_pem)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    merchant = Merchant(lambda _: ANSWER)
    verdicts: list[Verdict] = []

    async def scenario(url: str) -> None:
        poster = Poster()
        try:
            verdicts.append(await deliver(poster, url, NOTE, 5.0))
        finally:
            await poster.close()

    asyncio.run(_with_merchant(merchant, scenario, tls))
    (verdict,) = verdicts
    assert not verdict.ok and verdict.http_status is None
    assert verdict.reason.startswith("connection failed: ConnectError: "), verdict
    assert "CERTIFICATE_VERIFY_FAILED" in verdict.reason
    assert merchant.requests == []


def test_a_merchant_that_hangs_does_not_hold_up_another(store: SqlStore) -> None:
    from reference_client import OracleHarness

    held, release = threading.Event(), threading.Event()

    def hang(body: bytes) -> tuple[int, bytes]:
        held.set()
        release.wait(30)
        return 200, SUCCESS

    settings = Settings(notify_timeout_seconds=30.0)
    with (
        OracleHarness.start(store, live=True, settings=settings) as platform,
        xml_endpoint(hang) as hanging_url,
        MerchantSink() as other,
    ):
        try:
            slow = _pay(platform, hanging_url, "SLOW-1")
            wait_for(held.is_set)
            fast = _pay(platform, other.url, "FAST-1")
            wait_for(lambda: platform.notifications(fast)[0]["status"] == "delivered", 10)
            assert len(other.received) == 1
            assert platform.notifications(slow)[0]["attempts"] == []  # still in flight
        finally:
            release.set()
        wait_for(lambda: platform.notifications(slow)[0]["status"] == "delivered")


def _pay(platform: Harness, notify_url: str, out_trade_no: str) -> str:
    merchant = platform.merchant()
    answer = platform.client(merchant).unifiedorder(
        body="Test shop-Coffee",
        out_trade_no=out_trade_no,
        total_fee=1800,
        spbill_create_ip="203.0.113.10",
        notify_url=notify_url,
        trade_type="NATIVE",
        product_id="latte",
    )
    payer = platform.payer(balance=10_000)
    assert platform.pay(payer["payer_id"], code_url=answer["code_url"])["outcome"] == "SUCCESS"
    return merchant.mch_id
