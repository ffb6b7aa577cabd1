"""Concurrent requests over real sockets, on both databases: money moves once, orders exist once.

Every thread has its own httpx.Client (its own connection); a barrier releases them together.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import httpx
import pytest

from reference_wire import from_xml, verify
from wxpay_local.sdk import Client
from wxpay_local.testing import Harness, MerchantInfo, MerchantSink, wait_for

pytestmark = pytest.mark.api

THREADS = 20
TIMEOUT = 30.0
T = TypeVar("T")


def _order(out_trade_no: str, total_fee: int = 1800, **extra: Any) -> dict[str, Any]:
    return {
        "body": "Test shop-Coffee",
        "out_trade_no": out_trade_no,
        "total_fee": total_fee,
        "spbill_create_ip": "203.0.113.10",
        "notify_url": "http://127.0.0.1:9/notify",
        "trade_type": "APP",
        **extra,
    }


def _together(jobs: list[Callable[[httpx.Client], T]], base_url: str) -> list[T]:
    """Run each job on its own thread and connection, released at the same instant."""
    barrier = threading.Barrier(len(jobs), timeout=TIMEOUT)

    def run(job: Callable[[httpx.Client], T]) -> T:
        with httpx.Client(base_url=base_url, timeout=TIMEOUT, trust_env=False) as http:
            http.get("/_local/health").raise_for_status()  # connect before the start line
            barrier.wait()
            return job(http)

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        futures = [pool.submit(run, job) for job in jobs]
        return [f.result(timeout=TIMEOUT * 2) for f in futures]


def _pay(body: dict[str, Any]) -> Callable[[httpx.Client], dict[str, Any]]:
    def job(http: httpx.Client) -> dict[str, Any]:
        response = http.post("/_local/pay", json=body)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    return job


def _wallet(live: Harness, payer_id: int) -> int:
    return int(live.control("GET", f"/_local/payers/{payer_id}")["balance"])


def _client(live: Harness, merchant: MerchantInfo, http: httpx.Client) -> Client:
    return Client(
        live.base_url,
        mch_id=merchant.mch_id,
        api_key=merchant.api_key,
        appid=merchant.apps["app"],
        http=http,
    )


def test_pay_same_prepay_id_from_20_threads_one_success_rest_order_paid(
    live: Harness, sink: MerchantSink
) -> None:
    merchant = live.merchant()
    payer = live.payer(balance=10_000)
    pid = payer["payer_id"]
    answer = live.client(merchant, "app").unifiedorder(**_order("CC0001", notify_url=sink.url))

    results = _together(
        [_pay({"payer_id": pid, "prepay_id": answer["prepay_id"]})] * THREADS, live.base_url
    )

    outcomes = Counter(r["outcome"] for r in results)
    assert outcomes == {"SUCCESS": 1, "ORDER_PAID": THREADS - 1}, outcomes
    transaction_ids = {r["order"]["transaction_id"] for r in results}
    assert len(transaction_ids) == 1
    assert _wallet(live, pid) == 10_000 - 1800
    accounts = live.ledger()["accounts"]
    assert accounts[f"merchant:{merchant.mch_id}:basic"] == 1800 - 11
    assert accounts["platform:fee_income"] == 11

    notes = live.notifications(merchant.mch_id)
    assert len(notes) == 1 and notes[0]["transaction_id"] in transaction_ids
    received = wait_for(lambda: sink.received)
    time.sleep(0.3)  # a duplicate would arrive right behind the first delivery
    assert len(sink.received) == 1
    note = from_xml(received[0].body)
    assert note["transaction_id"] in transaction_ids
    assert verify(note, merchant.api_key)
    query = live.client(merchant, "app").orderquery(out_trade_no="CC0001")
    assert query["trade_state"] == "SUCCESS"
    assert query["transaction_id"] in transaction_ids


def test_pay_20_orders_from_one_wallet_covering_7_exactly_7_succeed(live: Harness) -> None:
    merchant = live.merchant()
    fee, covered = 1000, 7
    payer = live.payer(balance=fee * covered + fee // 2)
    pid = payer["payer_id"]
    client = live.client(merchant, "app")
    prepay_ids = [
        client.unifiedorder(**_order(f"CC{n:04d}", total_fee=fee))["prepay_id"]
        for n in range(THREADS)
    ]

    samples: list[int] = []
    done = threading.Event()

    def watch() -> None:  # reads the wallet while the payments race
        with httpx.Client(base_url=live.base_url, timeout=TIMEOUT, trust_env=False) as http:
            while not done.is_set():
                samples.append(int(http.get(f"/_local/payers/{pid}").json()["balance"]))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        results = _together(
            [_pay({"payer_id": pid, "prepay_id": p}) for p in prepay_ids], live.base_url
        )
    finally:
        done.set()
        watcher.join(TIMEOUT)

    outcomes = Counter(r["outcome"] for r in results)
    assert outcomes == {"SUCCESS": covered, "NOTENOUGH": THREADS - covered}, outcomes
    assert _wallet(live, pid) == fee // 2
    ledger = live.ledger()
    assert ledger["total"] == 0
    assert ledger["accounts"][f"payer:{pid}:wallet"] == fee // 2 >= 0
    assert ledger["accounts"][f"merchant:{merchant.mch_id}:basic"] == covered * (fee - 6)
    states = Counter(
        client.orderquery(out_trade_no=f"CC{n:04d}")["trade_state"] for n in range(THREADS)
    )
    assert states == {"SUCCESS": covered, "NOTPAY": THREADS - covered}
    assert samples and min(samples) >= 0, samples
    paid_total = sum(r["order"]["total_fee"] for r in results if r["outcome"] == "SUCCESS")
    assert paid_total == fee * covered


def test_unifiedorder_same_request_from_20_threads_one_order_same_prepay_id(
    live: Harness,
) -> None:
    merchant = live.merchant()
    fields = _order("CC0001", attach="same")

    def place(http: httpx.Client) -> dict[str, str]:
        return _client(live, merchant, http).unifiedorder(**fields)

    answers = _together([place] * THREADS, live.base_url)

    assert all(a["result_code"] == "SUCCESS" for a in answers)
    prepay_ids = {a["prepay_id"] for a in answers}
    assert len(prepay_ids) == 1, prepay_ids
    orders = live.control("GET", "/_local/orders", mch_id=merchant.mch_id)["orders"]
    assert len(orders) == 1
    assert orders[0]["prepay_id"] in prepay_ids
    assert orders[0]["trade_state"] == "NOTPAY"

    payer = live.payer()
    paid = live.pay(payer["payer_id"], prepay_id=prepay_ids.pop())
    assert paid["outcome"] == "SUCCESS", paid
