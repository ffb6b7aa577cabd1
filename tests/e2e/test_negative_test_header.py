"""The official sandbox's negative tests (仿真测试系统): the ``Wechatpay-Negative-Test`` header on
``/sandboxnew/pay/micropay``, driven by wechatpy in sandbox mode (it fetches the sandbox key
itself). What each case does here is inferred from the published case list; docs/behaviour.md
says what is inferred. The published cases ask for a client timeout under 500 ms.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from wechatpy.exceptions import WeChatPayException  # type: ignore[import-untyped]
from wechatpy.pay import WeChatPay  # type: ignore[import-untyped]

from wxpay_local.settings import Settings
from wxpay_local.store import SqlStore
from wxpay_local.testing import Harness

pytestmark = pytest.mark.e2e

HEADER = "Wechatpay-Negative-Test"


@pytest.fixture
def sandbox(store: SqlStore) -> Iterator[Harness]:
    settings = Settings(notify_timeout_seconds=2.0, require_client_cert=False)
    with Harness.start(store, live=True, settings=settings) as harness:
        yield harness
        harness.assert_ledger_balanced()


@pytest.fixture
def client(sandbox: Harness) -> Iterator[tuple[WeChatPay, int]]:
    merchant = sandbox.merchant()
    wechatpy = WeChatPay(
        appid=merchant.apps["official_account"],
        api_key=merchant.api_key,
        mch_id=merchant.mch_id,
        sandbox=True,
        timeout=0.4,
    )
    wechatpy.API_BASE_URL = sandbox.base_url + "/"
    wechatpy._http.trust_env = False
    payer = sandbox.payer(balance=10_000)["payer_id"]
    yield wechatpy, payer
    wechatpy._http.close()


def charge(h: Harness, client: WeChatPay, payer: int, out_trade_no: str, case: str) -> None:
    code = h.control("POST", f"/_local/payers/{payer}/codes")["auth_code"]
    client.micropay.create(
        body="Test shop-Coffee",
        total_fee=501,
        auth_code=code,
        client_ip="203.0.113.10",
        out_trade_no=out_trade_no,
        headers={HEADER: case},
    )


@pytest.fixture(autouse=True)
def _headers_pass_through(monkeypatch: pytest.MonkeyPatch) -> None:
    """wechatpy's ``micropay.create`` has no headers argument: send them as a per-request header
    of its session (what a merchant's own wrapper does)."""
    from wechatpy.pay.api.micropay import WeChatMicroPay  # type: ignore[import-untyped]

    original = WeChatMicroPay.create

    def create(
        self: WeChatMicroPay, *args: object, headers: dict[str, str], **kw: object
    ) -> object:
        session = self._client._http
        session.headers.update(headers)
        try:
            return original(self, *args, **kw)
        finally:
            for name in headers:
                session.headers.pop(name, None)

    monkeypatch.setattr(WeChatMicroPay, "create", create)


def wallet(h: Harness, payer: int) -> int:
    return int(h.ledger()["accounts"].get(f"payer:{payer}:wallet", 0))


def test_micropay_userpaying(sandbox: Harness, client: tuple[WeChatPay, int]) -> None:
    wechatpy, payer = client
    with pytest.raises(WeChatPayException) as refused:
        charge(sandbox, wechatpy, payer, "NEG-USERPAYING", "MICROPAY_USERPAYING")
    assert (refused.value.return_code, refused.value.result_code) == ("SUCCESS", "FAIL")
    assert refused.value.errcode == "USERPAYING"
    assert refused.value.errmsg == "需要输入密码"
    # the payer finishes paying: the query the case asks for finds the payment
    assert wechatpy.order.query(out_trade_no="NEG-USERPAYING")["trade_state"] == "SUCCESS"
    assert wallet(sandbox, payer) == 10_000  # the sandbox moves no money (spec §1.6)


def test_micropay_timeout(sandbox: Harness, client: tuple[WeChatPay, int]) -> None:
    wechatpy, payer = client
    with pytest.raises(requests.Timeout):
        charge(sandbox, wechatpy, payer, "NEG-TIMEOUT", "MICROPAY_TIMEOUT")
    # the payer paid; only the answer was lost
    assert wechatpy.order.query(out_trade_no="NEG-TIMEOUT")["trade_state"] == "SUCCESS"
    assert wallet(sandbox, payer) == 10_000  # the sandbox moves no money (spec §1.6)


def test_micropay_payerror(sandbox: Harness, client: tuple[WeChatPay, int]) -> None:
    wechatpy, payer = client
    with pytest.raises(requests.Timeout):
        charge(sandbox, wechatpy, payer, "NEG-PAYERROR", "MICROPAY_PAYERROR")
    # the payment failed: nothing was taken and the query finds no payment
    with pytest.raises(WeChatPayException) as missing:
        wechatpy.order.query(out_trade_no="NEG-PAYERROR")
    assert missing.value.errcode == "ORDERNOTEXIST"
    assert wallet(sandbox, payer) == 10_000


def test_micropay_pay_query_timeout(sandbox: Harness, client: tuple[WeChatPay, int]) -> None:
    wechatpy, payer = client
    with pytest.raises(requests.Timeout):
        charge(sandbox, wechatpy, payer, "NEG-PQT", "MICROPAY_PAY_QUERY_TIMEOUT")
    wechatpy._http.headers[HEADER] = "MICROPAY_PAY_QUERY_TIMEOUT"
    with pytest.raises(requests.Timeout):  # the query fails too ...
        wechatpy.order.query(out_trade_no="NEG-PQT")
    del wechatpy._http.headers[HEADER]
    sandbox.advance(15)
    # ... so the till reverses: the money taken goes back to the payer
    assert wechatpy.order.reverse(out_trade_no="NEG-PQT")["recall"] == "N"
    assert wechatpy.order.query(out_trade_no="NEG-PQT")["trade_state"] == "REVOKED"
    assert wallet(sandbox, payer) == 10_000
