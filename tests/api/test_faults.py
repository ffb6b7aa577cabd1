"""Fault rules (issue 12, part 1) over a real socket: each action, before and after commit,
counting, seeded probability, the journal line, and the control plane's refusals.

Expected wire texts are the platform's (spec §1.4, err_code table): 系统错误 for SYSTEMERROR.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from till_support import micropay, shop

from wxpay_local.sdk import FaultError, RejectedError
from wxpay_local.settings import Settings
from wxpay_local.store import SqlStore
from wxpay_local.testing import Harness
from wxpay_local.wire.xml import XmlError

pytestmark = pytest.mark.api


@pytest.fixture
def h(store: SqlStore) -> Iterator[Harness]:
    settings = Settings(notify_timeout_seconds=2.0, require_client_cert=False)
    with Harness.start(store, live=True, settings=settings) as harness:
        yield harness
        harness.assert_ledger_balanced()


def wallet(h: Harness, payer: int) -> int:
    return int(h.ledger()["accounts"].get(f"payer:{payer}:wallet", 0))


def test_systemerror_after_commit_takes_the_money_and_query_finds_it(h: Harness) -> None:
    merchant, client, payer = shop(h)
    rule = h.fault("err_code", err_code="SYSTEMERROR", when="after", endpoint="micropay", times=1)
    with pytest.raises(RejectedError) as refused:
        micropay(h, client, payer, "F-AFTER-1")
    assert refused.value.err_code == "SYSTEMERROR"
    assert refused.value.fields["err_code_des"] == "系统错误"
    assert client.orderquery(out_trade_no="F-AFTER-1")["trade_state"] == "SUCCESS"
    assert wallet(h, payer) == 10_000 - 1800
    assert h.fault_rule(rule["id"])["fired"] == 1
    assert micropay(h, client, payer, "F-AFTER-2")["result_code"] == "SUCCESS"  # fired its once
    lines = [e["explanation"].get("fault") for e in h.journal(mch_id=merchant.mch_id)]
    assert f"rule #{rule['id']} applied: SYSTEMERROR after commit" in lines


def test_systemerror_before_commit_changes_nothing(h: Harness) -> None:
    _, client, payer = shop(h)
    h.fault("err_code", err_code="SYSTEMERROR", endpoint="micropay", out_trade_no="F-B*")
    with pytest.raises(RejectedError) as refused:
        micropay(h, client, payer, "F-BEFORE-1")
    assert refused.value.err_code == "SYSTEMERROR"
    with pytest.raises(RejectedError) as missing:
        client.orderquery(out_trade_no="F-BEFORE-1")
    assert missing.value.err_code == "ORDERNOTEXIST"
    assert wallet(h, payer) == 10_000
    assert micropay(h, client, payer, "F-OTHER-1")["result_code"] == "SUCCESS"  # no match


def test_a_rule_fires_its_n_times_then_stops(h: Harness) -> None:
    _, client, payer = shop(h)
    rule = h.fault("return_fail", return_msg="系统繁忙", endpoint="orderquery", times=2)
    micropay(h, client, payer, "F-N-1")
    for _ in range(2):
        with pytest.raises(FaultError) as failed:
            client.orderquery(out_trade_no="F-N-1")
        assert failed.value.return_msg == "系统繁忙"
    assert client.orderquery(out_trade_no="F-N-1")["trade_state"] == "SUCCESS"
    assert h.fault_rule(rule["id"])["fired"] == 2


@pytest.mark.parametrize(
    ("action", "extra", "status", "body"),
    [
        ("http_status", {"http_status": 503}, 503, b""),
        ("empty_body", {}, 200, b""),
    ],
)
def test_wire_faults_answer_what_they_say(
    h: Harness, action: str, extra: dict[str, int], status: int, body: bytes
) -> None:
    h.fault(action, endpoint="/pay/orderquery", **extra)
    answer = httpx.post(h.base_url + "/pay/orderquery", content=b"<xml></xml>", trust_env=False)
    assert (answer.status_code, answer.content) == (status, body)


def test_a_garbled_body_is_not_xml(h: Harness) -> None:
    h.fault("garbled", endpoint="orderquery")
    answer = httpx.post(h.base_url + "/pay/orderquery", content=b"<xml></xml>", trust_env=False)
    assert answer.status_code == 200 and not answer.content.endswith(b"</xml>")


def test_lost_answer_reset_after_commit(h: Harness) -> None:
    _, client, payer = shop(h)
    h.fault("reset", when="after", endpoint="micropay", times=1)
    with pytest.raises(httpx.TransportError):
        micropay(h, client, payer, "F-RESET-1")
    assert client.orderquery(out_trade_no="F-RESET-1")["trade_state"] == "SUCCESS"
    assert wallet(h, payer) == 10_000 - 1800


def test_hold_keeps_the_client_waiting_until_it_gives_up(h: Harness) -> None:
    h.fault("hold", endpoint="orderquery", times=1)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            h.base_url + "/pay/orderquery", content=b"<xml></xml>", timeout=0.3, trust_env=False
        )


def test_a_seeded_probability_replays(h: Harness) -> None:
    def pattern() -> list[bool]:
        h.clear_faults()
        h.fault("http_status", http_status=500, endpoint="orderquery", probability=0.5, seed=42)
        return [
            httpx.post(h.base_url + "/pay/orderquery", content=b"<x/>", trust_env=False).status_code
            == 500
            for _ in range(12)
        ]

    first = pattern()
    assert first == pattern()
    assert 0 < sum(first) < 12  # some fired, some did not


def test_the_control_plane_refuses_bad_rules(h: Harness) -> None:
    assert h.control("POST", "/_local/faults", {"action": "explode"}, 400)["error"] == "BAD_FIELD"
    missing = h.control("POST", "/_local/faults", {"action": "err_code"}, 400)
    assert missing["error"] == "MISSING_FIELD"
    bad_code = h.control("POST", "/_local/faults", {"action": "err_code", "err_code": "NOPE"}, 400)
    assert bad_code["error"] == "BAD_FIELD"
    assert h.control("DELETE", "/_local/faults/99", expect=404)["error"] == "NOT_FOUND"
    rule = h.fault("delay", delay_ms=10)
    assert [r["id"] for r in h.control("GET", "/_local/faults")["rules"]] == [rule["id"]]
    assert h.control("DELETE", f"/_local/faults/{rule['id']}") == {"removed": rule["id"]}


def test_a_fault_before_the_pipeline_is_journaled_under_its_merchant(h: Harness) -> None:
    merchant, client, _ = shop(h)
    rule = h.fault("http_status", http_status=503, endpoint="orderquery", times=1)
    with pytest.raises((httpx.HTTPError, XmlError)):  # the in-tree client parses the empty 503
        client.orderquery(out_trade_no="F-J-1")
    [entry] = [e for e in h.journal(mch_id=merchant.mch_id) if e["endpoint"] == "orderquery"]
    assert entry["explanation"]["fault"] == f"rule #{rule['id']} applied: HTTP 503 before commit"
