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
from pathlib import Path

from wxpay_local.demo import DEMO_MCH_ID, seed_if_empty
from wxpay_local.settings import Settings
from wxpay_local.web import create_app
from wxpay_local.wire.signing import sign
from wxpay_local.wire.xml import decode, encode


async def call(app: object, path: str, body: bytes) -> bytes:
    sent: list[bytes] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, object]) -> None:
        if message["type"] == "http.response.body":
            chunk = message.get("body", b"")
            assert isinstance(chunk, bytes)
            sent.append(chunk)

    scope = {"type": "http", "method": "POST", "path": path, "headers": [], "scheme": "http"}
    await app(scope, receive, send)  # type: ignore[operator]
    return b"".join(sent)


async def run_round(app: object, bodies: list[bytes], path: str, concurrency: int) -> float:
    queue = list(reversed(bodies))

    async def worker() -> None:
        while queue:
            answer = decode(await call(app, path, queue.pop()))
            if answer.get("result_code") != "SUCCESS":
                raise SystemExit(f"{path}: {answer}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    best: dict[str, tuple[float, float]] = {}
    for round_no in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(data_dir=Path(tmp), dispatcher=False)
            app = create_app(settings)
            seed_if_empty(app.store, settings)
            with app.store.begin(write=False) as tx:
                merchant = tx.merchant(DEMO_MCH_ID, "live")
                assert merchant is not None
                appid = next(a.appid for a in tx.apps_of(DEMO_MCH_ID) if str(a.kind) == "official_account")
            key = merchant.api_key
            uo, oq = [], []
            for i in range(args.orders):
                no = f"m{round_no}n{i:07d}"
                fields: dict[str, str | int] = {
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
                fields["sign"] = sign(fields, key)
                uo.append(encode(fields))
                query: dict[str, str | int] = {
                    "appid": appid,
                    "mch_id": DEMO_MCH_ID,
                    "nonce_str": f"q{i}",
                    "out_trade_no": no,
                }
                query["sign"] = sign(query, key)
                oq.append(encode(query))

            async def both() -> dict[str, tuple[float, float]]:
                out = {}
                for name, path, bodies in (
                    ("unifiedorder", "/pay/unifiedorder", uo),
                    ("orderquery", "/pay/orderquery", oq),
                ):
                    cpu = time.process_time()
                    wall = await run_round(app, bodies, path, args.concurrency)
                    out[name] = (wall, time.process_time() - cpu)
                await app.journal.flush()
                return out

            for name, (wall, cpu) in asyncio.run(both()).items():
                if name not in best or wall < best[name][0]:
                    best[name] = (wall, cpu)
            app.store.close()
    for name, (wall, cpu) in best.items():
        rate = args.orders / wall
        print(f"{name:13} {rate:8.0f} req/s   {cpu / args.orders * 1000:6.3f} CPU s per 1000")


if __name__ == "__main__":
    main()
