"""The whole control plane, driven from its own OpenAPI document by schemathesis.

A live server on a loopback socket (so whatever guards the root sees these requests too), on
SQLite and (when WXPAY_TEST_PG_URL is set) PostgreSQL, seeded with a merchant, a payer, a paid
order with a notification and an unpaid order. Every operation gets generated requests, valid
and boundary ones; every other case is aimed at the seeded records (random ids would only
ever meet 404s), so the 200 answers and the rules behind them run too. Each answer must not
be a 5xx and must match the document: a listed status, its content type and its schema.
Bounded and derandomized: the same cases every run.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from wxpay_local.store import SqlStore
from wxpay_local.testing import Harness
from wxpay_local.web.control import openapi

pytestmark = pytest.mark.api

MCH_ID, PAID, UNPAID = "1900000109", "T1", "T2"


@dataclass
class Records:
    """Ids of the seeded records, by the name of the parameter or field that carries them."""

    platform: Harness
    values: dict[str, Any] = field(default_factory=dict)
    unpaid: int = 0

    def seed(self) -> None:
        shop = self.platform.merchant(mch_id=MCH_ID)
        payer = self.platform.payer(balance=100_000)
        paid = self.order(shop, PAID)
        self.platform.pay(payer["payer_id"], code_url=paid["code_url"])
        self.platform.dispatch()  # nobody listens at notify_url: an attempt is recorded
        self.values = {
            "mch_id": MCH_ID,
            "payer_id": payer["payer_id"],
            "openid": self.platform.openid(payer["payer_id"], shop.apps["official_account"]),
            "out_trade_no": PAID,
            "notification_id": self.platform.notifications(MCH_ID)[0]["id"],
        }
        self.new_unpaid()

    def order(self, shop: Any, out_trade_no: str) -> dict[str, Any]:
        client = self.platform.client(shop)
        return client.unifiedorder(
            body="Latte",
            out_trade_no=out_trade_no,
            total_fee=1800,
            spbill_create_ip="127.0.0.1",
            trade_type="NATIVE",
            product_id="latte",
            notify_url="http://127.0.0.1:9/notify",
        )

    def new_unpaid(self) -> None:
        """An order to pay: /_local/pay then reaches the password and the wallet."""
        self.unpaid += 1
        shop = self.platform.merchant()
        order = self.order(shop, f"{UNPAID}-{self.unpaid}")
        self.values["prepay_id"], self.values["code_url"] = order["prepay_id"], order["code_url"]

    def aim(self, case: Any) -> None:
        """Point the case's ids at the seeded records."""
        for where in (case.path_parameters, case.query, case.body):
            if isinstance(where, dict):
                for name in where.keys() & self.values.keys():
                    where[name] = self.values[name]


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def records(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    store_factory: Callable[[str, Path], SqlStore],
) -> Iterator[Records]:
    store = store_factory(request.param, tmp_path_factory.mktemp("schemathesis"))
    try:
        with Harness.start(store, live=True) as platform:
            found = Records(platform)
            found.seed()
            yield found
    finally:
        store.close()


#: The document the server serves (test_the_served_document_is_the_one_tested checks that).
schema = schemathesis.openapi.from_dict(openapi())
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
#: Turns per operation (not one for the module: xdist gives each worker other operations).
_turns: dict[str, Iterator[int]] = defaultdict(itertools.count)


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_documented(case: Any, records: Records) -> None:
    if next(_turns[f"{case.method} {case.path}"]) % 2 == 0:
        records.aim(case)
    response = case.call_and_validate(base_url=records.platform.base_url, checks=CHECKS)
    if response.status_code != 200:
        return
    if case.path == "/_local/reset":  # every record is gone: seed them again
        records.seed()
    elif case.path == "/_local/pay" and response.json()["outcome"] == "SUCCESS":
        records.new_unpaid()


def test_the_served_document_is_the_one_tested(records: Records) -> None:
    served = records.platform.http.get("/_local/openapi.json")
    assert served.status_code == 200
    assert served.headers["content-type"] == "application/json"
    assert served.json() == openapi()
