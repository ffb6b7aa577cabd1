"""The merchant side of ``bench/dispatch.py``: a bare ASGI app (so the sink is never what limits
the deliveries per second) that counts every delivery per ``out_trade_no``.

``POST /notify`` answers SUCCESS; ``POST /notify-half`` answers FAIL to every second delivery
it receives (whichever order it is for), SUCCESS to the others. ``GET /count``: ``total``
deliveries, ``distinct`` orders seen, ``acknowledged`` orders answered SUCCESS, and
``after_success``: deliveries of an order that had already been answered SUCCESS (a bug of the
platform's when nonzero; a retry after FAIL is not one).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

SUCCESS = b"<xml><return_code><![CDATA[SUCCESS]]></return_code></xml>"
FAIL = b"<xml><return_code><![CDATA[FAIL]]></return_code><return_msg>busy</return_msg></xml>"
OUT_TRADE_NO = re.compile(rb"<out_trade_no><!\[CDATA\[([^\]]*)\]\]></out_trade_no>")
seen: Counter[bytes] = Counter()
acknowledged: set[bytes] = set()
after_success = 0
received = 0


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    global after_success, received
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if scope["path"] == "/count":
        answer = json.dumps(
            {
                "total": sum(seen.values()),
                "distinct": len(seen),
                "acknowledged": len(acknowledged),
                "after_success": after_success,
            }
        ).encode()
    else:
        received += 1
        failing = scope["path"] == "/notify-half" and received % 2 == 0
        answer = FAIL if failing else SUCCESS
        found = OUT_TRADE_NO.search(body)
        if found:
            order = found.group(1)
            seen[order] += 1
            if order in acknowledged:
                after_success += 1
            elif not failing:
                acknowledged.add(order)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": answer})
