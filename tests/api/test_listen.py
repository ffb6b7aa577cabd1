"""``POST /_local/listen`` and ``wxpay-local listen --forward-to`` (issue 14, part 3) over real
sockets: while listening, a merchant's notifications go to the forward URL whatever notify_url
the orders carry, and each delivery is reported with its answer as it happens."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import httpx
import pytest

from wxpay_local.testing import Harness, MerchantSink, wait_for

pytestmark = pytest.mark.api


def test_listening_forwards_and_reports_then_stops_forwarding(relaxed_live: Harness) -> None:
    live = relaxed_live
    merchant = live.merchant()
    with MerchantSink() as own, MerchantSink() as local:
        body = {"mch_id": merchant.mch_id, "forward_to": local.url}
        url = f"{live.base_url}/_local/listen"
        with httpx.stream("POST", url, json=body, timeout=10, trust_env=False) as stream:
            lines = stream.iter_lines()
            assert next(lines) == ""  # listening from here on
            paid = live.control(
                "POST",
                "/_local/trigger",
                {"mch_id": merchant.mch_id, "kind": "payment", "notify_url": own.url},
            )["order"]
            delivery = json.loads(next(line for line in lines if line))
        assert delivery["out_trade_no"] == paid["out_trade_no"]
        assert delivery["url"] == local.url and delivery["ok"] is True
        assert delivery["http_status"] == 200 and delivery["kind"] == "payment"
        assert len(local.received) == 1 and own.received == []

        # the stream closed: the orders' own notify_url again, as soon as the server has seen
        # the listener go (a payment made in that moment may still be forwarded)
        def paid_to_own() -> bool:
            live.control(
                "POST",
                "/_local/trigger",
                {"mch_id": merchant.mch_id, "kind": "payment", "notify_url": own.url},
            )
            time.sleep(0.2)
            return len(own.received) > 0

        wait_for(paid_to_own, timeout=10)


def test_listen_refuses_a_host_that_is_not_local(relaxed_live: Harness) -> None:
    merchant = relaxed_live.merchant()
    refused = relaxed_live.http.post(
        "/_local/listen", json={"mch_id": merchant.mch_id, "forward_to": "http://203.0.113.9/n"}
    )
    assert refused.status_code == 403 and refused.json()["error"] == "PROBE_HOST_REFUSED"


def test_the_listen_command_prints_each_delivery(relaxed_live: Harness) -> None:
    live = relaxed_live
    merchant = live.merchant()
    with MerchantSink() as local:
        listen = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "wxpay_local",
                "listen",
                "--url",
                live.base_url,
                "--mch-id",
                merchant.mch_id,
                "--forward-to",
                local.url,
                "--count",
                "1",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        stop = threading.Event()

        def keep_paying() -> None:  # until listen has connected and seen one delivery
            while not stop.is_set():
                live.control(
                    "POST",
                    "/_local/trigger",
                    {"mch_id": merchant.mch_id, "kind": "payment", "notify_url": local.url},
                )
                time.sleep(0.3)

        payer = threading.Thread(target=keep_paying, daemon=True)
        payer.start()
        try:
            out, err = listen.communicate(timeout=30)
        finally:
            stop.set()
            payer.join(5)
    assert listen.returncode == 0, err
    assert f"forwarding notifications of {merchant.mch_id}" in err
    words = out.split()
    assert words[0] == "payment" and words[2:6] == ["#1", "->", "200", "SUCCESS"]
