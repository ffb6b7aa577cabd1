"""Throughput and latency of the merchant API against a same-stack ceiling.

    python bench/run.py [--duration 10] [--connections 64] [--threads 2] [--workers 1]
                        [--database-url postgresql://…]

1. ceiling: ``bench/ceiling.py`` (a constant-answer ASGI app) on uvicorn + uvloop + httptools;
2. ``wxpay-local serve`` on SQLite in a fresh temporary data dir (demo merchant, dispatcher on);
3. unifiedorder: NATIVE/MD5 orders, a different out_trade_no on every request;
4. orderquery: by out_trade_no, over the orders step 3 created;
5. the ceiling again (unless ``--single-ceiling``): ratios use the higher of the two.

Every scenario is the same wrk run (``bench/pool.lua``: pre-signed bodies read from files,
cycled, every answer checked) with the same threads, connections and duration, so the ratio
req/s ÷ ceiling req/s says how much of what this machine's server stack can do the platform
keeps; the server's own CPU time per request (from /proc) is shown beside it, being far less
sensitive to whatever else the shared machine is doing. Prints a table and writes
``bench/results/latest.json``. Every process it starts runs in its own session and is stopped
(process group, TERM then KILL) on exit, failure or Ctrl-C.
All traffic goes to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from wxpay_local.wire.signing import sign, verify
from wxpay_local.wire.xml import decode, encode

HERE = Path(__file__).resolve().parent
LUA = HERE / "pool.lua"
HOST = "127.0.0.1"
DEMO_MCH_ID = "1900000109"
NOTIFY_URL = "http://127.0.0.1:9/notify"  # never called: the orders stay unpaid

TARGETS: dict[str, dict[str, float]] = {
    "unifiedorder": {"min_ratio": 0.25, "max_p99_ms": 40.0},
    "orderquery": {"min_ratio": 0.35},
}


class BenchError(RuntimeError):
    """The benchmark could not run (a server did not start, wrk failed, a bad answer)."""


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# processes ----------------------------------------------------------------------------------
@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    log_file: BinaryIO

    def tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return ""
        text = self.log_path.read_text("utf-8", "replace").splitlines()
        return "\n".join(text[-lines:])


@dataclass
class Procs:
    """Every process the benchmark started; each leads its own session and process group."""

    running: list[Proc] = field(default_factory=list)
    #: Run after every process has stopped (e.g. dropping the bench's PostgreSQL schema).
    cleanups: list[Callable[[], None]] = field(default_factory=list)

    def start(self, name: str, argv: list[str], *, log_path: Path, env: Mapping[str, str]) -> Proc:
        """Start argv in a new session, stdout and stderr to log_path."""
        log_file = open(log_path, "wb")
        try:
            popen = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=dict(env),
                start_new_session=True,
            )
        except BaseException:
            log_file.close()
            raise
        proc = Proc(name, popen, log_path, log_file)
        self.running.append(proc)
        return proc

    def stop(self, proc: Proc, grace: float = 10.0) -> None:
        pgid = proc.popen.pid  # start_new_session: the child leads its own process group
        if proc.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGTERM)
            try:
                proc.popen.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                log(f"{proc.name} ignored SIGTERM for {grace:.0f}s: killing it")
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pgid, signal.SIGKILL)
                proc.popen.wait(timeout=grace)
            # uvicorn --workers N: no worker of the group may outlive its supervisor
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
        proc.log_file.close()
        if proc in self.running:
            self.running.remove(proc)

    def stop_all(self) -> None:
        for proc in reversed(list(self.running)):
            try:
                self.stop(proc)
            except Exception as exc:  # keep stopping the others
                log(f"could not stop {proc.name} (pid {proc.popen.pid}): {exc}")
        while self.cleanups:
            try:
                self.cleanups.pop()()
            except Exception as exc:
                log(f"cleanup failed: {exc}")


class Interrupted(BaseException):
    """Ctrl-C, SIGTERM or SIGHUP: stop everything and exit with 128 + the signal number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_on_signal(signum: int, _frame: object) -> None:
    raise Interrupted(signum)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def child_env() -> dict[str, str]:
    """Our environment without WXPAY_* (SQLite in the temp dir, nothing inherited) or proxies."""
    drop = ("WXPAY_", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def wait_ready(client: httpx.Client, url: str, proc: Proc, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise BenchError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.tail()}")
        with contextlib.suppress(httpx.HTTPError):
            if client.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise BenchError(f"{proc.name} not ready at {url} after {timeout:.0f}s:\n{proc.tail()}")


def uvicorn_ceiling_argv(port: int, workers: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "ceiling:app",
        "--app-dir",
        str(HERE),
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        "warning",
    ]


def wxpay_argv(port: int, workers: int, data_dir: Path, database_url: str) -> list[str]:
    database = ["--database-url", database_url] if database_url else []
    return [*_wxpay_base(), *database, *_wxpay_rest(port, workers, data_dir)]


def _wxpay_base() -> list[str]:
    return [sys.executable, "-m", "wxpay_local", "serve"]


def _wxpay_rest(port: int, workers: int, data_dir: Path) -> list[str]:
    return [
        "--data-dir",
        str(data_dir),
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
    ]


def private_schema(url: str, procs: Procs) -> str:
    """A fresh schema of ``url``'s database, first on the search_path; dropped on exit."""
    import uuid
    from urllib.parse import quote

    import psycopg

    schema = f"wxpay_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")

    def drop() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")

    procs.cleanups.append(drop)
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options={quote(f'-csearch_path={schema}', safe='')}"


