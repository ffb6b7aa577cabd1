"""Two ``wxpay-local worker`` processes share one PostgreSQL outbox: every notification once.

The server runs with its own dispatcher off, so only the workers deliver. The test uses a
private schema of the test database (``search_path`` in the URL) so that workers never see,
and other test sessions never claim, anything but this test's notifications.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from pg_schemas import PG_URL, private_schema_url
from wxpay_local.settings import Settings
from wxpay_local.store import SqlStore, open_store
from wxpay_local.testing import Harness, MerchantSink, wait_for
from wxpay_local.wire import signing
from wxpay_local.wire.xml import decode

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.postgres,
    pytest.mark.skipif(
        not PG_URL, reason="PostgreSQL tier skipped: set WXPAY_TEST_PG_URL=postgresql://… to run it"
    ),
]

ORDERS = 40
READY_LINE = "wxpay-local worker delivering notifications"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """The test database with a fresh private schema first on the search_path."""
    with private_schema_url("wxpay_workers") as url:
        yield url


@pytest.fixture
def pg_store(pg_url: str) -> Iterator[SqlStore]:
    store = open_store(pg_url)
    yield store
    store.close()


def _start_worker(pg_url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "WXPAY_NOTIFY_SCHEDULE": "wechat"}
    env.pop("WXPAY_DATABASE_URL", None)
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "wxpay_local", "worker", "--database-url", pg_url],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=log.parent,
        )


def _ready_or_gone(worker: subprocess.Popen[bytes], log: Path) -> bool:
    return worker.poll() is not None or READY_LINE in log.read_text()


def _stop(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        worker.kill()
        worker.wait(5)


def test_two_workers_deliver_every_notification_exactly_once(
    pg_store: SqlStore, pg_url: str, sink: MerchantSink, tmp_path: Path
) -> None:
    # Two workers post up to 2 x 32 notifications at once; the sink's stdlib server listens
    # with a backlog of 5, and an overflowing accept queue drops connections (the platform then
    # rightly retries 15 s later). A real merchant endpoint has a deeper queue: give it one.
    sink._server.socket.listen(128)
    settings = Settings(dispatcher=False, notify_timeout_seconds=2.0)
    with Harness.start(pg_store, live=True, settings=settings) as server:
        logs = [tmp_path / "worker-1.log", tmp_path / "worker-2.log"]
        workers = [_start_worker(pg_url, log) for log in logs]
        try:
            for worker, log in zip(workers, logs, strict=True):
                wait_for(partial(_ready_or_gone, worker, log), timeout=20)
                assert worker.poll() is None, log.read_text()

            merchant = server.merchant()
            client = server.client(merchant)
            payer = server.payer(balance=10_000_000)
            transaction_ids = set()
            for n in range(ORDERS):
                answer = client.unifiedorder(
                    body="Test shop-Coffee",
                    out_trade_no=f"W{n:04d}",
                    total_fee=100 + n,
                    spbill_create_ip="203.0.113.10",
                    notify_url=sink.url,
                    trade_type="NATIVE",
                    product_id=f"p{n}",
                )
                paid = server.pay(payer["payer_id"], code_url=answer["code_url"])
                assert paid["outcome"] == "SUCCESS", paid
                transaction_ids.add(paid["order"]["transaction_id"])
            assert len(transaction_ids) == ORDERS

            wait_for(lambda: len(sink.received) >= ORDERS, timeout=20)

            def all_delivered() -> bool:
                notes = server.notifications(merchant.mch_id)
                return len(notes) == ORDERS and all(n["status"] == "delivered" for n in notes)

            wait_for(all_delivered, timeout=10)
            time.sleep(1.5)  # longer than a poll and a clock refresh: any duplicate shows up

            assert len(sink.received) == ORDERS
            delivered = [decode(r.body) for r in sink.received]
            assert all(signing.verify(fields, merchant.api_key) for fields in delivered)
            assert sorted(f["transaction_id"] for f in delivered) == sorted(transaction_ids)
            notes = server.notifications(merchant.mch_id)
            bad = [n for n in notes if len(n["attempts"]) != 1 or not n["attempts"][0]["ok"]]
            assert not bad, [a["reason"] for n in bad for a in n["attempts"]]

            assert all(w.poll() is None for w in workers), "both workers still running"
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
            for worker, log in zip(workers, logs, strict=True):
                assert worker.wait(10) == 0, log.read_text()
                output = log.read_text()
                assert READY_LINE in output
                assert "Traceback" not in output, output
        finally:
            for worker in workers:
                _stop(worker)
        server.assert_ledger_balanced()
