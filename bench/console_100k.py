"""The merchant console with 100,000 orders: how long its list pages take over HTTP.

    python bench/console_100k.py [--orders 100000] [--repeat 15] [--plans] [--keep]

1. A fresh SQLite data dir; the schema and two merchants through the store as usual; then
   ``--orders`` orders (nine in ten at the big merchant) spread over 30 days, states and trade
   types mixed, bulk-inserted straight into SQLite (``executemany``, 50,000 rows a batch); each
   paid order gets a delivered notification with one attempt, one in twenty a refund.
2. ``wxpay-local serve`` on that data dir (no demo, no dispatcher) with an operator password.
3. Signs in to the console as the operator and times each page ``--repeat`` times (median and
   95th percentile, milliseconds): the orders list first page, a deep page through the cursor,
   each filter, the exact searches, the "all merchants" list, refunds and notifications.

``--plans`` prints SQLite's EXPLAIN QUERY PLAN of the list statements as they run (the same
SQL the store sends). The server runs in its own process group and is stopped on exit; the data
dir is deleted unless ``--keep``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx
from bill_1m import free_port, server

from wxpay_local.domain.ids import Ids
from wxpay_local.domain.ports import Keyset
from wxpay_local.domain.setup import NewMerchant, create_merchant
from wxpay_local.store import open_store
from wxpay_local.store.rows import ORDER_COLUMNS
from wxpay_local.store.sql import SQLITE, SqlTx
from wxpay_local.timefmt import SHANGHAI, to_millis

BATCH = 50_000
BIG, SMALL = "1900000109", "1900000110"
START = datetime(2024, 4, 1, tzinfo=SHANGHAI)
DAYS = 30
STATES = ("SUCCESS",) * 12 + ("NOTPAY",) * 5 + ("CLOSED",) * 2 + ("REFUND",)
TYPES = ("JSAPI", "NATIVE", "APP", "MWEB", "MICROPAY")
PASSWORD = "bench-operator-pw"


def log(message: str) -> None:
    print(f"[console_100k] {message}", file=sys.stderr, flush=True)


def seed(data_dir: Path, count: int) -> dict[str, int]:
    """The orders, notifications and refunds; returns the merchants' row ids."""
    store = open_store(str(data_dir / "wxpay.sqlite3"))
    ids = Ids(seed=11)
    try:
        with store.begin() as tx:
            merchants = {
                mch_id: create_merchant(tx, ids, NewMerchant(name=name, mch_id=mch_id))
                for mch_id, name in ((BIG, "Bench big shop"), (SMALL, "Bench small shop"))
            }
    finally:
        store.close()
    conn = sqlite3.connect(data_dir / "wxpay.sqlite3", isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("BEGIN")
    step = DAYS * 86_400_000 // count
    orders, notes, attempts, refunds = [], [], [], []  # type: ignore[var-annotated]
    next_note = 1
    template = dict.fromkeys(ORDER_COLUMNS, "")
    for name in ("time_start", "time_expire", "prepay_id", "prepay_expires_at", "qr_code"):
        template[name] = None
    for name in ("auth_code", "password_deadline", "card_id", "payer_id", "time_end"):
        template[name] = None
    for n in range(count):
        mch_id = SMALL if n % 10 == 3 else BIG
        created = merchants[mch_id]
        at = to_millis(START) + n * step
        state = STATES[n % len(STATES)]
        paid = state in ("SUCCESS", "REFUND")
        values = template | {
            "id": n + 1,
            "merchant_id": created.merchant.id,
            "mch_id": mch_id,
            "appid": created.apps[0].appid,
            "out_trade_no": f"C{n:09d}",
            "trade_type": TYPES[n % len(TYPES)],
            "trade_state": state,
            "total_fee": 100 + n % 5000,
            "body": "Bench shop-Coffee",
            "spbill_create_ip": "203.0.113.10",
            "sign_type": "MD5",
            "created_at": at,
            "fee_type": "CNY",
            "is_subscribe": "N",
            "password_free": 0,
            "cash_fee": 100 + n % 5000 if paid else 0,
            "fee": 1 if paid else 0,
            "transaction_id": f"4200{n:020d}" if paid else None,
            "time_end": at + 3_000 if paid else None,
            "updated_at": at + 3_000,
            "notify_url": "https://shop.example/notify",
        }
        orders.append(tuple(values[c] for c in ORDER_COLUMNS))
        if paid:
            note_id = next_note
            next_note += 1
            notes.append((note_id, "payment", created.merchant.id, n + 1, "https://shop.example/notify",
                          "{}", "MD5", "delivered", 1, at + 3_000, at + 3_000,
                          at + 3_050))  # fmt: skip
            attempts.append((note_id, 1, at + 3_050, 1, 200, 12, "", "<xml>SUCCESS</xml>"))
        if state == "REFUND":
            refunds.append((created.merchant.id, n + 1, f"RF{n:09d}", f"5030{n:020d}", 50, 0,
                            "CNY", "", "REFUND_SOURCE_UNSETTLED_FUNDS", "", "SUCCESS", "ORIGINAL",
                            "支付用户零钱", "API", "MD5", at + 60_000, None, at + 120_000,
                            at + 120_000))  # fmt: skip
        if len(orders) >= BATCH or n == count - 1:
            _flush(conn, orders, notes, attempts, refunds)
            log(f"seeded {n + 1:,}/{count:,} orders")
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()
    return {mch_id: c.merchant.id for mch_id, c in merchants.items()}


def _flush(
    conn: sqlite3.Connection, orders: list, notes: list, attempts: list, refunds: list
) -> None:  # type: ignore[type-arg]
    marks = ", ".join("?" for _ in ORDER_COLUMNS)
    conn.executemany(f"INSERT INTO orders ({', '.join(ORDER_COLUMNS)}) VALUES ({marks})", orders)
    conn.executemany(
        "INSERT INTO notifications (id, kind, merchant_id, order_id, url, fields, sign_type,"
        " status, attempts, created_at, first_attempt_at, delivered_at) VALUES"
        " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        notes,
    )
    conn.executemany(
        "INSERT INTO delivery_attempts (notification_id, number, at, ok, http_status, latency_ms,"
        " reason, excerpt) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        attempts,
    )
    conn.executemany(
        "INSERT INTO refunds (merchant_id, order_id, out_refund_no, refund_id, refund_fee,"
        " fee_returned, refund_fee_type, refund_desc, refund_account, notify_url, refund_status,"
        " refund_channel, recv_account, request_source, sign_type, created_at, settle_at,"
        " success_time, updated_at) VALUES (" + ", ".join("?" * 19) + ")",
        refunds,
    )
    for rows in (orders, notes, attempts, refunds):
        rows.clear()


class _Explain:
    """A cursor that prints SQLite's plan of each SELECT before running it."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._cur = conn.cursor()

    def execute(self, sql: str, params: object = ()) -> object:
        if sql.lstrip().upper().startswith("SELECT"):
            plan = self._cur.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()  # type: ignore[arg-type]
            print("  " + sql[:110] + " …")
            for row in plan:
                print("     ", row[-1])
        return self._cur.execute(sql, params)  # type: ignore[arg-type]

    def __getattr__(self, name: str) -> object:
        return getattr(self._cur, name)


def plans(data_dir: Path, merchant_ids: dict[str, int], count: int) -> None:
    conn = sqlite3.connect(data_dir / "wxpay.sqlite3")
    tx = SqlTx(_Explain(conn), SQLITE)  # type: ignore[arg-type]
    big = [merchant_ids[BIG]]
    deep = (to_millis(START) + (count // 20) * (DAYS * 86_400_000 // count), count // 20)
    print("orders, one merchant, first page / deep page / a filter:")
    tx.console_orders(big, Keyset(51), "", "")
    tx.console_orders(big, Keyset(51, after=deep), "", "")
    tx.console_orders(big, Keyset(51), "REFUND", "JSAPI")
    print("orders, every merchant (one index range each, merged):")
    tx.console_orders(list(merchant_ids.values()), Keyset(51, after=deep), "", "")
    print("exact search:")
    tx.console_order_search(big, "C000000042")
    print("refunds, notifications, an order's ledger entries:")
    tx.console_refunds(big, Keyset(51, after=deep), "")
    tx.console_notifications(merchant_ids[BIG], Keyset(51, after=deep), "", "delivered")
    tx.console_notifications(None, Keyset(51), "", "")
    tx.ledger_entries(["4200" + "0" * 20], 0, to_millis(START))
    conn.close()


def timed(http: httpx.Client, url: str, repeat: int) -> tuple[float, float, int]:
    times, size = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        answer = http.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, (url, answer.status_code, answer.text[:300])
        size = answer.text.count('class="order-row"') + answer.text.count('class="refund-row"')
        size += answer.text.count('class="notification-row"')
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1], size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--plans", action="store_true")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="wxpay-console-bench-"))
    try:
        started = time.monotonic()
        merchant_ids = seed(data_dir, args.orders)
        log(f"seeded in {time.monotonic() - started:.1f} s")
        if args.plans:
            plans(data_dir, merchant_ids, args.orders)
        port = free_port()
        os.environ["WXPAY_OPERATOR_PASSWORD"] = PASSWORD  # the server inherits it
        with server(data_dir, port, fundflow=False):
            base = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=base, timeout=60, trust_env=False) as http:
                login = http.post(
                    "/console/login", data={"account": "operator", "password": PASSWORD}
                )
                assert login.status_code == 303, login.text
                first = http.get(f"/console/orders?mch_id={BIG}").text
                older = re.search(r'id="older" href="[^"]*after=([0-9_]+)', first)
                assert older is not None
                step = DAYS * 86_400_000 // args.orders
                deep = f"{to_millis(START) + (args.orders // 20) * step}_{args.orders // 20}"
                o, n = f"/console/orders?mch_id={BIG}", f"/console/notifications?mch_id={BIG}"
                pages = {
                    "orders: first page": o,
                    "orders: second page (cursor)": f"{o}&after={older.group(1)}",
                    "orders: deep page (95% down)": f"{o}&after={deep}",
                    "orders: back from the deep page": f"{o}&before={deep}",
                    "orders: trade_state=SUCCESS": f"{o}&trade_state=SUCCESS",
                    "orders: trade_state=REFUND": f"{o}&trade_state=REFUND",
                    "orders: trade_type=MICROPAY": f"{o}&trade_type=MICROPAY",
                    "orders: REFUND + NATIVE (rare)": f"{o}&trade_state=REFUND&trade_type=NATIVE",
                    "orders: one day (from=to)": f"{o}&from=2024-04-10&to=2024-04-10",
                    "orders: first day, deep in time": f"{o}&to=2024-04-01",
                    "orders: search out_trade_no": f"{o}&q=C000000042",
                    "orders: search transaction_id": f"/console/orders?q=4200{40:020d}",
                    "orders: all merchants first page": "/console/orders",
                    "orders: all merchants deep page": f"/console/orders?after={deep}",
                    "refunds: first page": f"/console/refunds?mch_id={BIG}",
                    "refunds: deep page": f"/console/refunds?mch_id={BIG}&after={deep}",
                    "notifications: first page": n,
                    "notifications: deep page": f"{n}&after={deep}",
                    "notifications: status=failed (none)": f"{n}&status=failed",
                    "order detail": f"/console/orders/{BIG}/C000000040",
                }
                http.get(pages["orders: first page"])  # warm the server's caches
                print(f"{'page':<40} {'median ms':>10} {'p95 ms':>8} {'rows':>5}")
                for label, url in pages.items():
                    median, p95, rows = timed(http, url, args.repeat)
                    print(f"{label:<40} {median:>10.1f} {p95:>8.1f} {rows:>5}")
        return 0
    finally:
        if args.keep:
            log(f"data dir kept: {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
