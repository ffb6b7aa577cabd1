"""In-process microbenchmark of the hot path: N unifiedorders, then N orderqueries, on SQLite.

    python bench/micro_orders.py [--orders 3000] [--concurrency 32] [--rounds 3]

Calls the ASGI app directly (no sockets, no HTTP parser), ``--concurrency`` requests at a time
so that writes share group commits as they do under load; the same bodies every run (fixed
seed). Prints the best round's requests per second and CPU seconds per 1000 requests: a
store-side regression shows here even on a busy machine, where ``bench/run.py`` is too noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from wxpay_local.codes import AppKind
from wxpay_local.demo import DEMO_MCH_ID, seed_if_empty
from wxpay_local.settings import Settings
from wxpay_local.web import AsgiApp, create_app
from wxpay_local.wire.signing import sign
from wxpay_local.wire.xml import decode, encode

#: Per scenario: (wall seconds, CPU seconds of the whole process).
Timings = dict[str, tuple[float, float]]


async def call(app: AsgiApp, path: str, body: bytes) -> bytes:
    sent: list[bytes] = []

    async def receive() -> MutableMapping[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.body":
            chunk = message.get("body", b"")
            assert isinstance(chunk, bytes)
            sent.append(chunk)

    scope = {"type": "http", "method": "POST", "path": path, "headers": [], "scheme": "http"}
    await app(scope, receive, send)
    return b"".join(sent)


async def run_round(app: AsgiApp, bodies: list[bytes], path: str, concurrency: int) -> float:
    queue = list(reversed(bodies))

    async def worker() -> None:
        while queue:
            answer = decode(await call(app, path, queue.pop()))
            if answer.get("result_code") != "SUCCESS":
                raise SystemExit(f"{path}: {answer}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


def bodies(key: str, appid: str, series: str, n: int) -> tuple[list[bytes], list[bytes]]:
    """n signed unifiedorder bodies and the n orderquery bodies for the same orders."""
    uo, oq = [], []
    for i in range(n):
        no = f"{series}n{i:07d}"
        order: dict[str, str | int] = {
            "appid": appid,
            "mch_id": DEMO_MCH_ID,
            "nonce_str": f"n{i}",
            "body": "bench",
            "out_trade_no": no,
            "total_fee": 1 + i % 500,
            "spbill_create_ip": "127.0.0.1",
            "notify_url": "http://127.0.0.1:9/notify",
            "trade_type": "NATIVE",
            "product_id": "p",
        }
        order["sign"] = sign(order, key)
        uo.append(encode(order))
        query: dict[str, str | int] = {
            "appid": appid,
            "mch_id": DEMO_MCH_ID,
            "nonce_str": f"q{i}",
            "out_trade_no": no,
        }
        query["sign"] = sign(query, key)
        oq.append(encode(query))
    return uo, oq


async def one_round(app: AsgiApp, uo: list[bytes], oq: list[bytes], concurrency: int) -> Timings:
    out: Timings = {}
    for name, path, pool in (
        ("unifiedorder", "/pay/unifiedorder", uo),
        ("orderquery", "/pay/orderquery", oq),
    ):
        cpu = time.process_time()
        wall = await run_round(app, pool, path, concurrency)
        out[name] = (wall, time.process_time() - cpu)
    await app.journal.flush()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--orders", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    best: Timings = {}
    for round_no in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(data_dir=Path(tmp), dispatcher=False)
            app = create_app(settings)
            seed_if_empty(app.store, settings)
            with app.store.begin(write=False) as tx:
                merchant = tx.merchant(DEMO_MCH_ID, "live")
                apps = tx.apps_of(DEMO_MCH_ID)
            assert merchant is not None
            appid = next(a.appid for a in apps if a.kind == AppKind.OFFICIAL_ACCOUNT)
            uo, oq = bodies(merchant.api_key, appid, f"m{round_no}", args.orders)
            timings = asyncio.run(one_round(app, uo, oq, args.concurrency))
            for name, (wall, cpu) in timings.items():
                if name not in best or wall < best[name][0]:
                    best[name] = (wall, cpu)
            app.store.close()
    for name, (wall, cpu) in best.items():
        rate = args.orders / wall
        print(f"{name:13} {rate:8.0f} req/s   {cpu / args.orders * 1000:6.3f} CPU s per 1000")


if __name__ == "__main__":
    main()
