"""Scale-out: 2 ``wxpay-local serve`` and 2 ``wxpay-local worker`` processes on one PostgreSQL
schema (and 2 servers + 1 worker on one SQLite file) deliver every notification of a bounded
concurrent load, none again after its SUCCESS, none before its schedule.

The servers run with their own dispatchers off, so only the workers deliver. The platform clock
is frozen before the load: a retry can only fall due when the test advances it, so the first
retry of each order must reach the merchant after the advance began (an ordering, not a speed),
and the attempt records must show it no earlier than the schedule of domain/notify.py.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from serve_support import serve

from pg_schemas import PG_SKIP, PG_URL, private_schema_url
from wxpay_local.codes import NotificationStatus
from wxpay_local.domain.notify import SCHEDULES
from wxpay_local.store import open_store
from wxpay_local.testing import wait_for
from wxpay_sdk import Client

WORKER_READY = "wxpay-local worker delivering notifications"
SUCCESS = b"<xml><return_code><![CDATA[SUCCESS]]></return_code></xml>"
FAIL = b"<xml><return_code><![CDATA[FAIL]]></return_code><return_msg>busy</return_msg></xml>"
OUT_TRADE_NO = re.compile(rb"<out_trade_no><!\[CDATA\[([^\]]*)\]\]></out_trade_no>")
FIRST_RETRY = timedelta(seconds=SCHEDULES["wechat"][0])

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class Delivery:
    out_trade_no: str
    arrived: float  # time.monotonic() in this process
    acknowledged: bool


class RecordingSink:
    """The merchant: records every delivery with its arrival, answers FAIL to the first delivery
    of each order ``fails_first`` names, SUCCESS otherwise."""

    def __init__(self, fails_first: set[str]) -> None:
        self.deliveries: list[Delivery] = []
        lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the dispatcher's client expects

            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                found = OUT_TRADE_NO.search(body)
                order = found.group(1).decode() if found else ""
                with lock:
                    first = all(d.out_trade_no != order for d in sink.deliveries)
                    ok = not (first and order in fails_first)
                    sink.deliveries.append(Delivery(order, time.monotonic(), ok))
                answer = SUCCESS if ok else FAIL
                self.send_response(200)
                self.send_header("content-type", "text/xml")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            request_queue_size = 256
            daemon_threads = True

        self._server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/wxpay/notify"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def acknowledged(self) -> set[str]:
        return {d.out_trade_no for d in list(self.deliveries) if d.acknowledged}

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(params=[pytest.param("postgresql", marks=pytest.mark.postgres), "sqlite"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'wxpay.sqlite3'}"
        return
    if not PG_URL:
        pytest.skip(PG_SKIP)
    with private_schema_url("wxpay_scale") as url:
        yield url


def _worker(database_url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("WXPAY_DATABASE_URL", None)
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "wxpay_local", "worker", "--database-url", database_url]
            + ["--notify-schedule", "wechat", "--data-dir", str(log.parent / "data")],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # its own process group: killed whole at the end
        )


def _stop(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(10)


def test_servers_and_workers_deliver_every_notification_once_on_schedule(
    database_url: str, tmp_path: Path
) -> None:
    postgres = database_url.startswith("postgresql")
    orders, workers = (400, 2) if postgres else (200, 1)
    numbers = [f"SCALE-{n:04d}" for n in range(orders)]
    fails_first = set(numbers[::3])
    sink = RecordingSink(fails_first)
    with ExitStack() as stack:
        stack.callback(sink.close)
        servers = []
        for n in range(2):  # one after the other: the first migrates and seeds
            folder = tmp_path / f"server-{n}"
            extra = ("--database-url", database_url, "--no-dispatcher")
            servers.append(stack.enter_context(serve(folder, *extra)))
        control = stack.enter_context(httpx.Client(trust_env=False, timeout=30))
        base = servers[0].url
        control.post(f"{base}/_local/clock", json={"freeze": True}).raise_for_status()
        merchant = control.post(f"{base}/_local/merchants", json={"name": "Scale shop"}).json()
        payers = [
            control.post(f"{base}/_local/payers", json={"name": f"P{n}", "balance": 10**6}).json()
            for n in range(4)
        ]
        started = []
        for n in range(workers):
            folder = tmp_path / f"worker-{n}"
            folder.mkdir()
            process = _worker(database_url, folder / "worker.log")
            stack.callback(_stop, process)
            started.append((process, folder / "worker.log"))
        for process, log in started:
            wait_for(lambda p=process, w=log: p.poll() is not None or WORKER_READY in w.read_text())
            assert process.poll() is None, log.read_text()

        def sdk(url: str) -> Client:
            http = stack.enter_context(httpx.Client(trust_env=False, timeout=30))
            return Client(
                mch_id=merchant["mch_id"],
                api_key=merchant["api_key"],
                appid=merchant["apps"][0]["appid"],
                base_url=url,
                http=http,
            )

        clients = [sdk(s.url) for s in servers]

        def buy(n: int) -> None:
            created = clients[n % 2].unifiedorder(
                body="Scale shop-Coffee",
                out_trade_no=numbers[n],
                total_fee=100 + n,
                spbill_create_ip="203.0.113.10",
                notify_url=sink.url,
                trade_type="NATIVE",
                product_id="latte",
            )
            paid = control.post(
                f"{servers[(n + 1) % 2].url}/_local/pay",
                json={"payer_id": payers[n % 4]["payer_id"], "code_url": created["code_url"]},
            ).json()
            assert paid["outcome"] == "SUCCESS", paid

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(buy, range(orders)))

        # every order once (some refused); no retry can be due while the clock stands still
        wait_for(lambda: {d.out_trade_no for d in sink.deliveries} == set(numbers), timeout=20)
        assert sink.acknowledged() == set(numbers) - fails_first
        advanced_at = time.monotonic()
        advance = {"seconds": FIRST_RETRY.total_seconds()}
        control.post(f"{servers[1].url}/_local/clock/advance", json=advance).raise_for_status()
        wait_for(lambda: sink.acknowledged() == set(numbers), timeout=20)
        time.sleep(0.5)  # a stray delivery after SUCCESS would arrive about now
        ledger = control.get(f"{base}/_local/ledger").json()

    deliveries: dict[str, list[Delivery]] = {}
    for d in sink.deliveries:
        deliveries.setdefault(d.out_trade_no, []).append(d)
    for order, seen in deliveries.items():
        assert [d.acknowledged for d in seen] == (
            [False, True] if order in fails_first else [True]
        ), (order, seen)
        assert all(d.arrived >= advanced_at for d in seen[1:]), (order, seen)
    assert ledger["total"] == 0 == sum(ledger["accounts"].values())

    store = open_store(database_url)
    try:
        with store.begin(write=False) as tx:
            notes = tx.notifications(limit=orders + 10)
            attempts = {n.id: tx.attempts(n.id) for n in notes}
    finally:
        store.close()
    assert len(notes) == orders
    for note in notes:
        made = attempts[note.id]
        assert note.status is NotificationStatus.DELIVERED, note
        assert [a.number for a in made] == list(range(1, len(made) + 1))
        assert [a.ok for a in made][-1] and not any(a.ok for a in made[:-1])
        assert made[0].at == note.first_attempt_at
        for later in made[1:]:  # attempt k+1 no earlier than the schedule's k-th wait
            wait = timedelta(seconds=sum(SCHEDULES["wechat"][: later.number - 1]))
            assert later.at >= made[0].at + wait, (note, made)
