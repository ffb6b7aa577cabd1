"""The third-party ``wechatpy`` client, unchanged, refunding over mutual TLS (refunds spec §2,
§3, §5).

wechatpy 1.8 hands ``mch_cert``/``mch_key`` to requests as ``cert=(cert, key)`` on every call;
its ``requests.Session`` (``client._http``) trusts the platform CA through ``session.verify``
(``trust_env`` off: no proxy, and REQUESTS_CA_BUNDLE cannot override it). ``API_BASE_URL`` on the
instance points it at the HTTPS listener. Refund notifications are decrypted with wechatpy's own
``WeChatPay.parse_refund_notify_result`` (``wechatpy.crypto.WeChatRefundCrypto``). The CLI's
refund commands (``wxpay-local refund list|outcome``, ``notifications --kind refund``) run
in-process against the same live server.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from wechatpy.exceptions import (  # type: ignore[import-untyped]
    InvalidAppIdException,
    WeChatPayException,
)
from wechatpy.pay import WeChatPay  # type: ignore[import-untyped]

from wxpay_local.store import SqlStore
from wxpay_local.testing import Harness, MerchantInfo, MerchantSink, wait_for

pytestmark = pytest.mark.e2e

CLIENT_IP = "203.0.113.10"


@pytest.fixture
def platform_tls(live: Harness, store: SqlStore) -> Iterator[Harness]:
    """The live platform (HTTP + HTTPS)."""
    return live


@pytest.fixture
def opened() -> Iterator[list[WeChatPay]]:
    """wechatpy clients made by the test; their sessions are closed before the server stops."""
    clients: list[WeChatPay] = []
    yield clients
    for client in clients:
        client._http.close()


def _wechatpy(h: Harness, merchant: MerchantInfo, folder: Path, appid: str = "") -> WeChatPay:
    data = h.control("GET", f"/_local/merchants/{merchant.mch_id}/cert")
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / "apiclient_cert.pem", folder / "apiclient_key.pem"
    cert.write_text(data["apiclient_cert.pem"])
    key.write_text(data["apiclient_key.pem"])
    client = WeChatPay(
        appid=appid or merchant.apps["official_account"],
        api_key=merchant.api_key,
        mch_id=merchant.mch_id,
        mch_cert=str(cert),
        mch_key=str(key),
        timeout=10,
    )
    client.API_BASE_URL = h.tls_url + "/"
    client._http.trust_env = False
    client._http.verify = str(h.ca_file)
    return client


def _refusal(call: Callable[[], object]) -> tuple[str, str, str, str]:
    """What WeChatPayException said. The exception is not kept: it holds the response, and a
    live reference past the test leaves a server connection open until garbage collection
    (an unraisable ResourceWarning, an error under filterwarnings=error)."""
    try:
        call()
    except WeChatPayException as exc:
        return (exc.return_code, exc.result_code, exc.errcode, exc.errmsg)
    raise AssertionError("wechatpy did not raise WeChatPayException")


def test_wechatpy_refunds_queries_and_decrypts_the_notification(
    platform_tls: Harness, tmp_path: Path, opened: list[WeChatPay]
) -> None:
    h = platform_tls
    merchant = h.merchant()
    client = _wechatpy(h, merchant, tmp_path / "cert")
    opened.append(client)
    payer = int(h.payer(balance=10_000)["payer_id"])
    with MerchantSink() as pay_sink, MerchantSink() as refund_sink:
        created = client.order.create(
            trade_type="NATIVE",
            body="Test shop-Coffee",
            total_fee=1000,
            notify_url=pay_sink.url,
            client_ip=CLIENT_IP,
            product_id="latte",
            out_trade_no="WCP-RF-1",
        )
        assert h.pay(payer, code_url=created["code_url"])["outcome"] == "SUCCESS"
        transaction_id = client.order.query(out_trade_no="WCP-RF-1")["transaction_id"]
        assert h.control("POST", "/_local/clock", {"freeze": True})["frozen"] is True

        first = client.refund.apply(
            total_fee=1000,
            refund_fee=300,
            out_refund_no="WCP-R-1",
            out_trade_no="WCP-RF-1",
            refund_desc="部分商品缺货",
            notify_url=refund_sink.url,
        )
        assert first["return_code"] == "SUCCESS" and first["result_code"] == "SUCCESS"
        assert client.check_signature(dict(first))
        assert first["out_refund_no"] == "WCP-R-1" and first["refund_fee"] == "300"
        assert first["transaction_id"] == transaction_id
        assert len(first["refund_id"]) == 29 and first["refund_id"].isdigit()
        second = client.refund.apply(
            total_fee=1000,
            refund_fee=500,
            out_refund_no="WCP-R-2",
            transaction_id=transaction_id,
            notify_url=refund_sink.url,
        )
        assert second["out_trade_no"] == "WCP-RF-1"

        refused = _refusal(
            lambda: client.refund.apply(
                total_fee=1000, refund_fee=300, out_refund_no="WCP-R-3", out_trade_no="WCP-RF-1"
            )
        )
        assert refused == ("SUCCESS", "FAIL", "INVALID_REQUEST", "refund_fee大于可退金额")

        query = client.refund.query(out_trade_no="WCP-RF-1")
        assert client.check_signature(dict(query))
        assert query["refund_count"] == "2" and query["refund_fee"] == "800"
        assert [query["out_refund_no_0"], query["out_refund_no_1"]] == ["WCP-R-1", "WCP-R-2"]
        assert [query["refund_id_0"], query["refund_id_1"]] == [
            first["refund_id"],
            second["refund_id"],
        ]
        assert [query["refund_fee_0"], query["refund_fee_1"]] == ["300", "500"]
        assert [query["refund_status_0"], query["refund_status_1"]] == ["PROCESSING"] * 2
        assert query["refund_recv_accout_0"] == "支付用户零钱"
        assert "refund_success_time_0" not in query
        one = client.refund.query(out_refund_no="WCP-R-2")
        assert one["refund_count"] == "1" and one["refund_id_0"] == second["refund_id"]

        h.advance(5)
        wait_for(lambda: len(refund_sink.received) >= 2)  # settled by the dispatcher, notified
        bodies = [r.body for r in refund_sink.received]
        query = client.refund.query(transaction_id=transaction_id)
        assert [query["refund_status_0"], query["refund_status_1"]] == ["SUCCESS"] * 2
        assert len(query["refund_success_time_0"]) == 19
        assert client.check_signature(dict(query))

        notes = {}
        for body in bodies:
            note = client.parse_refund_notify_result(body)  # wechatpy's own decryption
            notes[note["out_refund_no"]] = note
        assert set(notes) == {"WCP-R-1", "WCP-R-2"}
        note = notes["WCP-R-1"]
        assert note["refund_id"] == first["refund_id"]
        assert note["transaction_id"] == transaction_id
        assert note["out_trade_no"] == "WCP-RF-1"
        assert note["refund_status"] == "SUCCESS"
        assert note["refund_fee"] == 300 and note["settlement_refund_fee"] == 300
        assert note["total_fee"] == 1000 and note["settlement_total_fee"] == 1000
        assert note["refund_recv_accout"] == "支付用户零钱"
        assert note["refund_request_source"] == "API"
        assert note["refund_account"] == "REFUND_SOURCE_UNSETTLED_FUNDS"
        assert note["success_time"] == query["refund_success_time_0"]
        assert notes["WCP-R-2"]["refund_fee"] == 500

        # wechatpy checks appid/mch_id before decrypting: another app of ours is refused
        other = _wechatpy(h, merchant, tmp_path / "cert2", appid=merchant.apps["app"])
        opened.append(other)
        with pytest.raises(InvalidAppIdException):
            other.parse_refund_notify_result(bodies[0])


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    from wxpay_local.cli import main

    capsys.readouterr()
    with pytest.raises(SystemExit) as done:
        main(list(argv))
    assert done.value.code in (0, None), done.value.code
    return capsys.readouterr().out


def test_cli_lists_refunds_forces_an_outcome_and_lists_refund_notifications(
    platform_tls: Harness,
    tmp_path: Path,
    opened: list[WeChatPay],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``wxpay-local refund list|outcome`` and ``wxpay-local notifications --kind refund``."""
    h = platform_tls
    merchant = h.merchant()
    client = _wechatpy(h, merchant, tmp_path / "cert")
    opened.append(client)
    payer = int(h.payer(balance=10_000)["payer_id"])
    url = ("--url", h.base_url)
    with MerchantSink() as pay_sink, MerchantSink() as refund_sink:
        created = client.order.create(
            trade_type="NATIVE",
            body="Test shop-Coffee",
            total_fee=1000,
            notify_url=pay_sink.url,
            client_ip=CLIENT_IP,
            product_id="latte",
            out_trade_no="WCP-CLI-1",
        )
        assert h.pay(payer, code_url=created["code_url"])["outcome"] == "SUCCESS"
        assert "no refunds" in _cli(capsys, "refund", "list", merchant.mch_id, "WCP-CLI-1", *url)
        h.control("POST", "/_local/clock", {"freeze": True})
        refund_id = client.refund.apply(
            total_fee=1000,
            refund_fee=250,
            out_refund_no="WCP-CLI-R1",
            out_trade_no="WCP-CLI-1",
            notify_url=refund_sink.url,
        )["refund_id"]

        listing = _cli(capsys, "refund", "list", merchant.mch_id, "WCP-CLI-1", *url)
        assert refund_id in listing and "WCP-CLI-R1" in listing
        assert "PROCESSING" in listing and "250 fen" in listing and "支付用户零钱" in listing

        forced = _cli(capsys, "refund", "outcome", refund_id, "change", "--json", *url)
        assert "CHANGE" in forced and "商户基本账户" in forced
        assert client.refund.query(refund_id=refund_id)["refund_status_0"] == "CHANGE"

        wait_for(lambda: refund_sink.received)
        note = client.parse_refund_notify_result(refund_sink.received[0].body)
        assert note["refund_status"] == "CHANGE" and "success_time" not in note

        listed = json.loads(_cli(capsys, "notifications", "--kind", "refund", "--json", *url))
        mine = [n for n in listed["notifications"] if n["out_trade_no"] == "WCP-CLI-1"]
        assert [(n["kind"], n["refund_id"]) for n in mine] == [("refund", refund_id)]
        assert {n["kind"] for n in listed["notifications"]} == {"refund"}
        forced_view = json.loads(forced)
        assert forced_view["refund_status"] == "CHANGE"
        assert forced_view["refund_recv_accout"] == "商户基本账户"
