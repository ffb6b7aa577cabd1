"""Concurrent refunds of one order over mutual TLS (refunds spec §2.6; docs/behaviour.md
"Refunds": refunds of one order are serialised on the order's row lock).

Every request goes to the live HTTPS listener with the merchant's own client certificate; each
thread has its own ``httpx.Client`` and they are released together by a barrier. Runs on SQLite
and PostgreSQL. Every wait is bounded.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from wxpay_local.sdk import Client, RejectedError
from wxpay_local.store import SqlStore
from wxpay_local.testing import Harness, MerchantInfo, MerchantSink, wait_for

pytestmark = pytest.mark.api

REFUND = "/secapi/pay/refund"
REFUNDQUERY = "/pay/refundquery"
IN_TRANSIT = "platform:refunds_in_transit"
FEE_INCOME = "platform:fee_income"
TIMEOUT = 20.0


@pytest.fixture
def platform_tls(live: Harness, store: SqlStore) -> Iterator[Harness]:
    """The live platform (HTTP + HTTPS)."""
    return live


class Merchant:
    """A merchant with its certificate files, a frozen clock and one paid order of 1000 fen."""

    def __init__(self, h: Harness, folder: Path, notify_url: str) -> None:
        self.h = h
        self.m: MerchantInfo = h.merchant()
        data = h.control("GET", f"/_local/merchants/{self.m.mch_id}/cert")
        folder.mkdir(parents=True, exist_ok=True)
        self.cert, self.key = folder / "apiclient_cert.pem", folder / "apiclient_key.pem"
        self.cert.write_text(data["apiclient_cert.pem"])
        self.key.write_text(data["apiclient_key.pem"])
        assert h.control("POST", "/_local/clock", {"freeze": True})["frozen"] is True
        self.payer = int(h.payer(balance=10_000)["payer_id"])
        plain = h.client(self.m)
        answer = plain.unifiedorder(
            body="Test shop-Coffee",
            out_trade_no="CC-ORDER-1",
            total_fee=1000,
            spbill_create_ip="203.0.113.10",
            notify_url=notify_url,
            trade_type="NATIVE",
            product_id="latte",
        )
        assert h.pay(self.payer, code_url=answer["code_url"])["outcome"] == "SUCCESS"

    def context(self) -> ssl.SSLContext:
        assert self.h.ca_file is not None
        ctx = ssl.create_default_context(cafile=str(self.h.ca_file))
        ctx.load_cert_chain(str(self.cert), str(self.key))
        return ctx

    def client(self, context: ssl.SSLContext) -> Client:
        http = httpx.Client(verify=context, trust_env=False, timeout=TIMEOUT)
        return Client(
            self.h.tls_url,
            mch_id=self.m.mch_id,
            api_key=self.m.api_key,
            appid=self.m.apps["official_account"],
            http=http,
        )

    def accounts(self) -> dict[str, int]:
        ledger = self.h.ledger()
        assert ledger["total"] == 0
        return {k: v for k, v in ledger["accounts"].items() if v != 0}


def together(
    count: int, work: Callable[[int, Any], Any], prepare: Callable[[int], Any]
) -> list[Any]:
    """Run ``work(i, prepared)`` on ``count`` threads released at once; their results."""
    barrier = threading.Barrier(count, timeout=30)
    results: list[Any] = [None] * count

    def run(i: int) -> None:
        prepared = prepare(i)
        try:
            barrier.wait()
            results[i] = work(i, prepared)
        except Exception as exc:  # noqa: BLE001 - recorded and asserted below
            results[i] = ("exception", repr(exc))
        finally:
            close = getattr(prepared, "close", None)
            if close is not None:
                close()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a request hung"
    return results


def _refund(client: Client, **fields: Any) -> tuple[str, str]:
    try:
        answer = client.call(REFUND, out_trade_no="CC-ORDER-1", total_fee=1000, **fields)
    except RejectedError as exc:
        return ("rejected", exc.err_code)
    return ("ok", answer["refund_id"])


def test_thirty_refunds_of_a_tenth_at_once_accept_exactly_ten(
    platform_tls: Harness, tmp_path: Path, sink: MerchantSink
) -> None:
    shop = Merchant(platform_tls, tmp_path / "cert", sink.url)
    ctx = shop.context()
    numbers = [f"CC-R-{i:02d}" for i in range(30)]

    results = together(
        30,
        lambda i, client: (numbers[i], *_refund(client, out_refund_no=numbers[i], refund_fee=100)),
        lambda i: shop.client(ctx),
    )
    assert all(r[0] != "exception" for r in results), results
    accepted = {number: refund_id for number, kind, refund_id in results if kind == "ok"}
    refused = [code for _, kind, code in results if kind == "rejected"]
    assert len(accepted) == 10, results
    assert len(refused) == 20
    assert set(refused) <= {"INVALID_REQUEST", "ERROR"}, refused
    assert len(set(accepted.values())) == 10

    client = shop.client(ctx)
    try:
        first = client.call(REFUNDQUERY, out_trade_no="CC-ORDER-1", offset=0)
        assert first["total_refund_count"] == "10"
        assert first["refund_count"] == "10"
        assert first["refund_fee"] == "1000"
        listed = [first[f"out_refund_no_{n}"] for n in range(10)]
        assert sorted(listed) == sorted(accepted), "each accepted refund exactly once"
        assert sum(int(first[f"refund_fee_{n}"]) for n in range(10)) == 1000
        assert {first[f"refund_id_{n}"] for n in range(10)} == set(accepted.values())
        with pytest.raises(RejectedError) as past:
            client.call(REFUNDQUERY, out_trade_no="CC-ORDER-1", offset=11)  # > 10 refunds
        assert past.value.err_code == "PARAM_ERROR"
        for number in set(numbers) - set(accepted):
            with pytest.raises(RejectedError) as none:
                client.call(REFUNDQUERY, out_refund_no=number)
            assert none.value.err_code == "REFUNDNOTEXIST"
    finally:
        client.close()

    money = shop.accounts()
    assert money[IN_TRANSIT] == 1000
    assert money.get(f"merchant:{shop.m.mch_id}:basic", 0) == 0
    assert money.get(FEE_INCOME, 0) == 0, "the whole fee came back exactly once"


def test_twenty_retries_of_one_out_refund_no_at_once_make_one_refund(
    platform_tls: Harness, tmp_path: Path, sink: MerchantSink
) -> None:
    shop = Merchant(platform_tls, tmp_path / "cert", sink.url)
    ctx = shop.context()
    before = shop.accounts()

    results = together(
        20,
        lambda i, client: _refund(client, out_refund_no="CC-SAME-1", refund_fee=300),
        lambda i: shop.client(ctx),
    )
    assert all(kind == "ok" for kind, _ in results), results
    assert len({refund_id for _, refund_id in results}) == 1, results

    refunds = platform_tls.control("GET", f"/_local/orders/{shop.m.mch_id}/CC-ORDER-1/refunds")[
        "refunds"
    ]
    assert [(r["out_refund_no"], r["refund_fee"]) for r in refunds] == [("CC-SAME-1", 300)]
    money = shop.accounts()
    basic = f"merchant:{shop.m.mch_id}:basic"
    assert money[IN_TRANSIT] == 300, "the money moved once"
    assert money[basic] == before[basic] - (300 - 2)
    assert money[FEE_INCOME] == before[FEE_INCOME] - 2


def test_a_due_refund_is_settled_exactly_once_while_queried(
    platform_tls: Harness, tmp_path: Path, sink: MerchantSink
) -> None:
    """The dispatcher settles due refunds while refundquery and the control plane's listing
    settle the same order's due refunds: each refund is paid out once, notified once."""
    h = platform_tls
    with MerchantSink() as refund_sink:
        shop = Merchant(h, tmp_path / "cert", sink.url)
        ctx = shop.context()
        client = shop.client(ctx)
        for n in range(5):
            answer = _refund(
                client, out_refund_no=f"CC-SET-{n}", refund_fee=100, notify_url=refund_sink.url
            )
            assert answer[0] == "ok", answer
        client.close()
        assert shop.accounts()[IN_TRANSIT] == 500
        plain = h.client(shop.m)

        def read(i: int, _: None) -> Any:
            if i == 0:  # every refund becomes due; the dispatcher wakes up
                h.advance(5)
                return "advanced"
            seen = []
            for _round in range(10):  # read while the dispatcher settles
                if i % 2:
                    seen.append(plain.call(REFUNDQUERY, out_trade_no="CC-ORDER-1")["refund_count"])
                else:
                    path = f"/_local/orders/{shop.m.mch_id}/CC-ORDER-1/refunds"
                    seen.append(str(len(h.control("GET", path)["refunds"])))
            return seen

        results = together(9, read, lambda i: None)
        assert results[0] == "advanced"
        assert all(r == ["5"] * 10 for r in results[1:]), results

        wallet = f"payer:{shop.payer}:wallet"
        wait_for(lambda: shop.accounts().get(IN_TRANSIT, 0) != 500)
        h.dispatch()
        wait_for(lambda: len(refund_sink.received) >= 5)
        money = shop.accounts()
        assert money.get(IN_TRANSIT, 0) == 0, money
        assert money[wallet] == 9000 + 500, money
        notes = h.control("GET", "/_local/notifications", mch_id=shop.m.mch_id, kind="refund")[
            "notifications"
        ]
        assert len(notes) == 5, [n["refund_id"] for n in notes]
        assert len(refund_sink.received) == 5
