"""Throughput, latency, CPU and memory of the merchant API against a same-stack ceiling, with
issue 15's goals and verdicts.

    python bench/run.py [--duration 10] [--connections 64] [--threads 2] [--workers 1]
                        [--database-url postgresql://…]
    python bench/run.py --workers 1,2 [--rounds 2]   # both, alternating, and their ratio

For each worker count:
1. ceiling: ``bench/ceiling.py`` (a constant-answer ASGI app) on uvicorn + uvloop + httptools;
2. ``wxpay-local serve`` on SQLite in a fresh temporary data dir (demo merchant, dispatcher on);
3. unifiedorder: NATIVE/MD5 orders, a different out_trade_no on every request;
4. orderquery: by out_trade_no, over the orders step 3 created;
5. the ceiling again (unless ``--single-ceiling``): ratios use the higher of the two.

Every scenario is the same wrk run (``bench/pool.lua``: pre-signed bodies read from files,
cycled, every answer checked) with the same threads, connections and duration, so the ratio
req/s ÷ ceiling req/s says how much of what this machine's server stack can do the platform
keeps; the server's own CPU time per request (from /proc) is shown beside it, being far less
sensitive to whatever else the shared machine is doing, and so is the largest resident size
any one server process reached (VmRSS sampled, VmHWM at the end). Prints a table per
configuration (and, for several worker counts, the scaling rows) and writes
``bench/results/latest.json``. Every process it starts runs in its own session and is stopped
(process group, TERM then KILL) on exit, failure or Ctrl-C. All traffic goes to 127.0.0.1.
The machinery is ``bench/harness.py``; the goals, verdicts and tables ``bench/goals.py``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import signal
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

# The sibling module, importable once this folder is on the path; the names dispatch.py takes
# from here are re-exported.
from goals import GOALS, print_scaling, print_table, scaling, summarize  # noqa: E402
from harness import (  # noqa: E402
    DEMO_MCH_ID,
    HERE,
    HOST,
    BenchError,
    Interrupted,
    Load,
    Merchant,
    Procs,
    _raise_on_signal,
    check_answer,
    child_env,
    free_port,
    loadavg,
    log,
    orderquery_body,
    out_trade_no,
    private_schema,
    run_wrk,
    unifiedorder_body,
    uvicorn_ceiling_argv,
    wait_ready,
    write_pool,
    wxpay_argv,
)

__all__ = ["DEMO_MCH_ID", "HOST", "Merchant", "Procs", "child_env", "free_port", "loadavg"]
__all__ += ["private_schema", "wait_ready"]


def bench(args: argparse.Namespace, procs: Procs, tmp: Path, workers: int) -> dict[str, Any]:
    """One configuration: its ceiling, then the platform with ``workers`` processes."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise BenchError("wrk is not installed (apt-get install wrk)")
    if args.connections < args.threads:
        raise BenchError("--connections must be at least --threads")
    tmp.mkdir(parents=True)
    load = Load(args.duration, args.connections, args.threads, args.timeout)
    env = child_env()
    client = httpx.Client(trust_env=False, timeout=10)
    meta: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "duration": args.duration,
        "connections": args.connections,
        "threads": args.threads,
        "workers": workers,
        "wrk_timeout_s": args.timeout,
        "cpus": os.cpu_count(),
        "loadavg_before": loadavg(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "database": "postgresql" if args.database_url else "sqlite",
        "dispatcher": True,
    }
    rows: list[dict[str, Any]] = []

    # 1. the ceiling -------------------------------------------------------------------------
    # It gets the same kind of request bodies (a small pool, cycled) through the same Lua
    # script, so the client-side cost per request is identical in every scenario.
    pool = tmp / "pool"
    pool.mkdir()
    probe = Merchant(DEMO_MCH_ID, "0" * 32, "wx" + "0" * 16)
    per_thread = [
        [unifiedorder_body(probe, "C", tid, i) for i in range(1, 5001)]
        for tid in range(args.threads)
    ]
    write_pool(pool / "ceiling", per_thread)

    def measure_ceiling(label: str) -> dict[str, Any]:
        port = free_port()
        log(f"{label}: uvicorn ceiling:app on :{port} ({workers} worker(s))")
        server = procs.start(
            "ceiling server",
            uvicorn_ceiling_argv(port, workers),
            log_path=tmp / f"{label}.log",
            env=env,
        )
        wait_ready(client, f"http://{HOST}:{port}/", server)
        log(f"{label}: wrk for {args.duration}s")
        result = run_wrk(
            procs, wrk, load, port, pool / "ceiling", "/", tmp / f"wrk-{label}.txt", server
        )
        procs.stop(server)
        log(f"{label}: {result['rps']:.0f} req/s")
        return result

    ceilings = [measure_ceiling("ceiling")]
    ceiling_rps = float(ceilings[0]["rps"])

    # 2. the platform ------------------------------------------------------------------------
    data_dir = tmp / "data"
    port = free_port()
    database_url = private_schema(args.database_url, procs) if args.database_url else ""
    where = "PostgreSQL (private schema)" if database_url else f"SQLite in {data_dir}"
    log(f"wxpay-local serve on :{port}, {where}, dispatcher on")
    server = procs.start(
        "wxpay-local serve",
        wxpay_argv(port, workers, data_dir, database_url),
        log_path=tmp / "server.log",
        env=env,
    )
    base = f"http://{HOST}:{port}"
    wait_ready(client, f"{base}/_local/health", server)
    meta["server_pid"] = server.popen.pid
    log(f"wxpay-local serve is up (pid {server.popen.pid})")
    merchants = client.get(f"{base}/_local/merchants").json()["merchants"]
    demo = next((m for m in merchants if m["mch_id"] == DEMO_MCH_ID), None)
    if demo is None:
        raise BenchError(f"no demo merchant {DEMO_MCH_ID} was seeded")
    apps = demo["apps"]
    app = next((a for a in apps if a["kind"] == "official_account"), apps[0])
    merchant = Merchant(demo["mch_id"], demo["api_key"], app["appid"])

    # sample: signed answers, SUCCESS/SUCCESS, for both endpoints (also warms the server up)
    for i in range(1, 21):
        answer = client.post(
            f"{base}/pay/unifiedorder", content=unifiedorder_body(merchant, "S", 0, i)
        )
        fields = check_answer(merchant, answer, f"sample unifiedorder {i}")
        if not fields.get("code_url") or not fields.get("prepay_id"):
            raise BenchError(f"sample unifiedorder {i}: no code_url/prepay_id: {fields}")
    for i in range(1, 21):
        body = orderquery_body(merchant, out_trade_no("S", 0, i), f"sq{i:09d}")
        answer = client.post(f"{base}/pay/orderquery", content=body)
        fields = check_answer(merchant, answer, f"sample orderquery {i}")
        if fields.get("trade_state") != "NOTPAY":
            raise BenchError(f"sample orderquery {i}: trade_state is not NOTPAY: {fields}")
    log("samples: 20 unifiedorder + 20 orderquery answered SUCCESS/SUCCESS, signatures verify")

    # 3. unifiedorder ------------------------------------------------------------------------
    # Enough fresh bodies that the pool does not wrap: the platform cannot beat the ceiling.
    if args.pool:
        total = args.pool
    else:
        total = int(max(5_000.0, 0.5 * ceiling_rps) * args.duration * 1.25)
    per = math.ceil(total / args.threads)
    started = time.perf_counter()
    per_thread = [
        [unifiedorder_body(merchant, "U", tid, i) for i in range(1, per + 1)]
        for tid in range(args.threads)
    ]
    count = write_pool(pool / "unifiedorder", per_thread)
    del per_thread
    log(f"unifiedorder: {count} signed bodies in {time.perf_counter() - started:.1f}s")
    log(f"unifiedorder: wrk for {args.duration}s")
    uo = run_wrk(
        procs,
        wrk,
        load,
        port,
        pool / "unifiedorder",
        "/pay/unifiedorder",
        tmp / "wrk-uo.txt",
        server,
    )
    log(f"unifiedorder: {uo['rps']:.0f} req/s, {uo['errors']} errors")

    # 4. orderquery over the orders step 3 created ---------------------------------------------
    # Thread t sent bodies 1..sent_t (thread 0's body 1 went only to wrk's request check); all
    # but the last connections-per-thread of them were answered before wrk stopped.
    per_conn = args.connections // args.threads
    created: list[list[str]] = []
    for t in uo["threads"]:
        tid, sent = int(t["tid"]), int(t["sent"])
        last = min(sent - per_conn - 1, per) if not t["wraps"] else per
        created.append([out_trade_no("U", tid, i) for i in range(2, last + 1)])
    usable = sum(len(c) for c in created)
    if usable < 100:
        raise BenchError(f"unifiedorder created too few orders to query ({usable})")
    cap = max(1, args.query_pool // args.threads)
    per_thread = [
        [
            orderquery_body(merchant, trade_no, f"oq{tid}x{i:09d}")
            for i, trade_no in enumerate(nos[:: max(1, len(nos) // cap)][:cap])
        ]
        for tid, nos in enumerate(created)
    ]
    count = write_pool(pool / "orderquery", per_thread)
    for bodies in per_thread:  # first, middle and last of every thread's pool
        for body in (bodies[0], bodies[len(bodies) // 2], bodies[-1]):
            answer = client.post(f"{base}/pay/orderquery", content=body)
            fields = check_answer(merchant, answer, "pool orderquery")
            if fields.get("trade_state") != "NOTPAY":
                raise BenchError(f"pool orderquery: trade_state is not NOTPAY: {fields}")
    log(f"orderquery: {count} signed bodies over {usable} created orders; samples SUCCESS")
    log(f"orderquery: wrk for {args.duration}s")
    oq = run_wrk(
        procs, wrk, load, port, pool / "orderquery", "/pay/orderquery", tmp / "wrk-oq.txt", server
    )
    log(f"orderquery: {oq['rps']:.0f} req/s, {oq['errors']} errors")

    if server.popen.poll() is not None:
        raise BenchError(f"the server died during the run:\n{server.tail()}")
    procs.stop(server)

    # 5. the ceiling again: the machine is shared, so each ratio is taken against the higher of
    # the two ceilings (the stack's capacity when the machine was least disturbed) ---------------
    if not args.single_ceiling:
        ceilings.append(measure_ceiling("ceiling-after"))
    best = max(ceilings, key=lambda c: float(c["rps"]))
    ceiling_rps = float(best["rps"])
    goals = GOALS.get((meta["database"], workers), {})
    for label, result in zip(("ceiling", "ceiling-after"), ceilings, strict=False):
        rows.append(summarize(label, result, ceiling_rps, None))
    rows.append(summarize("unifiedorder", uo, ceiling_rps, goals.get("unifiedorder")))
    rows.append(summarize("orderquery", oq, ceiling_rps, goals.get("orderquery")))
    meta["ceiling_rps"] = ceiling_rps
    meta["loadavg_after"] = loadavg()
    meta["orders_created"] = usable
    client.close()
    return {"meta": meta, "targets": goals, "rows": rows}


def _worker_counts(text: str) -> tuple[int, ...]:
    try:
        counts = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of worker counts: {text!r}") from None
    if not counts or min(counts) < 1 or len(set(counts)) != len(counts):
        raise argparse.ArgumentTypeError("worker counts are distinct and at least 1 (e.g. 1,2)")
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per scenario")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument(
        "--workers",
        type=_worker_counts,
        default=(1,),
        help="uvicorn workers, both servers; several (1,2): each in turn, and their ratio",
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="with several --workers: alternate this many times"
    )
    parser.add_argument(
        "--database-url",
        default="",
        help="postgresql://… (a private schema is created and dropped); default: SQLite",
    )
    parser.add_argument("--timeout", type=int, default=5, help="wrk request timeout, seconds")
    parser.add_argument(
        "--pool", type=int, default=0, help="unifiedorder bodies (default: sized from ceiling)"
    )
    parser.add_argument("--query-pool", type=int, default=100_000, help="orderquery bodies")
    parser.add_argument(
        "--output", type=Path, default=HERE / "results" / "latest.json", help="JSON results"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, data)")
    parser.add_argument(
        "--single-ceiling",
        action="store_true",
        help="measure the ceiling only before the scenarios, not also after them",
    )
    parser.add_argument("--check", action="store_true", help="exit 1 when a goal is missed")
    args = parser.parse_args(argv)
    if args.duration < 1 or args.threads < 1 or args.rounds < 1:
        parser.error("--duration, --threads and --rounds must be at least 1")

    stop_signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    for signum in stop_signals:  # SIGINT too: it may have been inherited as ignored
        signal.signal(signum, _raise_on_signal)
    procs = Procs()
    tmp = Path(tempfile.mkdtemp(prefix="wxpay-bench-"))
    runs: list[dict[str, Any]] = []
    try:
        for round_ in range(args.rounds):
            for workers in args.workers:  # alternating: 1, 2, 1, 2, … in one sitting
                runs.append(bench(args, procs, tmp / f"r{round_}w{workers}", workers))
    except BenchError as exc:
        log(f"FAILED: {exc}")
        return 2
    except Interrupted as exc:
        log(f"interrupted by {signal.Signals(exc.signum).name}: stopping")
        return 128 + exc.signum
    finally:
        for signum in stop_signals:  # a second Ctrl-C must not cut the clean-up short
            signal.signal(signum, signal.SIG_IGN)
        procs.stop_all()
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    for signum in stop_signals:
        signal.signal(signum, signal.SIG_DFL)
    for run in runs:
        print_table(run["rows"], run["meta"])
    scaled = scaling(runs) if len(args.workers) > 1 else []
    if scaled:
        print_scaling(scaled)
    # The first configuration's results stay at the top level (the shape of one run).
    results = {**runs[0], "runs": runs, "scaling": scaled}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", "utf-8")
    log(f"wrote {args.output}")
    rows = [row for run in runs for row in run["rows"]]
    if any(row["errors"] for row in rows):
        return 2
    if args.check and any(row["verdict"] == "MISS" for row in [*rows, *scaled]):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
