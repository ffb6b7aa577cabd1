"""The ceiling: a bare ASGI app that answers every request 200 with a short constant XML body.

It does the minimum any merchant API server must do (drain the request body, send a text/xml
answer with a content-length) and nothing else, so wrk against it on the same uvicorn stack
(uvloop + httptools, same worker count) measures what the server stack and the load generator
cost on this machine. ``bench/run.py`` serves it with ``uvicorn ceiling:app --app-dir bench``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

BODY = (
    b"<xml><return_code><![CDATA[SUCCESS]]></return_code>"
    b"<return_msg><![CDATA[OK]]></return_msg></xml>"
)
HEADERS = [
    (b"content-type", b"text/xml; charset=utf-8"),
    (b"content-length", str(len(BODY)).encode()),
]


async def app(scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
    if scope["type"] == "http":
        while True:  # drain the request body, as a real endpoint must
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
        await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
        await send({"type": "http.response.body", "body": BODY})
    elif scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
