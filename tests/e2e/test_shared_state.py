"""``serve --workers 2``: a change of platform state (the clock, a reset, a merchant setting, a
merchant's API key) is seen by every process on the next request; and a third-party client's
whole cycle passes against 2 servers + 1 ``wxpay-local worker``.

Each read goes through a fresh connection, so the kernel hands them to either worker; before
the shared-state check, most reads right after an advance came from the process that had not
yet refreshed its clock and showed the old day.
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from json import dumps, loads
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from pg_schemas import PG_SKIP, PG_URL, private_schema_url
from wxpay_local.testing import MerchantSink
from wxpay_local.testing.harness import free_port, wait_for
from wxpay_local.wire.signing import sign, verify
from wxpay_local.wire.xml import decode, encode

READS = 20
DEMO_MCH_ID = "1900000109"
JSON = {"Content-Type": "application/json"}

pytestmark = pytest.mark.e2e


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'wxpay.sqlite3'}"
        return
    if not PG_URL:
        pytest.skip(PG_SKIP)
    with private_schema_url("wxpay_shared") as url:
        yield url


def _spawn(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("WXPAY_DATABASE_URL", None)
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "wxpay_local", *argv],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # its own process group: killed whole at the end
        )


@contextmanager
def _serve(database_url: str, folder: Path, *extra: str) -> Iterator[str]:
    port = free_port()
    log = folder / "serve.log"
    process = _spawn(
        ["serve", "--workers", "2", "--data-dir", str(folder / "data")]
        + ["--database-url", database_url, "--port", str(port), "--tls-port", str(free_port())]
        + ["--log-level", "info", *extra],
        log,
    )

    def ready() -> bool:
        if process.poll() is not None:
            return True
        return log.read_text(errors="replace").count("Application startup complete.") == 2

    try:
        wait_for(ready, timeout=60, interval=0.1)
        assert process.poll() is None, log.read_text(errors="replace")
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[str]:
    with _serve(database_url, tmp_path) as url:
        yield url


def _connect(url: str) -> http.client.HTTPConnection:
    """A connection of its own: the kernel hands each to either worker. http.client, not a new
    httpx client per request: that costs tens of ms (its TLS context), long enough for a
    per-process copy of the state to be refreshed by a timer, which would hide a stale one."""
    return http.client.HTTPConnection(urlsplit(url).netloc, timeout=10)


def _fresh(method: str, url: str, json: object = None) -> Any:
    """One control-plane call on a connection of its own; its JSON answer."""
    connection = _connect(url)
    try:
        body = None if json is None else dumps(json).encode()
        connection.request(method, urlsplit(url).path, body=body, headers=JSON)
        answer = connection.getresponse()
        text = answer.read()
        assert answer.status == 200, text
        return loads(text)
    finally:
        connection.close()


def _day(url: str) -> str:
    now = datetime.fromisoformat(_fresh("GET", url + "/_local/clock")["now"])
    return now.date().isoformat()


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_a_clock_advance_is_seen_by_every_worker_at_once(server: str) -> None:
    _fresh("POST", server + "/_local/clock", json={"now": "2031-03-04T10:00:00+08:00"})
    assert {_day(server) for _ in range(READS)} == {"2031-03-04"}
    for day in ("2031-03-05", "2031-03-06"):
        _fresh("POST", server + "/_local/clock/advance", json={"seconds": 86_400})
        assert [_day(server) for _ in range(READS)] == [day] * READS


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_a_reset_is_seen_by_every_worker_at_once(server: str) -> None:
    _fresh("POST", server + "/_local/clock", json={"now": "2031-03-04T10:00:00+08:00"})
    _fresh("POST", server + "/_local/reset", json={})
    days = [_day(server) for _ in range(READS)]
    assert "2031-03-04" not in days, days


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_a_merchant_setting_is_seen_by_every_worker_at_once(server: str) -> None:
    config = f"{server}/_local/merchants/{DEMO_MCH_ID}/config"
    for sign_type in ("ORDER", "MD5"):
        _fresh("POST", config, json={"notify_sign_type": sign_type})
        seen = [_fresh("GET", config)["notify_sign_type"] for _ in range(READS)]
        assert seen == [sign_type] * READS


def _post_xml(url: str, path: str, fields: dict[str, str | int], key: str) -> dict[str, str]:
    """``fields`` signed with ``key``, on a connection of its own (``_connect``: quickly, or
    the per-process merchant cache would expire by itself before the next request)."""
    signed = {**fields, "sign": sign(fields, key)}
    connection = _connect(url)
    try:
        connection.request("POST", path, body=encode(signed))
        answer = connection.getresponse()
        assert answer.status == 200, answer.status
        return decode(answer.read())
    finally:
        connection.close()


def _orderquery(url: str, appid: str, key: str, nonce: str) -> dict[str, str]:
    fields: dict[str, str | int] = {
        "appid": appid,
        "mch_id": DEMO_MCH_ID,
        "out_trade_no": "DEMO-KEY-1",
        "nonce_str": nonce,
    }
    return _post_xml(url, "/pay/orderquery", fields, key)


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_a_key_rotation_is_seen_by_every_worker_at_once(server: str) -> None:
    """Each process caches merchants: right after a rotation answered by one process, the
    other must refuse the old key and take the new one on its very next request."""
    demo = next(
        m
        for m in _fresh("GET", server + "/_local/merchants")["merchants"]
        if m["mch_id"] == DEMO_MCH_ID
    )
    appid, key = demo["apps"][0]["appid"], demo["api_key"]
    order: dict[str, str | int] = {
        "appid": appid,
        "mch_id": DEMO_MCH_ID,
        "nonce_str": "keyrotation0",
        "body": "Demo shop-Latte",
        "out_trade_no": "DEMO-KEY-1",
        "total_fee": 1800,
        "spbill_create_ip": "127.0.0.1",
        "notify_url": "http://127.0.0.1:9/notify",
        "trade_type": "NATIVE",
        "product_id": "latte",
    }
    made = _post_xml(server, "/pay/unifiedorder", order, key)
    assert made["result_code"] == "SUCCESS", made
    for rotation in range(2):
        # every process has just verified the current key (and cached its merchant row)
        for i in range(READS):
            warm = _orderquery(server, appid, key, f"warm{rotation}x{i}")
            assert warm["result_code"] == "SUCCESS", warm
        rotated = _fresh("POST", f"{server}/_local/merchants/{DEMO_MCH_ID}/key", json={})
        old, key = key, rotated["api_key"]
        assert key != old
        for i in range(READS):
            refused = _orderquery(server, appid, old, f"old{rotation}x{i}")
            assert (refused["return_code"], refused["return_msg"]) == ("FAIL", "签名错误"), i
            taken = _orderquery(server, appid, key, f"new{rotation}x{i}")
            assert (taken["return_code"], taken["result_code"]) == ("SUCCESS", "SUCCESS"), i
            assert taken["trade_state"] == "NOTPAY" and verify(taken, key), taken


WORKER_READY = "wxpay-local worker delivering notifications"
CLIENT_IP = "203.0.113.10"


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_wechatpy_cycle_against_two_servers_and_a_dispatcher(
    database_url: str, tmp_path: Path, sink: MerchantSink
) -> None:
    from wechatpy.exceptions import WeChatPayException  # type: ignore[import-untyped]
    from wechatpy.pay import WeChatPay  # type: ignore[import-untyped]

    with _serve(database_url, tmp_path, "--no-dispatcher") as url:
        log = tmp_path / "worker.log"
        worker = _spawn(["worker", "--database-url", database_url], log)
        try:
            wait_for(lambda: worker.poll() is not None or WORKER_READY in log.read_text())
            assert worker.poll() is None, log.read_text()
            control = httpx.Client(base_url=url, trust_env=False, timeout=10)
            merchant = control.post("/_local/merchants", json={"name": "Test shop"}).json()
            mch_id = merchant["mch_id"]
            cert = control.get(f"/_local/merchants/{mch_id}/cert").json()
            tls = control.get("/_local/tls/ca").json()
            payer = control.post("/_local/payers", json={"name": "P", "balance": 100_000}).json()
            for name in ("apiclient_cert.pem", "apiclient_key.pem", "ca.pem"):
                (tmp_path / name).write_text(cert.get(name) or tls[name])
            client = WeChatPay(
                appid=merchant["apps"][0]["appid"],
                api_key=merchant["api_key"],
                mch_id=mch_id,
                mch_cert=str(tmp_path / "apiclient_cert.pem"),
                mch_key=str(tmp_path / "apiclient_key.pem"),
                timeout=10,
            )
            client.API_BASE_URL = tls["https_url"].rstrip("/") + "/"
            client._http.trust_env = False
            client._http.verify = str(tmp_path / "ca.pem")
            # wechatpy sends time_expire from the real clock: the platform's runs from now
            day = _day(url).replace("-", "")

            def order(out_trade_no: str) -> dict[str, str]:
                created: dict[str, str] = client.order.create(
                    trade_type="NATIVE",
                    body="Test shop-Coffee",
                    total_fee=1800,
                    notify_url=sink.url,
                    client_ip=CLIENT_IP,
                    product_id="latte",
                    out_trade_no=out_trade_no,
                )
                return created

            paid = control.post(
                "/_local/pay",
                json={"payer_id": payer["payer_id"], "code_url": order("CYC-1")["code_url"]},
            ).json()
            assert paid["outcome"] == "SUCCESS", paid
            assert client.order.query(out_trade_no="CYC-1")["trade_state"] == "SUCCESS"
            order("CYC-2")
            _fresh("POST", url + "/_local/clock/advance", json={"seconds": 300})
            closed = client.order.close("CYC-2")
            assert closed["result_code"] == "SUCCESS"
            refund = client.refund.apply(1800, 800, "CYC-R1", out_trade_no="CYC-1")
            assert refund["result_code"] == "SUCCESS" and refund["refund_fee"] == "800"
            note = wait_for(lambda: sink.received)[0].body
            assert client.parse_payment_result(note)["out_trade_no"] == "CYC-1"

            try:  # the day has not ended: no bill yet, on either server
                client.tools.download_bill(day)
                raise AssertionError("a bill for a day that has not ended")
            except WeChatPayException:
                pass
            # two days on: past the next day's bill generation hour, whatever the time now
            _fresh("POST", url + "/_local/clock/advance", json={"seconds": 2 * 86_400})
            bill = client.tools.download_bill(day)
            assert "CYC-1" in str(bill)
            client._http.close()
            control.close()
        finally:
            worker.kill()
            worker.wait(10)
