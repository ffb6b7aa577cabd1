"""The merchant API as a bare ASGI endpoint: the hot path, kept free of framework layers.

Reads the body (capped), runs ``api.pipeline.process`` on the store, journals the call and
answers HTTP 200 with the XML. Non-POST requests get the platform's REQUIRE_POST_METHOD answer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Protocol

from wxpay_local import pki
from wxpay_local.api.context import PLAIN_HTTP, ClientTls, Download, Handler, PeerCert, Platform
from wxpay_local.api.pipeline import Outcome, Route, process, reworded
from wxpay_local.codes import Fault, ReturnMsg
from wxpay_local.domain.model import SANDBOX
from wxpay_local.domain.ports import JournalEntry, Store
from wxpay_local.web import faults
from wxpay_local.wire import envelope
from wxpay_local.wire.xml import MAX_BODY_BYTES

log = logging.getLogger("wxpay_local.api")

# ASGI's messages as the server hands them: values are narrowed where they are read.
Scope = Mapping[str, object]
Message = MutableMapping[str, object]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class Journal(Protocol):
    def record(self, entry: JournalEntry) -> None: ...


class MerchantApp(Protocol):
    """What the merchant API needs of the ASGI app (``web.app.AsgiApp``)."""

    @property
    def store(self) -> Store: ...
    @property
    def platform(self) -> Platform: ...
    @property
    def handlers(self) -> Mapping[str, Handler]: ...
    @property
    def journal(self) -> Journal: ...
    @property
    def faults(self) -> faults.FaultBook: ...


def _mapping(value: object) -> Mapping[str, object]:
    return value if isinstance(value, Mapping) else {}


_HEADERS = [(b"content-type", b"text/xml; charset=utf-8")]


def client_tls(scope: Scope) -> ClientTls:
    """How the request came: plain HTTP, or TLS with (or without) a client certificate."""
    if scope.get("scheme") != "https":
        return PLAIN_HTTP
    der = _mapping(_mapping(scope.get("extensions")).get("tls")).get("client_cert_der")
    if not isinstance(der, bytes):
        return ClientTls(tls=True)
    serial, common_name = pki.peer_identity(der)
    return ClientTls(tls=True, peer=PeerCert(serial, common_name))


def printable(body: bytes, limit: int = 16384) -> str:
    """Body text for the journal, the bytes as received: undecodable bytes (a GBK body) shown
    as ``\\xNN`` rather than replaced, so the console and CLI show exactly what came; NUL as
    \\x00 (PostgreSQL text cannot hold NUL); long bodies clipped."""
    text = body[:limit].decode("utf-8", "backslashreplace").replace("\x00", "\\x00")
    return text if len(body) <= limit else text + "…[clipped]"


async def read_body(receive: Receive, limit: int) -> bytes | None:
    """The request body, or None once it exceeds ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        if not isinstance(chunk, bytes):
            break
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def send_xml(send: Send, body: bytes, status: int = 200) -> None:
    headers = [*_HEADERS, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def send_download(app: MerchantApp, send: Send, download: Download) -> None:
    """Stream a file answer; each chunk is produced by a short read of its own."""
    headers = [(b"content-type", download.content_type.encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in download.headers]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    chunks = download.chunks
    while True:
        chunk = await app.store.run(lambda: next(chunks, None), write=False)
        if chunk is None:
            break
        if chunk:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


async def handle(
    app: MerchantApp, route: Route, scope: Scope, receive: Receive, send: Send
) -> None:
    started = time.perf_counter()
    method = str(scope["method"])
    body = b""
    answered = False
    if method != "POST":
        outcome = reworded(
            route.endpoint,
            Outcome(
                envelope.fault(ReturnMsg.REQUIRE_POST_METHOD),
                return_code="FAIL",
                message=ReturnMsg.REQUIRE_POST_METHOD,
                explanation={"detail": f"{method} is not allowed; use POST"},
            ),
        )
    else:
        read = await read_body(receive, MAX_BODY_BYTES)
        if read is None:
            fault = Fault(ReturnMsg.BODY_TOO_LARGE)
            outcome = Outcome(
                envelope.fault(fault.return_msg),
                return_code="FAIL",
                message=fault.return_msg,
                explanation={"detail": f"body over {MAX_BODY_BYTES} bytes"},
            )
        else:
            body = read
            client = client_tls(scope) if route.endpoint.needs_cert else PLAIN_HTTP
            # One cheap check when no fault rules exist (web/faults.py).
            rule = None
            if route.env == SANDBOX:
                rule = faults.negative_test(route.endpoint.name, scope)
            if rule is None and app.faults.armed():
                facts = faults.facts_of(route.endpoint.name, scope, body)
                rule = await app.faults.pick(facts)
            if rule is not None:
                outcome, answered = await faults.run_faulted(
                    app, route, scope, receive, send, body, client, rule
                )
            else:
                outcome = await app.store.run(
                    lambda: process(app.store, app.platform, app.handlers, route, body, client),
                    write=route.endpoint.writes,
                )
    if answered:
        pass
    elif outcome.download is not None:
        await send_download(app, send, outcome.download)
    else:
        await send_xml(send, outcome.body)
    app.journal.record(
        JournalEntry(
            at=int(app.platform.clock.now().timestamp() * 1000),
            method=method,
            path=str(scope["path"]),
            endpoint=route.endpoint.name,
            mch_id=outcome.mch_id,
            request=printable(body),
            response=printable(outcome.body),
            return_code=outcome.return_code,
            result_code=outcome.result_code,
            err_code=outcome.err_code,
            message=outcome.message,
            explanation=outcome.explanation,
            duration_us=int((time.perf_counter() - started) * 1_000_000),
        )
    )