def cpu_seconds(pgid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of every live process in process group ``pgid`` (Linux /proc;
    zero elsewhere): the server's own cost, whatever else the machine is doing."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    user = system = 0
    proc = Path("/proc")
    if not proc.is_dir():
        return 0.0, 0.0
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        # after the command: state ppid pgrp session ... utime(12th) stime(13th)
        if int(fields[2]) == pgid:
            user += int(fields[11])
            system += int(fields[12])
    return user / tick, system / tick


# request bodies -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Merchant:
    mch_id: str
    api_key: str
    appid: str


def out_trade_no(series: str, tid: int, index: int) -> str:
    return f"{series}t{tid}n{index:09d}"


def unifiedorder_body(m: Merchant, series: str, tid: int, index: int) -> bytes:
    fields: dict[str, str | int] = {
        "appid": m.appid,
        "mch_id": m.mch_id,
        "nonce_str": f"uo{series}{tid}x{index:09d}",
        "body": "wxpay-local bench-coffee",
        "out_trade_no": out_trade_no(series, tid, index),
        "total_fee": str(1 + index % 5000),
        "spbill_create_ip": "127.0.0.1",
        "notify_url": NOTIFY_URL,
        "trade_type": "NATIVE",
        "product_id": "bench-latte",
        "sign_type": "MD5",
    }
    fields["sign"] = sign(fields, m.api_key)
    return encode(fields)


def orderquery_body(m: Merchant, trade_no: str, nonce: str) -> bytes:
    fields: dict[str, str | int] = {
        "appid": m.appid,
        "mch_id": m.mch_id,
        "nonce_str": nonce,
        "out_trade_no": trade_no,
    }
    fields["sign"] = sign(fields, m.api_key)
    return encode(fields)


def write_pool(prefix: Path, per_thread: list[list[bytes]]) -> int:
    """prefix.<tid>.xml, one body per line (encode() never emits a newline)."""
    total = 0
    for tid, bodies in enumerate(per_thread):
        with open(f"{prefix}.{tid}.xml", "wb") as f:
            for body in bodies:
                if b"\n" in body:
                    raise BenchError("a request body contains a newline")
                f.write(body + b"\n")
        total += len(bodies)
    return total


def check_answer(m: Merchant, answer: httpx.Response, what: str) -> dict[str, str]:
    """A SUCCESS/SUCCESS answer correctly signed by the platform, or BenchError."""
    if answer.status_code != 200:
        raise BenchError(f"{what}: HTTP {answer.status_code}: {answer.text[:300]}")
    fields = decode(answer.content)
    if fields.get("return_code") != "SUCCESS" or fields.get("result_code") != "SUCCESS":
        raise BenchError(f"{what}: not SUCCESS/SUCCESS: {fields}")
    if not verify(fields, m.api_key):
        raise BenchError(f"{what}: the answer's signature does not verify: {fields}")
    return fields


# wrk ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Load:
    duration: int
    connections: int
    threads: int
    timeout: int


def run_wrk(
    procs: Procs,
    wrk: str,
    load: Load,
    port: int,
    prefix: Path,
    path: str,
    raw_out: Path,
    server: Proc | None = None,
) -> dict[str, Any]:
    argv = [
        wrk,
        "-t",
        str(load.threads),
        "-c",
        str(load.connections),
        "-d",
        f"{load.duration}s",
        "--timeout",
        f"{load.timeout}s",
        "--latency",
        "-s",
        str(LUA),
        f"http://{HOST}:{port}",
        "--",
        str(prefix),
        path,
    ]
    cpu_before = cpu_seconds(server.popen.pid) if server is not None else (0.0, 0.0)
    proc = procs.start("wrk", argv, log_path=raw_out, env=child_env())
    try:
        proc.popen.wait(timeout=load.duration + 120)
        cpu_after = cpu_seconds(server.popen.pid) if server is not None else (0.0, 0.0)
    except subprocess.TimeoutExpired:
        raise BenchError(f"wrk did not finish within {load.duration + 120}s") from None
    finally:
        procs.stop(proc)
    text = raw_out.read_text("utf-8", "replace")
    if proc.popen.returncode != 0:
        raise BenchError(f"wrk exited with {proc.popen.returncode}:\n{text[-2000:]}")
    for line in text.splitlines():
        if line.startswith("BENCH_JSON "):
            result: dict[str, Any] = json.loads(line.removeprefix("BENCH_JSON "))
            result["errors"] = (
                result["bad_status"]
                + result["fail_body"]
                + sum(v for k, v in result["socket_errors"].items() if k != "status")
            )
            user = cpu_after[0] - cpu_before[0]
            system = cpu_after[1] - cpu_before[1]
            requests = result["requests"]
            result["server_cpu_s"] = {"user": user, "system": system}
            result["cpu_us_per_req"] = (1e6 * (user + system) / requests) if requests else None
            result["sys_us_per_req"] = (1e6 * system / requests) if requests else None
            return result
    raise BenchError(f"wrk printed no BENCH_JSON line:\n{text[-2000:]}")


def summarize(name: str, result: dict[str, Any], ceiling_rps: float | None) -> dict[str, Any]:
    pct = result["latency_ms"]["percentiles"]
    row: dict[str, Any] = {
        "scenario": name,
        "rps": result["rps"],
        "p50_ms": pct["50"],
        "p99_ms": pct["99"],
        "ratio": (result["rps"] / ceiling_rps) if ceiling_rps else None,
        "errors": result["errors"],
        "cpu_us_per_req": result.get("cpu_us_per_req"),
        "requests": result["requests"],
        "wraps": result["wraps"],
        "target": None,
        "verdict": None,
        "reasons": [],
        "wrk": result,
    }
    target = TARGETS.get(name)
    if target is not None:
        reasons = []
        if row["ratio"] is None or row["ratio"] < target["min_ratio"]:
            reasons.append(f"ratio below {target['min_ratio']:.0%}")
        if "max_p99_ms" in target and row["p99_ms"] > target["max_p99_ms"]:
            reasons.append(f"p99 above {target['max_p99_ms']:g} ms")
        if row["errors"]:
            reasons.append(f"{row['errors']} bad answers or socket errors")
        row["target"] = target
        row["verdict"] = "MISS" if reasons else "PASS"
        row["reasons"] = reasons
    if result["first_bad"]:
        row["first_bad"] = result["first_bad"]
    return row


def target_text(target: Mapping[str, float] | None) -> str:
    if not target:
        return "-"
    text = f">= {target['min_ratio']:.0%} of ceiling"
    if "max_p99_ms" in target:
        text += f", p99 <= {target['max_p99_ms']:g} ms"
    return text


def print_table(rows: list[dict[str, Any]], meta: Mapping[str, Any]) -> None:
    print()
    print(
        f"wxpay-local bench  {meta['started_at']}  workers={meta['workers']}  "
        f"wrk -t{meta['threads']} -c{meta['connections']} -d{meta['duration']}s  "
        f"cpus={meta['cpus']}  load before={meta['loadavg_before']}"
    )
    head = (
        f"{'scenario':<13} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'ratio':>7} "
        f"{'cpu us/req':>10} {'errors':>6}  {'target':<34} verdict"
    )
    print(head)
    print("-" * len(head))
    for row in rows:
        ratio = "-" if row["ratio"] is None else f"{row['ratio']:.1%}"
        cpu = "-" if not row.get("cpu_us_per_req") else f"{row['cpu_us_per_req']:.0f}"
        verdict = row["verdict"] or "-"
        if row["reasons"]:
            verdict += " (" + "; ".join(row["reasons"]) + ")"
        print(
            f"{row['scenario']:<13} {row['rps']:>9.1f} {row['p50_ms']:>8.2f} "
            f"{row['p99_ms']:>8.2f} {ratio:>7} {cpu:>10} {row['errors']:>6}  "
            f"{target_text(row['target']):<34} {verdict}"
        )
        if row["wraps"] and row["scenario"] == "unifiedorder":
            print(
                f"{'':<13} note: the body pool wrapped {row['wraps']} time(s): later requests "
                "re-entered existing orders (raise --pool)"
            )
        if row.get("first_bad"):
            print(f"{'':<13} first bad answer: {row['first_bad'][:200]}")
    print()


# the run ------------------------------------------------------------------------------------
def loadavg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def bench(args: argparse.Namespace, procs: Procs, tmp: Path) -> dict[str, Any]:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise BenchError("wrk is not installed (apt-get install wrk)")
    if args.connections < args.threads:
        raise BenchError("--connections must be at least --threads")
    load = Load(args.duration, args.connections, args.threads, args.timeout)
    env = child_env()
    client = httpx.Client(trust_env=False, timeout=10)
    meta: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "duration": args.duration,
        "connections": args.connections,
        "threads": args.threads,
        "workers": args.workers,
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
        log(f"{label}: uvicorn ceiling:app on :{port} ({args.workers} worker(s))")
        server = procs.start(
            "ceiling server",
            uvicorn_ceiling_argv(port, args.workers),
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
        wxpay_argv(port, args.workers, data_dir, database_url),
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
    for label, result in zip(("ceiling", "ceiling-after"), ceilings, strict=False):
        rows.append(summarize(label, result, ceiling_rps))
    rows.append(summarize("unifiedorder", uo, ceiling_rps))
    rows.append(summarize("orderquery", oq, ceiling_rps))
    meta["ceiling_rps"] = ceiling_rps
    meta["loadavg_after"] = loadavg()
    meta["orders_created"] = usable
    client.close()
    return {"meta": meta, "targets": TARGETS, "rows": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per scenario")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers, both servers")
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
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if args.duration < 1 or args.threads < 1 or args.workers < 1:
        parser.error("--duration, --threads and --workers must be at least 1")

    stop_signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    for signum in stop_signals:  # SIGINT too: it may have been inherited as ignored
        signal.signal(signum, _raise_on_signal)
    procs = Procs()
    tmp = Path(tempfile.mkdtemp(prefix="wxpay-bench-"))
    try:
        results = bench(args, procs, tmp)
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
    print_table(results["rows"], results["meta"])
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", "utf-8")
    log(f"wrote {args.output}")
    if any(row["errors"] for row in results["rows"]):
        return 2
    if args.check and any(row["verdict"] == "MISS" for row in results["rows"]):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
