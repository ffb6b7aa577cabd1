"""Namespaces: how long create + drop, snapshot and restore take, over the control plane.

    python bench/namespaces.py [--orders 1000] [--rounds 20] [--database-url postgresql://…]

1. A live server (uvicorn on a loopback port, in a thread of this process, like the pytest
   plugin's) on SQLite in a fresh temporary directory (or ``--database-url``).
2. After one untimed round (it makes the template new namespaces are copied from),
   ``--rounds`` times: ``POST /_local/namespaces`` then ``DELETE /_local/namespaces/{name}``,
   each timed from the client (HTTP round trips included).
3. One namespace with one merchant, one payer and ``--orders`` Native orders made with the SDK
   (``wxpay_sdk``) and paid (so the ledger and notifications hold rows too); then ``--rounds``
   times: change it (20 more orders), ``POST …/snapshots/fixture/restore``, check that exactly
   the fixture's orders are there again and the new ones are not. The first snapshot is timed too.
4. Prints median and worst of each against the goals (create + drop ≤ 50 ms, restore of a
   1,000-order namespace ≤ 200 ms on SQLite); exit status 1 when a median misses its goal.

Client and server share this process (and its GIL), so the figures are upper bounds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from wxpay_local.settings import Settings
from wxpay_local.store import open_store
from wxpay_local.testing.harness import Harness

try:
    from wxpay_sdk import Client, ResultError
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sdk" / "src"))
    from wxpay_sdk import Client, ResultError

CREATE_DROP_GOAL_MS = 50.0
RESTORE_GOAL_MS = 200.0


def timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def ok(response: httpx.Response) -> dict[str, Any]:
    if response.status_code != 200:
        raise SystemExit(f"{response.request.url}: {response.status_code} {response.text}")
    body: dict[str, Any] = response.json()
    return body


def fill(http: httpx.Client, base: str, orders: int) -> Client:
    merchant = ok(http.post(f"{base}/_local/merchants", json={"name": "Bench shop"}))
    payer = ok(http.post(f"{base}/_local/payers", json={"name": "P", "balance": 10**9}))
    client = Client(
        base_url=base,
        mch_id=merchant["mch_id"],
        api_key=merchant["api_key"],
        appid=merchant["apps"][0]["appid"],
    )
    for n in range(orders):
        made = client.unifiedorder(
            out_trade_no=f"B{n}",
            body="bench",
            total_fee=1 + n % 500,
            spbill_create_ip="203.0.113.10",
            notify_url="http://127.0.0.1:9/notify",
            trade_type="NATIVE",
            product_id="P",
        )
        ok(
            http.post(
                f"{base}/_local/pay",
                json={"code_url": made["code_url"], "payer_id": payer["payer_id"]},
            )
        )
    return client


def row(label: str, values: list[float], goal: float | None) -> bool:
    median, worst = statistics.median(values), max(values)
    verdict = "-" if goal is None else ("ok" if median <= goal else "MISS")
    target = "-" if goal is None else f"<= {goal:.0f} ms"
    print(f"{label:<26} {median:9.1f} {worst:9.1f} {len(values):6d}  {target:<10} {verdict}")
    return verdict != "MISS"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wxpay-ns-bench-") as folder:
        url = args.database_url or str(Path(folder) / "wxpay.sqlite3")
        store = open_store(url)
        settings = Settings(durability="full", dispatcher=False)
        try:
            with Harness.start(store, live=True, settings=settings) as h:
                return run(h, args.orders, args.rounds, store.database)
        finally:
            store.close()


def run(h: Harness, orders: int, rounds: int, database: str) -> int:
    http = h.http
    # One round untimed: the server's first namespace makes the empty template the others are
    # copied from (once per data directory), and Python imports the namespace modules.
    ok(http.post("/_local/namespaces", json={"name": "warmup"}))
    ok(http.delete("/_local/namespaces/warmup"))
    create_drop: list[float] = []
    for n in range(rounds):
        body, path = {"name": f"cd{n}"}, f"/_local/namespaces/cd{n}"
        create_drop.append(
            timed(lambda b=body: ok(http.post("/_local/namespaces", json=b)))
            + timed(lambda p=path: ok(http.delete(p)))
        )
    base = ok(http.post("/_local/namespaces", json={"name": "bench"}))["base_url"]
    started = time.perf_counter()
    client = fill(http, base, orders)
    filled_s = time.perf_counter() - started
    snapshot = [timed(lambda: ok(http.post("/_local/namespaces/bench/snapshots/fixture")))]
    restore: list[float] = []
    for n in range(rounds):
        for extra in range(20):
            client.unifiedorder(
                out_trade_no=f"X{n}-{extra}",
                body="bench",
                total_fee=1,
                spbill_create_ip="203.0.113.10",
                notify_url="http://127.0.0.1:9/notify",
                trade_type="NATIVE",
                product_id="P",
            )
        restore.append(
            timed(lambda: ok(http.post("/_local/namespaces/bench/snapshots/fixture/restore")))
        )
        # The fixture's last order is there, the round's first is not.
        if client.orderquery(out_trade_no=f"B{orders - 1}")["trade_state"] != "SUCCESS":
            raise SystemExit(f"after restore {n}: the fixture's orders are not all paid")
        try:
            client.orderquery(out_trade_no=f"X{n}-0")
        except ResultError as exc:
            if exc.err_code != "ORDERNOTEXIST":
                raise
        else:
            raise SystemExit(f"after restore {n}: an order made after the snapshot is there")
    client.close()
    ok(http.delete("/_local/namespaces/bench"))  # on PostgreSQL its schemas outlive the server
    print(f"database: {database}; {orders} paid orders made in {filled_s:.1f} s")
    print(f"{'operation':<26} {'median ms':>9} {'worst ms':>9} {'runs':>6}  {'goal':<10} verdict")
    good = row("create + drop", create_drop, CREATE_DROP_GOAL_MS)
    row(f"snapshot ({orders} orders)", snapshot, None)
    goal = RESTORE_GOAL_MS if database == "sqlite" else None
    good = row(f"restore ({orders} orders)", restore, goal) and good
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
