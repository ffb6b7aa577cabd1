"""Fixtures for the domain tests: a real SQLite store, a frozen clock, seeded ids, one merchant.

The domain reaches storage only through the ``Tx`` port, so these tests drive it over the real
``SqlStore`` (SQLite in a temporary directory) rather than a hand-written fake.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from wxpay_local.codes import AppKind, SignType, TradeType
from wxpay_local.domain import ledger
from wxpay_local.domain.clock import TestClock
from wxpay_local.domain.ids import Ids
from wxpay_local.domain.model import Notification, Order
from wxpay_local.domain.orders import PlaceOrder, close_order, place_order, query_order
from wxpay_local.domain.payer import PayRequest, PayResult, pay_order
from wxpay_local.domain.setup import (
    CreatedPayer,
    NewMerchant,
    NewPayer,
    create_merchant,
    create_payer,
)
from wxpay_local.store.engine import SqlStore, open_store
from wxpay_local.timefmt import SHANGHAI

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=SHANGHAI)
NOTIFY_URL = "https://shop.example.com/wxpay/notify"


class World:
    """One merchant (with an official account, a mini program and an app) on a fresh store.

    Every operation runs in its own write transaction, as the API layer does; a ``Rejected``
    raised inside rolls that transaction back.
    """

    def __init__(self, store: SqlStore, clock: TestClock, ids: Ids) -> None:
        self.store = store
        self.clock = clock
        self.ids = ids
        with store.begin(write=True) as tx:
            created = create_merchant(tx, ids, NewMerchant(name="Test Shop"))
        self.merchant = created.merchant
        self.apps = {app.kind: app for app in created.apps}
        self.appid = self.apps[AppKind.OFFICIAL_ACCOUNT].appid
        self.mini_appid = self.apps[AppKind.MINI_PROGRAM].appid

    # parties -------------------------------------------------------------------------------
    def payer(
        self, balance: int = 0, cards: tuple[str, ...] = (), password: str = "123456"
    ) -> CreatedPayer:
        with self.store.begin(write=True) as tx:
            return create_payer(
                tx,
                self.clock,
                self.ids,
                NewPayer(name="payer", balance=balance, pay_password=password, cards=cards),
            )

    # orders --------------------------------------------------------------------------------
    def cmd(self, out_trade_no: str = "ORDER0001", **overrides: Any) -> PlaceOrder:
        base = PlaceOrder(
            appid=self.appid,
            out_trade_no=out_trade_no,
            trade_type=TradeType.NATIVE,
            total_fee=1800,
            body="Test-goods",
            spbill_create_ip="203.0.113.7",
            notify_url=NOTIFY_URL,
            sign_type=SignType.MD5,
            nonce_str="5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
            product_id="SKU-1",
        )
        return replace(base, **overrides)

    def place(self, out_trade_no: str = "ORDER0001", **overrides: Any) -> Order:
        return self.place_cmd(self.cmd(out_trade_no, **overrides))

    def place_cmd(self, cmd: PlaceOrder) -> Order:
        with self.store.begin(write=True) as tx:
            return place_order(tx, self.clock, self.ids, self.merchant, cmd)

    def query(self, out_trade_no: str = "ORDER0001", transaction_id: str = "") -> Order:
        with self.store.begin(write=False) as tx:
            return query_order(tx, self.clock, self.merchant, transaction_id, out_trade_no)

    def stored(self, out_trade_no: str = "ORDER0001") -> Order | None:
        """The row as stored, without the lazy expiry of ``effective_state``."""
        with self.store.begin(write=False) as tx:
            return tx.order_by_out_trade_no(self.merchant.id, out_trade_no)

    def close(self, out_trade_no: str = "ORDER0001") -> Order:
        with self.store.begin(write=True) as tx:
            return close_order(tx, self.clock, self.merchant, out_trade_no)

    def pay(self, order: Order | str, payer_id: int, **kw: Any) -> PayResult:
        prepay_id = order if isinstance(order, str) else order.prepay_id
        kw.setdefault("prepay_id", prepay_id)
        with self.store.begin(write=True) as tx:
            return pay_order(tx, self.clock, self.ids, PayRequest(payer_id=payer_id, **kw))

    # money and notifications ---------------------------------------------------------------
    def balances(self) -> dict[str, int]:
        with self.store.begin(write=False) as tx:
            return tx.balances()

    def balance(self, account: str) -> int:
        with self.store.begin(write=False) as tx:
            return tx.balance(account)

    @property
    def basic(self) -> str:
        return ledger.merchant_account(self.merchant)

    def notifications(self, order_id: int | None = None) -> list[Notification]:
        with self.store.begin(write=False) as tx:
            return tx.notifications(order_id=order_id)

    def orders(self) -> list[Order]:
        with self.store.begin(write=False) as tx:
            return tx.orders(self.merchant.id, 10_000, 0)


@pytest.fixture
def t0() -> datetime:
    return T0


@pytest.fixture
def clock() -> TestClock:
    return TestClock(frozen=T0)


@pytest.fixture
def ids() -> Ids:
    return Ids(seed=1)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    s = open_store(str(tmp_path / "t.sqlite3"))
    yield s
    s.close()


@pytest.fixture
def world(store: SqlStore, clock: TestClock, ids: Ids) -> World:
    return World(store, clock, ids)


@pytest.fixture
def world_factory(tmp_path: Path) -> Iterator[Callable[[], World]]:
    """Fresh worlds on fresh databases, one per Hypothesis example; all closed at teardown."""
    counter = itertools.count()
    opened: list[SqlStore] = []

    def make() -> World:
        s = open_store(str(tmp_path / f"h{next(counter)}.sqlite3"))
        opened.append(s)
        return World(s, TestClock(frozen=T0), Ids(seed=1))

    yield make
    for s in opened:
        s.close()
