"""The pytest plugin as a merchant uses it: installed with the package, fixtures in their tests.

A merchant's test file is written to a temporary project and run by a separate pytest (no
``-p`` option: the ``pytest11`` entry point must load the plugin on its own).
"""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

MERCHANT_TESTS = """
import httpx


def test_a_native_order_is_paid_and_notified(wxpay, wxpay_sink):
    merchant = wxpay.merchant(name="Plugin shop")
    payer = wxpay.payer(balance=5000)
    client = wxpay.client(merchant)
    answer = client.unifiedorder(
        body="Shop-Tea", out_trade_no="P1", total_fee=300, spbill_create_ip="127.0.0.1",
        notify_url=wxpay_sink.url, trade_type="NATIVE", product_id="tea",
    )
    wxpay.pay(payer["payer_id"], code_url=answer["code_url"])
    assert client.orderquery(out_trade_no="P1")["trade_state"] == "SUCCESS"
    wxpay.dispatch()
    assert len(wxpay_sink.received) == 1
    assert httpx.get(wxpay.base_url + "/_local/health").json()["status"] == "ok"


def test_each_test_starts_empty(wxpay):
    assert wxpay.control("GET", "/_local/merchants")["merchants"] == []


def test_the_clock_is_real_again(wxpay):
    before = wxpay.control("GET", "/_local/clock")
    assert before["offset_seconds"] == 0
    wxpay.advance(3600)
"""


UNRELATED_PROJECT = """
import sys


def test_arithmetic():
    assert 1 + 1 == 2


def test_the_plugin_is_loaded_but_the_platform_is_not():
    loaded = {name for name in sys.modules if name.split(".")[0] == "wxpay_local"}
    assert "wxpay_local.testing.pytest_plugin" in loaded
    assert loaded <= {"wxpay_local", "wxpay_local.testing", "wxpay_local.testing.pytest_plugin"}
"""


def test_an_unrelated_project_runs_as_if_the_plugin_were_not_there(tmp_path: Path) -> None:
    # a project of someone else's that happens to share the environment: warnings are errors
    # there, and it never asks for a wxpay fixture
    (tmp_path / "test_other.py").write_text(UNRELATED_PROJECT, encoding="utf-8")
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nfilterwarnings =\n    error\n", encoding="utf-8"
    )
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 passed" in run.stdout
    # nothing written into the project (no data folder, no database)
    left = sorted(p.name for p in tmp_path.iterdir() if p.name != "__pycache__")
    assert left == ["pytest.ini", "test_other.py"]


def test_the_entry_point_names_the_plugin() -> None:
    names = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert names.get("wxpay_local") == "wxpay_local.testing.pytest_plugin"


def test_a_merchants_suite_runs_on_the_fixtures(tmp_path: Path) -> None:
    (tmp_path / "test_shop.py").write_text(MERCHANT_TESTS, encoding="utf-8")
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "3 passed" in run.stdout
