"""Streams: ``GET /_local/journal/stream`` (tail) and ``POST /_local/listen`` (listen).

Both answer one JSON object per line (NDJSON). ``listen`` forwards a merchant's
notifications for as long as its answer streams (docs/verify-your-integration.md).

A chunked response that stays open: each merchant API call this process answers is pushed as
it is recorded (``Journal.follow``), and a blank line every ``KEEPALIVE_SECONDS`` shows the
follower a live connection. Not an ``Op``: it never ends, so it is left out of the OpenAPI
document (whose generated tests call every operation). With ``serve --workers N`` a stream
sees the calls of the worker that serves it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import anyio
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from wxpay_local.dispatch.worker import FORWARD_SETTING
from wxpay_local.domain.model import LIVE, DeliveryAttempt, Merchant, Notification
from wxpay_local.probe.runner import HostRefused, check_target
from wxpay_local.web.control_base import error

if TYPE_CHECKING:
    from wxpay_local.web.app import AsgiApp

KEEPALIVE_SECONDS = 15.0
STREAM_PATH = "/_local/journal/stream"
LISTEN_PATH = "/_local/listen"


def tail_routes(app: AsgiApp) -> list[Route]:
    async def stream(request: Request) -> Response:
        mch_id = request.query_params.get("mch_id", "")
        if len(mch_id) > 32 or not (mch_id == "" or mch_id.isdigit()):
            return error(400, "BAD_FIELD", "mch_id must be digits")

        async def lines() -> AsyncIterator[bytes]:
            queue = app.journal.follow()
            try:
                yield b"\n"  # headers out at once: the follower knows it is connected
                while True:
                    try:
                        entry = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
                    except TimeoutError:
                        yield b"\n"
                        continue
                    if mch_id and entry.get("mch_id") != mch_id:
                        continue
                    yield json.dumps(entry, ensure_ascii=False, default=str).encode() + b"\n"
            finally:
                app.journal.unfollow(queue)

        return StreamingResponse(lines(), media_type="application/x-ndjson")

    async def listening(request: Request) -> Response:
        return await listen(app, request)

    return [
        Route(STREAM_PATH, stream, methods=["GET"]),
        Route(LISTEN_PATH, listening, methods=["POST"]),
    ]


async def listen(app: AsgiApp, request: Request) -> Response:
    """``{"mch_id", "forward_to"}``: while this answer streams, the merchant's notifications go
    to forward_to (loopback or a probe-allowed host), and each delivery is one JSON line."""
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        return error(400, "BAD_JSON", "the body is not valid JSON")
    mch_id = body.get("mch_id") if isinstance(body, dict) else None
    target = body.get("forward_to") if isinstance(body, dict) else None
    if not isinstance(mch_id, str) or not mch_id.isdigit() or len(mch_id) > 32:
        return error(400, "BAD_FIELD", "mch_id must be digits")
    if not isinstance(target, str) or len(target) > 512:
        return error(400, "BAD_FIELD", "forward_to must be a URL")
    try:
        check_target(target, app.settings.probe_hosts)
    except HostRefused as exc:
        return error(403, "PROBE_HOST_REFUSED", str(exc))

    def find() -> Merchant | None:
        with app.store.begin(write=False) as tx:
            found: Merchant | None = tx.merchant(mch_id, LIVE)
            return found

    merchant = await app.store.run(find, write=False)
    if merchant is None:
        return error(404, "NOT_FOUND", f"no merchant {mch_id}")
    key = FORWARD_SETTING + str(merchant.id)

    def put(value: str) -> None:
        with app.store.begin() as tx:
            tx.put_setting(key, value)

    async def lines() -> AsyncIterator[bytes]:
        queue: asyncio.Queue[tuple[Notification, DeliveryAttempt]] = asyncio.Queue()
        app.dispatcher.followers.add(queue)
        await app.store.run(lambda: put(target))
        app.dispatcher.wake()
        try:
            yield b"\n"
            while True:
                try:
                    note, attempt = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    yield b"\n"
                    continue
                if note.merchant_id == merchant.id:
                    yield json.dumps(_delivery(note, attempt), ensure_ascii=False).encode() + b"\n"
        finally:
            app.dispatcher.followers.discard(queue)
            # The listener left: the stream is being cancelled, so shield the write that puts
            # the merchant's own notify_urls back (else it is cancelled with the rest).
            with anyio.CancelScope(shield=True):
                await app.store.run(lambda: put(""))

    return StreamingResponse(lines(), media_type="application/x-ndjson")


def _delivery(note: Notification, attempt: DeliveryAttempt) -> dict[str, object]:
    fields = note.fields
    return {
        "notification_id": note.id,
        "kind": note.kind,
        "out_trade_no": fields.get("out_trade_no")
        or fields.get("req_info", {}).get("out_trade_no"),
        "url": note.url,
        "attempt": attempt.number,
        "ok": attempt.ok,
        "http_status": attempt.http_status,
        "reason": attempt.reason,
        "latency_ms": attempt.latency_ms,
        "answer": attempt.excerpt,
    }
