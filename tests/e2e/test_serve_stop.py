"""Stopping ``wxpay-local serve --workers 2`` with ``kill -TERM``, as a process manager does.

The server runs in a session of its own, so that its process group holds it and everything it
started: after SIGTERM nothing of that group may still run, and its ports must be free. A
request in flight when the signal arrives still gets its answer and is in the journal.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from wxpay_local.settings import Settings
from wxpay_local.store import open_store
from wxpay_local.testing.harness import free_port, wait_for
from wxpay_local.wire import signing
from wxpay_local.wire.xml import decode, encode

pytestmark = pytest.mark.e2e

DEMO_MCH_ID = "1900000109"
#: run_workers' own limit (graceful 5 s + 10 s) and a margin: SIGTERM must end it before this
STOP_TIMEOUT = 25


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    log: Path
    port: int
    tls_port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def _group(pgid: int) -> list[int]:
    """The processes of a process group that still run (zombies are done: they neither run
    nor listen, they wait to be reaped by whoever adopted them)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # ended meanwhile
            continue
        # pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))  # with SO_REUSEADDR, only a listener is in the way
        except OSError:
            return True
    return False


def _start(data_dir: Path, log: Path) -> Server | None:
    port, tls_port = free_port(), free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "wxpay_local",
                "serve",
                "--workers",
                "2",
                "--data-dir",
                str(data_dir),
                "--port",
                str(port),
                "--tls-port",
                str(tls_port),
                "--log-level",
                "info",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,  # its own process group: everything it starts is in it
        )
    server = Server(process, log, port, tls_port)

    def healthy() -> bool:
        if process.poll() is not None:
            return True
        try:
            return httpx.get(server.url + "/_local/health", timeout=1, trust_env=False).is_success
        except httpx.HTTPError:
            return False

    def ready() -> bool:  # every worker, not only the first, has started its app
        return process.poll() is not None or (
            server.output().count("Application startup complete.") == 2 and healthy()
        )

    try:
        wait_for(ready, timeout=60, interval=0.1)
    except AssertionError:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
        pytest.fail("serve --workers 2 did not start within 60 s:\n" + server.output())
    if process.poll() is None:
        return server
    if "address already in use" in server.output():
        return None
    pytest.fail("server did not start:\n" + server.output())


@contextmanager
def workers(tmp_path: Path) -> Iterator[Server]:
    for attempt in range(3):
        server = _start(tmp_path / "data", tmp_path / f"serve-{attempt}.log")
        if server is not None:
            break
    else:
        pytest.fail("no free port pair for wxpay-local serve after 3 tries")
    try:
        yield server
    finally:  # whatever the test did: leave nothing of the group behind
        for pid in _group(server.process.pid):
            os.kill(pid, signal.SIGKILL)
        server.process.wait(10)


def _stopped(server: Server) -> None:
    try:
        server.process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail("serve did not exit after SIGTERM:\n" + server.output())
    # the workers are the server's children: wait until the kernel has them gone too
    wait_for(lambda: not _group(server.process.pid), timeout=10)


def test_sigterm_stops_every_worker_and_frees_the_ports(tmp_path: Path) -> None:
    with workers(tmp_path) as server:
        before = _group(server.process.pid)
        assert len(before) >= 3, before  # the server and its two workers
        assert _listening(server.port) and _listening(server.tls_port)

        os.kill(server.process.pid, signal.SIGTERM)

        _stopped(server)
        assert server.process.returncode == 0, server.output()
        assert not _listening(server.port) and not _listening(server.tls_port)
        with pytest.raises(httpx.ConnectError):
            httpx.get(server.url + "/_local/health", timeout=2, trust_env=False)
        assert server.output().count("Application shutdown complete.") == 2


def test_ctrl_c_in_the_terminal_stops_every_worker(tmp_path: Path) -> None:
    with workers(tmp_path) as server:
        os.killpg(server.process.pid, signal.SIGINT)  # what a terminal does on Ctrl-C

        _stopped(server)
        assert server.process.returncode == 0, server.output()
        assert not _listening(server.port) and not _listening(server.tls_port)


def test_workers_stop_by_themselves_when_the_parent_is_killed(tmp_path: Path) -> None:
    with workers(tmp_path) as server:
        os.kill(server.process.pid, signal.SIGKILL)  # no handler runs: the workers must notice

        _stopped(server)
        assert not _listening(server.port) and not _listening(server.tls_port)
        assert server.output().count("Application shutdown complete.") == 2


def _unifiedorder(api_key: str, appid: str, out_trade_no: str) -> bytes:
    fields = {
        "appid": appid,
        "mch_id": DEMO_MCH_ID,
        "nonce_str": "inflightnonce0123456789abcdef012",
        "body": "Shop-In flight",
        "out_trade_no": out_trade_no,
        "total_fee": "100",
        "spbill_create_ip": "127.0.0.1",
        "notify_url": "http://127.0.0.1:9/notify",
        "trade_type": "NATIVE",
        "product_id": "inflight",
    }
    return encode({**fields, "sign": signing.sign(fields, api_key)})


def _demo_credentials(output: str) -> tuple[str, str]:
    key = re.search(r"mch_id=" + DEMO_MCH_ID + r"\s+api_key=(\w{32})", output)
    appid = re.search(r"appid=(wx\w+)\s+kind=official_account", output)
    assert key and appid, output
    return key.group(1), appid.group(1)


def test_a_request_in_flight_at_sigterm_is_answered_and_journaled(tmp_path: Path) -> None:
    with workers(tmp_path) as server:
        api_key, appid = _demo_credentials(server.output())
        body = _unifiedorder(api_key, appid, "INFLIGHT1")

        with socket.create_connection(("127.0.0.1", server.port), timeout=20) as conn:
            # ``Expect: 100-continue``: the server says "100 Continue" when the app asks for the
            # body, so the request is provably being handled before the signal is sent
            conn.sendall(
                b"POST /pay/unifiedorder HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: text/xml\r\nExpect: 100-continue\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
            )
            assert conn.recv(1024).startswith(b"HTTP/1.1 100 Continue"), server.output()

            os.kill(server.process.pid, signal.SIGTERM)
            # the worker holding the connection has stopped accepting and waits for it
            wait_for(lambda: "Waiting for connections to close" in server.output(), timeout=10)
            conn.sendall(body)
            answer = b""
            while chunk := conn.recv(65536):  # the server closes the connection after it
                answer += chunk

        head, _, payload = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 "), answer
        reply = decode(payload)
        assert reply["return_code"] == "SUCCESS" and reply["result_code"] == "SUCCESS", reply
        assert reply["code_url"].startswith("weixin://wxpay/bizpayurl?pr=")
        _stopped(server)

    store = open_store(Settings(data_dir=tmp_path / "data").effective_database_url)
    try:
        with store.begin(write=False) as tx:
            entries = tx.journal(DEMO_MCH_ID, 50, None, False)
    finally:
        store.close()
    ours = [e for e in entries if "INFLIGHT1" in e["request"]]
    assert len(ours) == 1, entries
    assert ours[0]["path"] == "/pay/unifiedorder"
    assert ours[0]["result_code"] == "SUCCESS"
    assert "weixin://wxpay/bizpayurl?pr=" in ours[0]["response"]
