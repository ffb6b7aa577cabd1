"""A million-payment day: how long its bill takes to download, and the server's peak memory.

    python bench/bill_1m.py [--rows 1000000] [--fundflow] [--keep]

1. A fresh SQLite data dir; the schema, one merchant and one payer through the store as usual;
   then ``--rows`` paid orders spread over yesterday (Beijing time) bulk-inserted straight into
   SQLite (``executemany``, 50,000 rows a batch, a progress bar on stderr), with their ledger
   entries: the payer's top-up, then per payment one ledger transaction and three postings
   (payer wallet, merchant basic account net of the 0.6 % fee, platform fee income) with the
   running balances, and the final account balances: the fund flow has real data to read.
2. ``wxpay-local serve`` on that data dir (no demo, no HTTPS, no dispatcher,
   ``--bills-available-immediately`` so the run does not depend on the hour).
3. ``POST /pay/downloadbill`` (bill_type=ALL, tar_type=GZIP, signed like any merchant) with a
   streaming client that gunzips as it reads, counts the rows and checks the summary.
4. Prints the download time and the server's peak RSS (``VmHWM`` in /proc/<pid>/status)
   against the targets: at most 20 s and 150 MB.

``--fundflow`` also times the Basic account's fund flow (the server runs with
``--no-client-cert`` for it; its Digest header needs a first pass over the day, so it reads the
day twice). The server runs in its own process group and is stopped on exit; the data dir is
deleted unless ``--keep``. Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx

from wxpay_local.codes import SignType
from wxpay_local.domain import ledger
from wxpay_local.domain.clock import TestClock
from wxpay_local.domain.ids import Ids
from wxpay_local.domain.setup import NewMerchant, NewPayer, create_merchant, create_payer
from wxpay_local.store import open_store
from wxpay_local.store.rows import ORDER_COLUMNS
from wxpay_local.timefmt import SHANGHAI, to_millis
from wxpay_local.wire.signing import sign
from wxpay_local.wire.xml import encode

TARGET_SECONDS = 20.0
TARGET_MB = 150.0
BATCH = 50_000
MCH_ID = "1900000109"
TRADE_TYPES = ("JSAPI", "NATIVE", "APP", "MWEB", "MICROPAY")


def log(message: str) -> None:
    print(f"[bill_1m] {message}", file=sys.stderr, flush=True)


_SHOWN: set[tuple[str, int]] = set()


def progress(label: str, done: int, total: int, started: float) -> None:
    if (label, done) in _SHOWN:
        return
    _SHOWN.add((label, done))
    share = done / total
    rate = done / max(time.monotonic() - started, 1e-6)
    bar = "#" * int(share * 30)
    end = "\n" if done >= total else ""
    print(
        f"\r[bill_1m] {label:<9} [{bar:<30}] {share:6.1%} {done:,}/{total:,} ({rate:,.0f}/s)",
        end=end,
        file=sys.stderr,
        flush=True,
    )


# seeding ------------------------------------------------------------------------------------
def seed(data_dir: Path, rows: int, day: datetime) -> tuple[str, str]:
    """The day's orders and ledger; returns (api_key, appid)."""
    store = open_store(str(data_dir / "wxpay.sqlite3"))
    ids = Ids(seed=7)
    try:
        with store.begin() as tx:
            created = create_merchant(tx, ids, NewMerchant(name="Bench shop", mch_id=MCH_ID))
            payer = create_payer(tx, TestClock(frozen=day), ids, NewPayer(name="Buyer"))
        merchant, appid = created.merchant, created.apps[0].appid
        openid = payer.openids[appid]
    finally:
        store.close()
    conn = sqlite3.connect(data_dir / "wxpay.sqlite3", isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("BEGIN")
    try:
        _insert(conn, merchant.id, appid, openid, payer.payer.id, rows, day)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    finally:
        conn.close()
    return merchant.api_key, appid


def _orders(
    merchant_id: int, appid: str, openid: str, payer_id: int, rows: int, day: datetime
) -> Iterator[tuple[tuple[object, ...], tuple[str, int, int, int]]]:
    """(order row, (transaction_id, at, total, fee)) for every payment, in time order."""
    rng = random.Random(1)
    start = to_millis(day)
    step = 86_400_000 / rows
    template: dict[str, object] = {name: "" for name in ORDER_COLUMNS}
    template.update(
        merchant_id=merchant_id,
        mch_id=MCH_ID,
        appid=appid,
        trade_state="SUCCESS",
        spbill_create_ip="203.0.113.10",
        sign_type="MD5",
        fee_type="CNY",
        payer_openid=openid,
        payer_id=payer_id,
        bank_type="OTHERS",
        is_subscribe="N",
        password_free=0,
    )
    for name in (
        "time_start",
        "time_expire",
        "prepay_id",
        "prepay_expires_at",
        "qr_code",
        "auth_code",
        "password_deadline",
        "card_id",
    ):
        template[name] = None
    stamp = day.strftime("%Y%m%d")
    for n in range(rows):
        at = start + int(n * step)
        total = rng.randint(1, 50_000)
        fee = ledger.fee_of(total, ledger.DEFAULT_FEE_RATE_PPM)
        transaction_id = f"42000{n % 100_000:05d}{stamp}{n:010d}"
        trade_type = TRADE_TYPES[n % len(TRADE_TYPES)]
        values = template | {
            "id": n + 1,
            "out_trade_no": f"B{stamp}{n:09d}",
            "trade_type": trade_type,
            "total_fee": total,
            "body": "Bench shop-Coffee",
            "created_at": at - 5_000,
            "transaction_id": transaction_id,
            "cash_fee": total,
            "fee": fee,
            "time_end": at,
            "updated_at": at,
            "openid": openid if trade_type == "JSAPI" else "",
            "notify_url": "" if trade_type == "MICROPAY" else "https://shop.example/notify",
        }
        yield tuple(values[c] for c in ORDER_COLUMNS), (transaction_id, at, total, fee)


def _insert(
    conn: sqlite3.Connection,
    merchant_id: int,
    appid: str,
    openid: str,
    payer_id: int,
    rows: int,
    day: datetime,
) -> None:
    wallet, basic = ledger.wallet(payer_id), f"merchant:{MCH_ID}:basic"
    fee_income = ledger.FEE_INCOME
    first_txn = (conn.execute("SELECT COALESCE(MAX(id), 0) FROM ledger_txns").fetchone()[0]) + 1
    first_posting = (conn.execute("SELECT COALESCE(MAX(id), 0) FROM postings").fetchone()[0]) + 1
    balances = {a: 0 for a in (ledger.TOPUP_SOURCE, wallet, basic, fee_income)}
    for code, balance in conn.execute("SELECT code, balance FROM accounts"):
        balances[code] = balance
    # the payer's wallet is topped up with exactly what the day will spend
    spend = sum(values[1][2] for values in _orders(merchant_id, appid, openid, payer_id, rows, day))
    txn, posting = first_txn, first_posting
    opening = to_millis(day) - 60_000
    conn.execute(
        "INSERT INTO ledger_txns (id, kind, ref, at, memo) VALUES (?, 'topup', ?, ?, '')",
        (txn, f"topup-bench-{payer_id}", opening),
    )
    for account, amount in ((ledger.TOPUP_SOURCE, -spend), (wallet, spend)):
        balances[account] += amount
        conn.execute(
            "INSERT INTO postings (id, txn_id, account, amount, balance_after)"
            " VALUES (?, ?, ?, ?, ?)",
            (posting, txn, account, amount, balances[account]),
        )
        posting += 1
    txn += 1
    columns = ", ".join(ORDER_COLUMNS)
    marks = ", ".join("?" for _ in ORDER_COLUMNS)
    started = time.monotonic()
    orders: list[tuple[object, ...]] = []
    txns: list[tuple[object, ...]] = []
    postings: list[tuple[object, ...]] = []
    done = 0
    for order, (transaction_id, at, total, fee) in _orders(
        merchant_id, appid, openid, payer_id, rows, day
    ):
        orders.append(order)
        txns.append((txn, transaction_id, at))
        for account, amount in ((wallet, -total), (basic, total - fee), (fee_income, fee)):
            balances[account] += amount
            postings.append((posting, txn, account, amount, balances[account]))
            posting += 1
        txn += 1
        if len(orders) == BATCH:
            done += _flush(conn, columns, marks, orders, txns, postings)
            progress("seeding", done, rows, started)
    done += _flush(conn, columns, marks, orders, txns, postings)
    progress("seeding", done, rows, started)
    conn.executemany(
        "INSERT INTO accounts (code, balance) VALUES (?, ?)"
        " ON CONFLICT (code) DO UPDATE SET balance = excluded.balance",
        list(balances.items()),
    )


def _flush(
    conn: sqlite3.Connection,
    columns: str,
    marks: str,
    orders: list[tuple[object, ...]],
    txns: list[tuple[object, ...]],
    postings: list[tuple[object, ...]],
) -> int:
    conn.executemany(f"INSERT INTO orders ({columns}) VALUES ({marks})", orders)
    conn.executemany(
        "INSERT INTO ledger_txns (id, kind, ref, at, memo) VALUES (?, 'payment', ?, ?, '')", txns
    )
    conn.executemany(
        "INSERT INTO postings (id, txn_id, account, amount, balance_after) VALUES (?, ?, ?, ?, ?)",
        postings,
    )
    count = len(orders)
    orders.clear()
    txns.clear()
    postings.clear()
    return count


# the server ---------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def server(data_dir: Path, port: int, fundflow: bool) -> Iterator[subprocess.Popen[bytes]]:
    exe = shutil.which("wxpay-local")
    command = [exe] if exe else [sys.executable, "-m", "wxpay_local"]
    command += ["serve", "--data-dir", str(data_dir), "--port", str(port), "--tls-port", "0"]
    command += ["--no-demo", "--no-dispatcher", "--bills-available-immediately"]
    command += ["--log-level", "warning"] + (["--no-client-cert"] if fundflow else [])
    log_file = (data_dir / "server.log").open("wb")
    proc = subprocess.Popen(
        command, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited: {(data_dir / 'server.log').read_text()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/_local/health", timeout=1).is_success:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not start within 60 s")
            time.sleep(0.1)
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log_file.close()


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/<pid>/status")


def download(
    url: str, fields: dict[str, str], api_key: str, rows: int, label: str = "bill"
) -> tuple[float, float, str]:
    """(seconds to the last byte, seconds to the first, the summary line); checks the file."""
    sign_type = SignType(fields.get("sign_type", "MD5"))
    body = encode(fields | {"sign": sign(fields, api_key, sign_type)})
    unpack = zlib.decompressobj(31)
    lines = 0
    tail = b""
    started = time.perf_counter()
    first = 0.0
    with httpx.stream("POST", url, content=body, timeout=120, trust_env=False) as response:
        if response.headers.get("content-type", "").startswith("text/xml"):
            raise RuntimeError(f"refused: {response.read().decode()}")
        for chunk in response.iter_raw():
            if not first:
                first = time.perf_counter() - started
            text = unpack.decompress(chunk)
            lines += text.count(b"\n")
            tail = (tail + text)[-4096:]
            if lines and lines % 200_000 < text.count(b"\n"):
                progress(label, min(lines, rows), rows, started)
    elapsed = time.perf_counter() - started
    tail = (tail + unpack.flush())[-4096:]
    progress(label, rows, rows, started)
    summary = tail.decode("utf-8", "replace").rstrip("\n").split("\n")[-1]
    if lines != rows + 3 or summary.split(",")[0] != f"`{rows}":
        raise RuntimeError(f"unexpected file: {lines} lines, summary {summary!r}")
    return elapsed, first, summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--fundflow", action="store_true", help="also time the fund flow")
    parser.add_argument("--keep", action="store_true", help="keep the data dir")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="wxpay-bill-1m-"))
    day = datetime.now(SHANGHAI).replace(hour=0, minute=0, second=0, microsecond=0)
    day -= timedelta(days=1)
    try:
        log(f"seeding {args.rows:,} payments on {day:%Y-%m-%d} into {data_dir}")
        started = time.monotonic()
        api_key, appid = seed(data_dir, args.rows, day)
        size = (data_dir / "wxpay.sqlite3").stat().st_size / 1e6
        log(f"seeded in {time.monotonic() - started:.1f} s ({size:,.0f} MB database)")
        port = free_port()
        with server(data_dir, port, args.fundflow) as proc:
            base = f"http://127.0.0.1:{port}"
            idle = peak_rss_mb(proc.pid)
            fields = {
                "appid": appid,
                "mch_id": MCH_ID,
                "nonce_str": "benchbill" + str(os.getpid()),
                "bill_date": f"{day:%Y%m%d}",
                "bill_type": "ALL",
                "tar_type": "GZIP",
            }
            elapsed, first, summary = download(
                f"{base}/pay/downloadbill", fields, api_key, args.rows
            )
            peak = peak_rss_mb(proc.pid)
            flow = None
            if args.fundflow:
                flow_fields = {k: v for k, v in fields.items() if k != "bill_type"}
                flow_fields |= {"account_type": "Basic", "sign_type": "HMAC-SHA256"}
                flow = download(
                    f"{base}/pay/downloadfundflow", flow_fields, api_key, args.rows, "fundflow"
                )
                flow_peak = peak_rss_mb(proc.pid)
    finally:
        if args.keep:
            log(f"kept {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)
    ok = elapsed <= TARGET_SECONDS and peak <= TARGET_MB
    print(f"bill ALL GZIP, {args.rows:,} payments: summary {summary}")
    took = f"{elapsed:6.2f} s   (first byte after {first:.2f} s)"
    print(f"  download   {took}   target ≤ {TARGET_SECONDS:.0f} s")
    memory = f"{peak:6.1f} MB  (server idle before: {idle:.1f} MB)"
    print(f"  peak RSS   {memory}   target ≤ {TARGET_MB:.0f} MB")
    if flow is not None:
        took = f"{flow[0]:.2f} s (first byte after {flow[1]:.2f} s)"
        print(f"fund flow Basic GZIP: {took}, peak RSS {flow_peak:.1f} MB")
    print("targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
