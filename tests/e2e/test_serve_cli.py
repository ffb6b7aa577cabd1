"""`wxpay-local serve` as a user runs it: first-run demo data, the printed example, the CLI."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from wxpay_local.testing.harness import free_port
from wxpay_local.wire import signing
from wxpay_local.wire.xml import decode

pytestmark = pytest.mark.e2e


def _cli(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wxpay_local", *args, "--url", url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


class Served:
    def __init__(self, process: subprocess.Popen[str], url: str, banner: str) -> None:
        self.process, self.url, self.banner = process, url, banner


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with _serve(tmp_path / "data") as s:
        yield s


@contextmanager
def _serve(data_dir: Path) -> Iterator[Served]:
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wxpay_local",
            "serve",
            "--data-dir",
            str(data_dir),
            "--port",
            str(port),
            "--tls-port",
            str(free_port()),
            "--log-level",
            "warning",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    lines: list[str] = []
    deadline = time.monotonic() + 60
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "openapi.json" in line:
            break
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/_local/health", timeout=1, trust_env=False).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    else:
        process.kill()
        pytest.fail("server did not start:\n" + "".join(lines))
    try:
        yield Served(process, url, "".join(lines))
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        process.stdout.close()


def test_serve_first_run_prints_credentials_and_a_working_signed_example(served: Served) -> None:
    banner = served.banner
    assert served.url in banner
    key = re.search(r"api_key=(\w{32})", banner)
    assert key, banner
    assert "first run" in banner
    assert banner.count("kind=") == 3  # an app of each kind
    curl = next(line.strip() for line in banner.splitlines() if line.strip().startswith("curl "))
    body = shlex.split(curl)[-1].encode()
    answer = decode(
        httpx.post(served.url + "/pay/unifiedorder", content=body, trust_env=False).content
    )
    assert answer["return_code"] == "SUCCESS" and answer["result_code"] == "SUCCESS", answer
    assert signing.verify(answer, key.group(1))

    paid = _cli("pay", answer["code_url"], "--payer", "1", url=served.url)
    assert paid.returncode == 0, paid.stdout + paid.stderr
    assert paid.stdout.startswith("SUCCESS")
    ledger = _cli("ledger", url=served.url)
    assert '"total": 0' in ledger.stdout
    payers = _cli("payer", "list", url=served.url)
    assert "Alice" in payers.stdout and "Bob" in payers.stdout and "Carol" in payers.stdout


def test_serve_keeps_data_across_restarts(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with _serve(data) as served:
        key = re.search(r"api_key=(\w{32})", served.banner)
        assert key
        created = _cli("merchant", "create", "--name", "Second shop", url=served.url)
        assert created.returncode == 0, created.stderr

    with _serve(data) as again:
        assert "first run" not in again.banner
        assert f"api_key={key.group(1)}" in again.banner
        listed = _cli("merchant", "list", url=again.url)
        assert "Second shop" in listed.stdout


def test_cli_clock_and_errors_read_as_a_person_expects(served: Served) -> None:
    moved = _cli("clock", "advance", "2h", url=served.url)
    assert moved.returncode == 0
    assert '"offset_seconds": 7200' in moved.stdout
    missing = _cli("payer", "show", "999", url=served.url)
    assert missing.returncode != 0
    assert "NOT_FOUND" in missing.stderr
    unreachable = _cli("ledger", url="http://127.0.0.1:9")
    assert unreachable.returncode != 0 and "is `wxpay-local serve` running?" in unreachable.stderr
