"""Notification dispatch: deliveries per second to a local sink.

    python bench/dispatch.py [--orders 2000] [--dispatchers 1] [--sink success|half]
                             [--database-url postgresql://…]
    python bench/dispatch.py --scenarios [--database-url postgresql://…]

1. ``wxpay-local serve --no-dispatcher`` (SQLite in a temp dir, or a private PostgreSQL schema);
2. ``--orders`` NATIVE orders paid through ``/_local/pay``: their notifications wait, undelivered;
3. a sink (``bench/sink.py`` on uvicorn) counting every delivery per ``out_trade_no``; with
   ``--sink half`` it answers FAIL to every second delivery, and the dispatchers retry on the
   ``fast`` schedule (so the run measures retries, not the platform's 15 s wait);
4. ``--dispatchers`` × ``wxpay-local worker``; the clock runs from the moment all are ready to
   the moment the sink has acknowledged every order; prints deliveries/s (every POST, failed
   ones included), orders acknowledged/s, deliveries after a SUCCESS (must be 0), the
   dispatchers' CPU per delivery, and the load average. ``--scenarios``: SQLite with 1
   dispatcher, then (with ``--database-url``) PostgreSQL with 2, each with both sinks. Every
   process it starts is stopped (process group) on exit.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (  # noqa: E402 - the sibling module, importable once its folder is on the path
    DEMO_MCH_ID,
    HOST,
    Merchant,
    Procs,
    child_env,
    cpu_seconds,
    free_port,
    loadavg,
    private_schema,
    wait_ready,
)

from wxpay_local.wire.signing import sign  # noqa: E402
from wxpay_local.wire.xml import decode, encode  # noqa: E402

READY = "wxpay-local worker delivering notifications"


def _order(client: httpx.Client, base: str, m: Merchant, n: int, notify_url: str) -> str:
    fields: dict[str, str | int] = {
        "appid": m.appid,
        "mch_id": m.mch_id,
        "nonce_str": f"d{n:09d}",
        "body": "wxpay-local bench-coffee",
        "out_trade_no": f"D{n:09d}",
        "total_fee": "1",
        "spbill_create_ip": "127.0.0.1",
        "notify_url": notify_url,
        "trade_type": "NATIVE",
        "product_id": "bench-latte",
    }
    fields["sign"] = sign(fields, m.api_key)
    answer = decode(client.post(f"{base}/pay/unifiedorder", content=encode(fields)).content)
    if answer.get("result_code") != "SUCCESS":
        raise RuntimeError(f"unifiedorder failed: {answer}")
    return answer["code_url"]


def profiled(path: str) -> list[str]:
    return ["-m", "cProfile", "-o", path] if path else []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--dispatchers", type=int, default=1)
    parser.add_argument("--sink", choices=("success", "half"), default="success")
    parser.add_argument("--database-url", default="")
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument(
        "--scenarios", action="store_true", help="SQLite × 1 and PostgreSQL × 2, both sinks"
    )
    parser.add_argument(
        "--profile", default="", help="cProfile the first dispatcher into this file"
    )
    args = parser.parse_args(argv)
    if not args.scenarios:
        return run_one(args)
    worst = 0
    setups = [("", 1)] + ([(args.database_url, 2)] if args.database_url else [])
    for database_url, dispatchers in setups:
        for sink in ("success", "half"):
            one = argparse.Namespace(
                **{**vars(args), "database_url": database_url, "dispatchers": dispatchers}
            )
            one.sink = sink
            worst = max(worst, run_one(one))
    return worst


def run_one(args: argparse.Namespace) -> int:
    procs = Procs()
    env = child_env()
    client = httpx.Client(trust_env=False, timeout=30)
    try:
        with tempfile.TemporaryDirectory(prefix="wxpay-dispatch-") as folder:
            tmp = Path(folder)
            url = private_schema(args.database_url, procs) if args.database_url else ""
            database = ["--database-url", url] if url else []
            port, sink_port = free_port(), free_port()
            base, sink = f"http://{HOST}:{port}", f"http://{HOST}:{sink_port}"
            sink_proc = procs.start(
                "sink",
                [sys.executable, "-m", "uvicorn", "sink:app", "--port", str(sink_port)]
                + ["--host", HOST, "--loop", "uvloop", "--http", "httptools"]
                + ["--log-level", "warning", "--app-dir", str(Path(__file__).parent)],
                log_path=tmp / "sink.log",
                env=env,
            )
            server = procs.start(
                "serve",
                [sys.executable, "-m", "wxpay_local", "serve", "--no-dispatcher", *database]
                + ["--data-dir", str(tmp / "data"), "--host", HOST, "--port", str(port)]
                + ["--tls-port", str(free_port()), "--log-level", "warning"],
                log_path=tmp / "server.log",
                env=env,
            )
            wait_ready(client, f"{base}/_local/health", server)
            wait_ready(client, f"{sink}/count", sink_proc)
            demo = next(
                m
                for m in client.get(f"{base}/_local/merchants").json()["merchants"]
                if m["mch_id"] == DEMO_MCH_ID
            )
            merchant = Merchant(demo["mch_id"], demo["api_key"], demo["apps"][0]["appid"])
            payer = client.post(
                f"{base}/_local/payers", json={"name": "Bench", "balance": 10 * args.orders}
            ).json()
            print(f"[dispatch] paying {args.orders} orders", file=sys.stderr)
            for n in range(args.orders):
                path = "/notify" if args.sink == "success" else "/notify-half"
                code_url = _order(client, base, merchant, n, sink + path)
                paid = client.post(
                    f"{base}/_local/pay",
                    json={"payer_id": payer["payer_id"], "code_url": code_url},
                ).json()
                if paid.get("outcome") != "SUCCESS":
                    raise RuntimeError(f"payment failed: {paid}")
            load_before = loadavg()
            schedule = ["--notify-schedule", "fast"] if args.sink == "half" else []
            workers = [
                procs.start(
                    f"worker {i}",
                    [sys.executable, *profiled(args.profile if i == 0 else "")]
                    + ["-m", "wxpay_local", "worker", *database]
                    + ["--data-dir", str(tmp / "data"), *schedule],
                    log_path=tmp / f"worker-{i}.log",
                    env=env,
                )
                for i in range(args.dispatchers)
            ]
            started = time.monotonic()  # from every dispatcher ready (start-up is not dispatch)
            first_ready = 0.0  # ... and, less kindly, from the first one ready
            while not all(ready := [READY in w.log_path.read_text() for w in workers]):
                gone = any(w.popen.poll() is not None for w in workers)
                if gone or time.monotonic() - started > 60:
                    raise RuntimeError("a dispatcher did not start: see its log")
                if any(ready) and not first_ready:
                    first_ready = time.monotonic()
                time.sleep(0.02)
            first_ready = first_ready or time.monotonic()
            count: dict[str, int] = client.get(f"{sink}/count").json()
            at_start = count["total"]
            cpu_start = sum(sum(cpu_seconds(w.popen.pid)) for w in workers)
            started = time.monotonic()
            while time.monotonic() - started < args.timeout:
                count = client.get(f"{sink}/count").json()
                if count["acknowledged"] >= args.orders:
                    break
                time.sleep(0.05)
            elapsed = time.monotonic() - started
            cpu = sum(sum(cpu_seconds(w.popen.pid)) for w in workers) - cpu_start
            deliveries = count["total"] - at_start
            result = {
                "database": "postgresql" if url else "sqlite",
                "dispatchers": args.dispatchers,
                "sink": args.sink,
                "orders": args.orders,
                "acknowledged": count["acknowledged"],
                "deliveries": count["total"],
                "after_success": count["after_success"],
                "seconds": round(elapsed, 2),
                "delivered_during_start_up": at_start,
                "deliveries_per_s": round(deliveries / elapsed, 1),
                "acknowledged_per_s": round(count["acknowledged"] / elapsed, 1),
                # every delivery, over the time since the first dispatcher was ready
                "deliveries_per_s_from_first_ready": round(
                    count["total"] / (started + elapsed - first_ready), 1
                ),
                "dispatcher_cpu_us_per_delivery": round(cpu * 1e6 / max(deliveries, 1)),
                "loadavg_before": load_before,
                "loadavg_after": loadavg(),
            }
            print(json.dumps(result))
            complete = count["acknowledged"] >= args.orders
            return 0 if complete and result["after_success"] == 0 else 2
    finally:
        client.close()
        procs.stop_all()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
