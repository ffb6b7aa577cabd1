"""Every control-plane and console list costs the same number of SQL statements whether it
shows 1 row or 50 (no statement per row), and a list of 10,000 payers answers one bounded page.

Statements are counted with ``store.base.watch_statements`` around one request; the
notification dispatcher is off so nothing else runs statements meanwhile. Rows are seeded
straight into the store (the merchant API is not what is measured here).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import pytest
from console_support import as_operator

from wxpay_local.codes import SignType, TradeState, TradeType
from wxpay_local.domain import setup
from wxpay_local.domain.model import LIVE, DeliveryAttempt, Order
from wxpay_local.settings import Settings
from wxpay_local.store.base import watch_statements
from wxpay_local.store.engine import SqlStore
from wxpay_local.testing import Harness, MerchantInfo
from wxpay_local.timefmt import SHANGHAI

pytestmark = pytest.mark.api

START = datetime(2026, 3, 1, 10, 0, tzinfo=SHANGHAI)


@pytest.fixture
def quiet(store: SqlStore) -> Iterator[Harness]:
    """In-process, without the dispatcher: only the request under test runs statements."""
    settings = Settings(notify_timeout_seconds=2.0, dispatcher=False)
    with Harness.start(store, settings=settings) as harness:
        yield harness


def _seed(h: Harness, m: MerchantInfo, count: int, first: int = 0) -> None:
    """``count`` paid orders, each with a payment notification and one delivery attempt, and
    ``count`` payers, each with an openid and a card."""
    with h.app.store.begin() as tx:
        merchant = tx.merchant(m.mch_id, LIVE)
        assert merchant is not None
        appid = m.apps["official_account"]
        for n in range(first, first + count):
            order = tx.insert_order(
                Order(
                    id=0,
                    merchant_id=merchant.id,
                    mch_id=m.mch_id,
                    appid=appid,
                    out_trade_no=f"SC{n:05d}",
                    trade_type=TradeType.NATIVE,
                    trade_state=TradeState.NOTPAY,
                    total_fee=100 + n,
                    body="Seed shop-Tea",
                    spbill_create_ip="203.0.113.10",
                    sign_type=SignType.MD5,
                    created_at=START + timedelta(seconds=n),
                )
            )
            assert order is not None
            note = tx.enqueue_notification(
                "payment",
                merchant.id,
                order.id,
                "http://127.0.0.1:9/notify",
                {"out_trade_no": order.out_trade_no},
                SignType.MD5,
                START + timedelta(seconds=n),
            )
            at = START + timedelta(seconds=n, milliseconds=5)
            tx.record_attempts(
                [(DeliveryAttempt(note, 1, at, False, 500, 3, "HTTP 500"), "pending", at, at)]
            )
            payer = tx.insert_payer(f"Payer {n}", "123456")
            tx.insert_openid(payer.id, appid, f"seed-openid-{n:05d}-xxxxxxxxxxxxxx")
            tx.insert_card(payer.id, "CMB_CREDIT", f"{n % 10000:04d}")
            setup.create_merchant(tx, h.app.ids, setup.NewMerchant(name=f"Shop {n}"))


CONTROL_LISTS = (
    "/_local/orders",
    "/_local/notifications",
    "/_local/notifications?kind=payment",
    "/_local/payers",
    "/_local/merchants",
    "/_local/journal",
)
CONSOLE_LISTS = ("/console/orders", "/console/notifications", "/console/refunds")


def _statements(h: Harness, console: httpx.Client) -> dict[str, int]:
    """The statements each list request ran (its answer checked to be a 200)."""
    counts: dict[str, int] = {}
    for path in (*CONTROL_LISTS, *CONSOLE_LISTS):
        seen: list[str] = []
        with watch_statements(seen.append):
            if path.startswith("/console"):
                assert console.get(path).status_code == 200, path
            else:
                h.control("GET", path)
        counts[path] = len(seen)
    return counts


def test_every_list_costs_the_same_statements_for_1_and_50_rows(
    quiet: Harness, store: SqlStore
) -> None:
    h = quiet
    with as_operator(h) as console:
        m = h.merchant()
        _seed(h, m, 1)
        h.control("GET", "/_local/orders")  # warm the identity cache the same way twice
        one = _statements(h, console)
        _seed(h, m, 49, first=1)
        fifty = _statements(h, console)
    assert len(h.control("GET", "/_local/notifications")["notifications"]) == 50
    assert len(h.control("GET", "/_local/payers")["payers"]) == 50
    merchants = h.control("GET", "/_local/merchants")["merchants"]
    assert len(merchants) == 51 and all(len(m["apps"]) == 3 for m in merchants)
    page = h.control("GET", "/_local/merchants", limit=10, after=merchants[9]["mch_id"])
    assert [m["mch_id"] for m in page["merchants"]] == [m["mch_id"] for m in merchants[10:20]]
    assert fifty == one, {p: (one[p], fifty[p]) for p in one if one[p] != fifty[p]}


def test_ten_thousand_payers_answer_one_bounded_page(quiet: Harness) -> None:
    h = quiet
    with h.app.store.begin() as tx:
        for n in range(10_000):
            tx.insert_payer(f"P{n}", "123456")
    first = h.control("GET", "/_local/payers")["payers"]
    assert len(first) == 100
    after = first[-1]["payer_id"]
    second = h.control("GET", "/_local/payers", limit=500, after_id=after)["payers"]
    assert len(second) == 500
    assert second[0]["payer_id"] > after
    capped = h.control("GET", "/_local/payers", limit=100_000)["payers"]
    assert len(capped) == 500


def test_kind_filter_applies_before_the_limit(quiet: Harness) -> None:
    """One refund notification behind many payment ones is still found with ?kind=refund."""
    h = quiet
    m = h.merchant()
    _seed(h, m, 3)
    with h.app.store.begin() as tx:
        merchant = tx.merchant(m.mch_id, LIVE)
        assert merchant is not None
        order = tx.order_by_out_trade_no(merchant.id, "SC00000")
        assert order is not None
        tx.enqueue_notification(
            "refund", merchant.id, order.id, "http://127.0.0.1:9/r", {}, SignType.MD5, START
        )
    with h.app.store.begin() as tx:
        merchant = tx.merchant(m.mch_id, LIVE)
        assert merchant is not None
        for _ in range(5):  # newer payment notifications than the refund one
            tx.enqueue_notification(
                "payment", merchant.id, order.id, "http://127.0.0.1:9/p", {}, SignType.MD5, START
            )
    found = h.control("GET", "/_local/notifications", kind="refund", limit=1)["notifications"]
    assert [n["kind"] for n in found] == ["refund"]
    payments = h.control("GET", "/_local/notifications", kind="payment", limit=2)
    older = h.control(
        "GET",
        "/_local/notifications",
        kind="payment",
        limit=50,
        before_id=payments["notifications"][-1]["id"],
    )["notifications"]
    assert len(payments["notifications"]) == 2 and len(older) == 6
    assert {n["kind"] for n in older} == {"payment"}


def test_orders_page_by_before_id_walks_every_order_once(quiet: Harness) -> None:
    h = quiet
    m = h.merchant()
    _seed(h, m, 7)
    seen: list[str] = []
    page = h.control("GET", "/_local/orders", limit=3)["orders"]
    while page:
        seen += [o["out_trade_no"] for o in page]
        page = h.control("GET", "/_local/orders", limit=3, before_id=page[-1]["order_id"])["orders"]
    assert seen == [f"SC{n:05d}" for n in reversed(range(7))]
