"""``GET /_local/journal/stream`` and ``wxpay-local tail`` (issue 14, part 3): the journal live
over a real socket, pushed as calls are answered (no polling)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import httpx
import pytest

from wxpay_local.sdk.client import WxPayError
from wxpay_local.testing import Harness

pytestmark = pytest.mark.api


def query(live: Harness, merchant: object, out_trade_no: str) -> None:
    client = live.client(merchant)  # type: ignore[arg-type]
    with pytest.raises(WxPayError):  # ORDERNOTEXIST: journaled like any call
        client.orderquery(out_trade_no=out_trade_no)


def test_the_stream_pushes_each_call_of_the_merchant(relaxed_live: Harness) -> None:
    live = relaxed_live
    merchant, other = live.merchant(), live.merchant()
    url = f"{live.base_url}/_local/journal/stream"
    with httpx.stream(
        "GET", url, params={"mch_id": merchant.mch_id}, timeout=10, trust_env=False
    ) as stream:
        assert stream.headers["content-type"].startswith("application/x-ndjson")
        lines = stream.iter_lines()
        assert next(lines) == ""  # connected: following from here on
        query(live, other, "NOT-MINE")
        query(live, merchant, "MINE-1")
        entry = json.loads(next(line for line in lines if line))
    assert entry["mch_id"] == merchant.mch_id and entry["path"] == "/pay/orderquery"
    assert "MINE-1" in entry["request"] and entry["err_code"] == "ORDERNOTEXIST"


def test_tail_prints_calls_as_they_happen(relaxed_live: Harness) -> None:
    live = relaxed_live
    merchant = live.merchant()
    tail = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wxpay_local",
            "tail",
            "--url",
            live.base_url,
            "--mch-id",
            merchant.mch_id,
            "--count",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stop = threading.Event()

    def keep_calling() -> None:  # until tail has connected and seen one
        while not stop.is_set():
            query(live, merchant, "TAILED")
            time.sleep(0.2)

    caller = threading.Thread(target=keep_calling, daemon=True)
    caller.start()
    try:
        out, err = tail.communicate(timeout=30)
    finally:
        stop.set()
        caller.join(5)
    assert tail.returncode == 0, err
    fields = out.split()
    assert fields[1:4] == [merchant.mch_id, "/pay/orderquery", "ORDERNOTEXIST"]
