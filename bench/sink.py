"""The merchant side of ``bench/dispatch.py``: answers every notification SUCCESS and counts
them per ``out_trade_no`` (``GET /count``: total and distinct). A bare ASGI app, so the sink is
never what limits the deliveries per second."""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

SUCCESS = b"<xml><return_code><![CDATA[SUCCESS]]></return_code></xml>"
OUT_TRADE_NO = re.compile(rb"<out_trade_no><!\[CDATA\[([^\]]*)\]\]></out_trade_no>")
seen: Counter[bytes] = Counter()


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if scope["path"] == "/count":
        answer = json.dumps({"total": sum(seen.values()), "distinct": len(seen)}).encode()
    else:
        found = OUT_TRADE_NO.search(body)
        if found:
            seen[found.group(1)] += 1
        answer = SUCCESS
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": answer})
