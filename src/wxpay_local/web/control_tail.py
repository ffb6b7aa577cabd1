"""``GET /_local/journal/stream``: the journal live, one JSON object per line (NDJSON).

A chunked response that stays open: each merchant API call this process answers is pushed as
it is recorded (``Journal.follow``), and a blank line every ``KEEPALIVE_SECONDS`` shows the
follower a live connection. Not an ``Op``: it never ends, so it is left out of the OpenAPI
document (whose generated tests call every operation). With ``serve --workers N`` a stream
sees the calls of the worker that serves it.
Imports: web.journal, starlette.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from wxpay_local.web.control_base import error

if TYPE_CHECKING:
    from wxpay_local.web.app import App

KEEPALIVE_SECONDS = 15.0
STREAM_PATH = "/_local/journal/stream"


def tail_routes(app: App) -> list[Route]:
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

    return [Route(STREAM_PATH, stream, methods=["GET"])]
