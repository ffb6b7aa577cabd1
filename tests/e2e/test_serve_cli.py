"""`wxpay-local serve` as a user runs it: first-run demo data, the printed example, the CLI."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from serve_support import Served, cli, serve

from wxpay_local.wire import signing
from wxpay_local.wire.xml import decode

pytestmark = pytest.mark.e2e


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with serve(tmp_path / "data") as s:
        yield s


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

    paid = cli("pay", answer["code_url"], "--payer", "1", url=served.url)
    assert paid.returncode == 0, paid.stdout + paid.stderr
    assert paid.stdout.startswith("SUCCESS")
    ledger = cli("ledger", "--json", url=served.url)
    assert '"total": 0' in ledger.stdout
    payers = cli("payer", "list", url=served.url)
    assert "Alice" in payers.stdout and "Bob" in payers.stdout and "Carol" in payers.stdout


def test_serve_keeps_data_across_restarts(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with serve(data) as served:
        key = re.search(r"api_key=(\w{32})", served.banner)
        assert key
        created = cli("merchant", "create", "--name", "Second shop", url=served.url)
        assert created.returncode == 0, created.stderr

    with serve(data) as again:
        assert "first run" not in again.banner
        assert f"api_key={key.group(1)}" in again.banner
        listed = cli("merchant", "list", url=again.url)
        assert "Second shop" in listed.stdout


def test_cli_clock_and_errors_read_as_a_person_expects(served: Served) -> None:
    moved = cli("clock", "advance", "2h", "--json", url=served.url)
    assert moved.returncode == 0
    assert '"offset_seconds": 7200' in moved.stdout
    missing = cli("payer", "show", "999", url=served.url)
    assert missing.returncode != 0
    assert "NOT_FOUND" in missing.stderr
    unreachable = cli("ledger", url="http://127.0.0.1:9")
    assert unreachable.returncode != 0 and "is `wxpay-local serve` running?" in unreachable.stderr


def test_the_banner_gives_console_logins_that_work(served: Served) -> None:
    found = re.search(
        r"console\s+(\S+)/console\s+log in as (\d+) / (\S+)\s+or operator / (\S+)", served.banner
    )
    assert found, served.banner
    base, mch_id, merchant_password, operator = found.groups()
    assert base == served.url
    for account, password in ((mch_id, merchant_password), ("operator", operator)):
        with httpx.Client(base_url=served.url, trust_env=False) as browser:
            signed_in = browser.post(
                "/console/login", data={"account": account, "password": password}
            )
            assert signed_in.status_code == 303, signed_in.text
            assert mch_id in browser.get("/console").text


def test_operator_password_option(tmp_path: Path) -> None:
    with serve(tmp_path / "data", "--operator-password", "op-pass-123") as s:
        assert "or operator / op-pass-123" in s.banner
        with httpx.Client(base_url=s.url, trust_env=False) as browser:
            refused = browser.post("/console/login", data={"account": "operator", "password": "x"})
            assert refused.status_code == 401
            ok = browser.post(
                "/console/login", data={"account": "operator", "password": "op-pass-123"}
            )
            assert ok.status_code == 303
