"""The console's orders, refunds and notifications over HTTP: filters, keyset pages that walk
every row once, one merchant never seeing another's, resend (CSRF, a new attempt), odd input.

Runs on the ``platform`` fixture: in-process SQLite, live SQLite, live PostgreSQL.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from html import unescape

import httpx
import pytest
from console_support import PASSWORD, as_operator, signed_in

from wxpay_local.codes import SignType, TradeState, TradeType
from wxpay_local.domain.model import LIVE, Order
from wxpay_local.domain.refunds import RequestRefund, request_refund
from wxpay_local.testing import Harness, MerchantInfo, MerchantSink, wait_for
from wxpay_local.timefmt import SHANGHAI

pytestmark = pytest.mark.api

ROW = re.compile(r'class="order-row" data-out-trade-no="([^"]+)"')
OLDER = re.compile(r'id="older" href="([^"]+)"')
NEWER = re.compile(r'id="newer" href="([^"]+)"')


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found
    return found.group(1)


def _seed(platform: Harness, merchant: MerchantInfo, count: int, start: datetime) -> list[str]:
    """``count`` orders straight into the store, three per millisecond (ties for the cursor),
    states and types cycling; returns the out_trade_nos newest first as the list shows them."""
    states = (TradeState.SUCCESS, TradeState.NOTPAY, TradeState.CLOSED)
    types = (TradeType.NATIVE, TradeType.JSAPI)
    with platform.app.store.begin() as tx:
        found = tx.merchant(merchant.mch_id, LIVE)
        assert found is not None
        for n in range(count):
            order = Order(
                id=0,
                merchant_id=found.id,
                mch_id=merchant.mch_id,
                appid=merchant.apps["official_account"],
                out_trade_no=f"S{n:05d}",
                trade_type=types[n % 2],
                trade_state=states[n % 3],
                total_fee=100 + n,
                body="Seed shop-Tea",
                spbill_create_ip="203.0.113.10",
                sign_type=SignType.MD5,
                created_at=start + timedelta(milliseconds=n // 3),
            )
            assert tx.insert_order(order) is not None
    return [f"S{n:05d}" for n in reversed(range(count))]


def _walk(client: httpx.Client, first: str, pattern: re.Pattern[str] = ROW) -> list[str]:
    seen: list[str] = []
    url: str | None = first
    while url:
        page = client.get(url)
        assert page.status_code == 200, page.text
        seen += pattern.findall(page.text)
        more = OLDER.search(page.text)
        url = unescape(more.group(1)) if more else None
    return seen


def test_pages_walk_every_order_once_in_order_both_ways(platform: Harness) -> None:
    merchant = platform.merchant(console_password=PASSWORD)
    expected = _seed(platform, merchant, 1500, datetime(2024, 5, 1, 9, 0, tzinfo=SHANGHAI))
    with signed_in(platform, merchant.mch_id) as client:
        assert _walk(client, "/console/orders?limit=200") == expected
        # back from the last page with the "newer" links
        url: str | None = "/console/orders?limit=200"
        last = ""
        while url:
            last, page = url, client.get(url).text
            found = OLDER.search(page)
            url = unescape(found.group(1)) if found else None
        back: list[str] = []
        url = last
        while url:
            page = client.get(url).text
            back = ROW.findall(page) + back
            found = NEWER.search(page)
            url = unescape(found.group(1)) if found else None
        assert back == expected


def test_filters_narrow_the_list(platform: Harness) -> None:
    merchant = platform.merchant(console_password=PASSWORD)
    expected = _seed(platform, merchant, 90, datetime(2024, 5, 1, 23, 59, 59, tzinfo=SHANGHAI))
    with signed_in(platform, merchant.mch_id) as client:
        success = _walk(client, "/console/orders?trade_state=SUCCESS&limit=7")
        assert success == [o for o in expected if int(o[1:]) % 3 == 0]
        jsapi_closed = _walk(client, "/console/orders?trade_state=CLOSED&trade_type=JSAPI")
        assert jsapi_closed == [o for o in expected if int(o[1:]) % 6 == 5]
        # 90 orders three per ms from 23:59:59.000 Beijing time: all on 2024-05-01
        assert len(_walk(client, "/console/orders?from=2024-05-01&to=2024-05-01")) == 90
        assert _walk(client, "/console/orders?from=2024-05-02") == []
        assert _walk(client, "/console/orders?to=2024-04-30") == []
        assert _walk(client, "/console/orders?q=S00042") == ["S00042"]
        assert _walk(client, "/console/orders?q=S0004") == []


def test_search_by_transaction_id_and_the_order_timeline(
    platform: Harness, sink: MerchantSink
) -> None:
    merchant = platform.merchant(console_password=PASSWORD)
    payer = platform.payer(balance=10_000, name="Alice")
    client = platform.client(merchant)
    answer = client.unifiedorder(
        body="Test shop-Latte",
        out_trade_no="T-1",
        total_fee=1800,
        spbill_create_ip="203.0.113.10",
        notify_url=sink.url,
        trade_type="NATIVE",
        product_id="latte",
    )
    assert platform.pay(payer["payer_id"], code_url=answer["code_url"])["outcome"] == "SUCCESS"
    transaction_id = client.orderquery(out_trade_no="T-1")["transaction_id"]
    _refund(platform, merchant, transaction_id, "R-1", 1800, 500)
    wait_for(lambda: platform.notifications(merchant.mch_id)[-1]["status"] == "delivered")
    with signed_in(platform, merchant.mch_id) as browser:
        assert _walk(browser, f"/console/orders?q={transaction_id}") == ["T-1"]
        page = browser.get("/console/orders/" + merchant.mch_id + "/T-1")
        assert page.status_code == 200
        text = page.text
        for expected in ("Order created (unifiedorder)", "Paid", "Refund requested", "Alice"):
            assert expected in text, expected
        assert "¥0.11 (11 fen) · ledger" in text  # 0.6 % of 18.00, read from the ledger
        assert 'data-http="200"' in text
        assert "weixin://wxpay/bizpayurl?pr=" in text
        refunds = browser.get("/console/refunds?refund_status=PROCESSING").text
        assert "R-1" in refunds and "/console/orders/" + merchant.mch_id + "/T-1" in refunds
        assert "R-1" not in browser.get("/console/refunds?refund_status=SUCCESS").text
        assert "R-1" in browser.get("/console/refunds?q=R-1").text


def _refund(
    platform: Harness, merchant: MerchantInfo, transaction_id: str, no: str, total: int, fee: int
) -> None:
    app = platform.app
    with app.store.begin() as tx:
        found = tx.merchant(merchant.mch_id, LIVE)
        assert found is not None
        request_refund(
            tx,
            app.clock,
            app.ids,
            found,
            RequestRefund(transaction_id, "", no, total, fee, SignType.MD5),
            timedelta(hours=1),
        )


def test_a_merchant_never_sees_another_merchants_data(platform: Harness) -> None:
    mine = platform.merchant(console_password=PASSWORD)
    other = platform.merchant(console_password="other-pw-1")
    _seed(platform, other, 3, datetime(2024, 5, 1, 9, tzinfo=SHANGHAI))
    with signed_in(platform, mine.mch_id) as client:
        assert client.get(f"/console/orders/{other.mch_id}/S00001").status_code == 404
        assert client.get(f"/console/orders/{mine.mch_id}/S00001").status_code == 404
        assert _walk(client, f"/console/orders?mch_id={other.mch_id}") == []
        assert _walk(client, "/console/orders?q=S00001") == []
    with as_operator(platform) as client:
        assert client.get(f"/console/orders/{other.mch_id}/S00001").status_code == 200
        assert len(_walk(client, "/console/orders")) == 3
        assert _walk(client, f"/console/orders?mch_id={mine.mch_id}") == []


def test_resend_needs_csrf_and_makes_a_new_attempt(platform: Harness) -> None:
    merchant = platform.merchant(console_password=PASSWORD)
    other = platform.merchant(console_password="other-pw-1")
    payer = platform.payer(balance=10_000)
    with MerchantSink() as sink:
        sink.answer_fail_then_success(1)
        answer = platform.client(merchant).unifiedorder(
            body="Test shop-Tea",
            out_trade_no="N-1",
            total_fee=100,
            spbill_create_ip="203.0.113.10",
            notify_url=sink.url,
            trade_type="NATIVE",
            product_id="tea",
        )
        platform.pay(payer["payer_id"], code_url=answer["code_url"])
        wait_for(lambda: platform.notifications(merchant.mch_id)[0]["attempts"])
        note = platform.notifications(merchant.mch_id)[0]
        assert note["status"] == "pending"  # the first answer was FAIL: a retry is scheduled
        resend = f"/console/notifications/{note['id']}/resend"
        with signed_in(platform, other.mch_id, "other-pw-1") as stranger:
            token = _csrf(stranger.get("/console").text)
            assert stranger.post(resend, data={"csrf": token}).status_code == 404
        with signed_in(platform, merchant.mch_id) as client:
            listing = client.get("/console/notifications?status=pending")
            assert f'data-notification-id="{note["id"]}"' in listing.text
            assert client.post(resend, data={"csrf": "forged"}).status_code == 403
            assert client.post(resend, data={}).status_code == 403
            back = "/console/orders/" + merchant.mch_id + "/N-1"
            done = client.post(resend, data={"csrf": _csrf(listing.text), "next": back})
            assert done.status_code == 303
            assert done.headers["location"].startswith(back + "?resent=")
            wait_for(lambda: len(sink.received) >= 2)
            wait_for(lambda: platform.notifications(merchant.mch_id)[0]["status"] == "delivered")
            page = client.get(done.headers["location"]).text
            assert "sent again: attempt 2 answered HTTP 200" in page
            assert page.count('class="attempt ') == 2
            assert 'data-waiting="no"' in page
            delivered = client.get("/console/notifications?status=delivered&kind=payment").text
            assert f'data-notification-id="{note["id"]}"' in delivered
            assert "N-1" not in client.get("/console/notifications?status=failed").text
            outside = client.post(resend, data={"csrf": _csrf(page), "next": "https://evil/x"})
            assert outside.headers["location"].startswith("/console/notifications?")


@pytest.mark.parametrize(
    "query",
    [
        "from=2024-13-01",
        "from=yesterday",
        "to=2024-02-30",
        "from=2024-05-02&to=2024-05-01",
        "from=99999-01-01",
        "trade_state=PAID",
        "trade_type=CASH",
        "after=1_2_3",
        "after=-1_5",
        "after=99999999999999999999_1",
        "before=abc",
        "after=1_1&before=2_2",
        "limit=0",
        "limit=100000000000000000000",
        "limit=-5",
        "q=%00",
        "q=" + "x" * 3000,
        "mch_id=12%2034",
        "mch_id=%00",
    ],
)
def test_odd_query_values_are_4xx_pages(platform: Harness, query: str) -> None:
    merchant = platform.merchant(console_password=PASSWORD)
    with as_operator(platform) as client:
        for path in ("/console/orders", "/console/refunds", "/console/notifications"):
            answer = client.get(f"{path}?{query}")
            if path != "/console/orders" and query.startswith(("trade_", "q=%00", "q=x")):
                assert answer.status_code < 500, (path, query, answer.status_code)
                continue
            assert 400 <= answer.status_code < 500, (path, query, answer.status_code)
            assert "<html" in answer.text
        for odd in ("/console/orders/abc/x", f"/console/orders/{merchant.mch_id}/%00"):
            assert 400 <= client.get(odd).status_code < 500
        for target in (
            "/console/notifications/99999999999999999999/resend",
            "/console/notifications/x/resend",
        ):
            token = _csrf(client.get("/console").text)
            assert client.post(target, data={"csrf": token}).status_code == 404
