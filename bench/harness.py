"""The machinery the benchmarks share: processes in their own process groups (stopped, group
and all, on exit), free ports, the servers' command lines, a private PostgreSQL schema, the
server's CPU time and memory from /proc, pre-signed request bodies and wrk with ``pool.lua``.

``run.py`` (the merchant API against a ceiling), ``dispatch.py`` and ``scale_1m.py`` import it.
Linux /proc is read for CPU and memory; elsewhere those figures are zero.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
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
        # a free one: the default (port + 1) may be taken by anything on a shared machine
        "--tls-port",
        str(free_port()),
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


def group_pids(pgid: int) -> list[int]:
    """The live processes of process group ``pgid`` (Linux /proc; none elsewhere)."""
    found = []
    proc = Path("/proc")
    if not proc.is_dir():
        return found
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # after the command: state ppid pgrp ...
        if int(stat[stat.rindex(")") + 2 :].split()[2]) == pgid:
            found.append(int(entry.name))
    return found


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS (resident now) and VmHWM (the peak resident size since the process started), kB."""
    found: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                found[name] = int(value.split()[0])
    return found


@dataclass
class RssWatch:
    """The largest resident size each process of a group reached while watched: VmRSS sampled
    (``sample``) and, at the end, VmHWM (which also covers start-up and any moment between
    samples)."""

    pgid: int
    peak_kb: dict[int, int] = field(default_factory=dict)
    roles: dict[int, str] = field(default_factory=dict)

    def sample(self, final: bool = False) -> None:
        for pid in group_pids(self.pgid):
            memory = memory_kb(pid)
            seen = max(memory.get("VmRSS", 0), memory.get("VmHWM", 0) if final else 0)
            if seen > self.peak_kb.get(pid, 0):
                self.peak_kb[pid] = seen
            if pid not in self.roles:
                self.roles[pid] = "leader" if pid == self.pgid else "child"

    def report(self) -> dict[str, Any]:
        """Each process's peak (MB) and the largest, for the table's ``rss MB`` column."""
        processes = [
            {"pid": pid, "role": self.roles.get(pid, "?"), "peak_mb": round(kb / 1024, 1)}
            for pid, kb in sorted(self.peak_kb.items())
        ]
        largest = max((p["peak_mb"] for p in processes), default=None)
        return {"max_mb": largest, "processes": processes}


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
    rss = RssWatch(server.popen.pid) if server is not None else None
    proc = procs.start("wrk", argv, log_path=raw_out, env=child_env())
    try:
        deadline = time.monotonic() + load.duration + 120
        while proc.popen.poll() is None:  # sample the server's memory while wrk runs
            if time.monotonic() > deadline:
                raise BenchError(f"wrk did not finish within {load.duration + 120}s")
            if rss is not None:
                rss.sample()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.popen.wait(timeout=0.5)
        cpu_after = cpu_seconds(server.popen.pid) if server is not None else (0.0, 0.0)
        if rss is not None:
            rss.sample(final=True)
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
            result["rss"] = rss.report() if rss is not None else None
            return result
    raise BenchError(f"wrk printed no BENCH_JSON line:\n{text[-2000:]}")


def loadavg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []
