"""跨城冗灾, retries, per-call timeouts and 交易保障 reports, against scripted platforms: one
primary, one backup (refunds file §9.3, protocol §1.1, §1.2, §4.6)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest
from scripted import APPID, DROP, KEY, MCH_ID, Scripted, ok

from reference_wire import v2_sign
from wxpay_sdk import AsyncClient, Client, ReturnError, SignatureError, TransportError

pytestmark = pytest.mark.e2e

QUERY = "/pay/orderquery"
PAID = ok(trade_state="SUCCESS", out_trade_no="T1", total_fee="1800")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def dead_url() -> str:
    """A loopback port nobody listens on: connection refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


@pytest.fixture
def backup() -> Iterator[Scripted]:
    with Scripted({QUERY: [PAID]}) as platform:
        yield platform


def client(primary: str, backup: str | None, clock: FakeClock, **options: object) -> Client:
    return Client(
        mch_id=MCH_ID,
        api_key=KEY,
        appid=APPID,
        base_url=primary,
        backup_url=backup,
        clock=clock,
        **options,  # type: ignore[arg-type]
    )


def test_a_refused_primary_sends_the_same_request_to_the_backup(backup: Scripted) -> None:
    clock = FakeClock()
    with client(dead_url(), backup.url, clock) as c:
        assert c.orderquery(out_trade_no="T1")["trade_state"] == "SUCCESS"
        assert c.hosts.on_backup
    assert backup.paths() == [QUERY]


def test_the_failed_primary_is_remembered_then_tried_again_after_three_minutes(
    backup: Scripted,
) -> None:
    clock = FakeClock()
    with Scripted({QUERY: [503, PAID]}) as primary, client(primary.url, backup.url, clock) as c:
        c.orderquery(out_trade_no="T1")  # primary 503 → backup
        clock.now += 179
        c.orderquery(out_trade_no="T1")  # still on the backup
        assert (primary.paths(), backup.paths()) == ([QUERY], [QUERY, QUERY])
        clock.now += 1
        c.orderquery(out_trade_no="T1")  # 180 s later: the primary again, which answers
        assert (primary.paths(), backup.paths()) == ([QUERY, QUERY], [QUERY, QUERY])
        assert not c.hosts.on_backup


def test_back_to_primary_at_once(backup: Scripted) -> None:
    clock = FakeClock()
    with Scripted({QUERY: [DROP, PAID]}) as primary, client(primary.url, backup.url, clock) as c:
        c.orderquery(out_trade_no="T1")
        c.hosts.back_to_primary()
        c.orderquery(out_trade_no="T1")
        assert (primary.paths(), backup.paths()) == ([QUERY, QUERY], [QUERY])


def test_a_micropay_without_answer_is_not_sent_again_anywhere(backup: Scripted) -> None:
    """The platform may have charged it: only a query can tell (spec §5.1)."""
    clock = FakeClock()
    script = {"/pay/micropay": [("sleep", 1.0, ok())]}
    with Scripted(script) as primary, client(primary.url, backup.url, clock) as c:
        with pytest.raises(TransportError) as no_answer:
            c.micropay(
                body="Cake",
                out_trade_no="M1",
                total_fee=1,
                spbill_create_ip="127.0.0.1",
                auth_code="134567890123456789",
                timeout=0.2,
            )
        assert no_answer.value.outcome_unknown
    assert backup.paths() == []


def test_a_query_that_times_out_is_retried_on_the_backup(backup: Scripted) -> None:
    clock = FakeClock()
    with (
        Scripted({QUERY: [("sleep", 1.0, PAID)]}) as primary,
        client(primary.url, backup.url, clock) as c,
    ):
        assert c.orderquery(out_trade_no="T1", timeout=0.2)["total_fee"] == 1800
    assert backup.paths() == [QUERY]


def test_no_host_answers_a_query(backup: Scripted) -> None:
    clock = FakeClock()
    with client(dead_url(), dead_url(), clock, retries=2) as c:
        with pytest.raises(TransportError) as nobody:
            c.orderquery(out_trade_no="T1")
    assert not nobody.value.outcome_unknown  # never reached a platform


def test_an_answer_signed_with_another_key_is_refused() -> None:
    with Scripted({QUERY: [PAID]}, key="x" * 32) as forger:
        with client(forger.url, None, FakeClock()) as c, pytest.raises(SignatureError):
            c.orderquery(out_trade_no="T1")


def test_each_call_is_reported_when_asked(backup: Scripted) -> None:
    backup.script["/payitil/report"] = [{"return_code": "SUCCESS", "result_code": "SUCCESS"}]
    clock = FakeClock()
    with client(backup.url, None, clock, report=True, report_ip="192.0.2.7") as c:
        c.orderquery(out_trade_no="T1")
    assert backup.paths() == [QUERY, "/payitil/report"]
    report = backup.requests[1].fields
    assert report["sign"] == v2_sign(report, KEY)
    assert report["interface_url"] == backup.url + QUERY
    assert (report["return_code"], report["result_code"], report["user_ip"]) == (
        "SUCCESS",
        "SUCCESS",
        "192.0.2.7",
    )
    assert report["execute_time_"] == "0"  # the fake clock did not move
    assert report["out_trade_no"] == "T1"


def test_the_async_client_fails_over_too(backup: Scripted) -> None:
    async def run() -> str:
        async with AsyncClient(
            mch_id=MCH_ID, api_key=KEY, appid=APPID, base_url=dead_url(), backup_url=backup.url
        ) as c:
            return str((await c.orderquery(out_trade_no="T1"))["trade_state"])

    assert asyncio.run(run()) == "SUCCESS"
    assert backup.paths() == [QUERY]


def test_the_sandbox_key_is_cached_until_the_sandbox_refuses_it() -> None:
    refused_key = "沙箱验证签名失败，请确认沙箱签名key是否正确(通过getsignkey调用生成)"  # spec §1.4
    keys = [
        {"return_code": "SUCCESS", "mch_id": MCH_ID, "sandbox_signkey": "A" * 32},
        {"return_code": "SUCCESS", "mch_id": MCH_ID, "sandbox_signkey": "B" * 32},
    ]
    script = {
        "/sandboxnew/pay/getsignkey": keys,
        "/sandboxnew/pay/orderquery": [
            PAID,
            {"return_code": "FAIL", "return_msg": refused_key},
            PAID,
        ],
    }
    with Scripted(script, key="A" * 32) as sandbox:
        with client(sandbox.url, None, FakeClock(), sandbox=True) as c:
            c.orderquery(out_trade_no="T1")  # key A fetched and used
            with pytest.raises(ReturnError):
                c.orderquery(out_trade_no="T1")  # refused: forgotten
            sandbox.key = "B" * 32
            c.orderquery(out_trade_no="T1")  # key B fetched
    paths = [p.removeprefix("/sandboxnew") for p in sandbox.paths()]
    assert paths == ["/pay/getsignkey", QUERY, QUERY, "/pay/getsignkey", QUERY]
    signkey_request = sandbox.requests[0].fields
    assert signkey_request["sign"] == v2_sign(signkey_request, KEY)  # the production key
    assert sandbox.requests[1].fields["sign"] == v2_sign(sandbox.requests[1].fields, "A" * 32)
    assert sandbox.requests[4].fields["sign"] == v2_sign(sandbox.requests[4].fields, "B" * 32)
