"""The merchant setting ``notify_sign_type``: every option, received over HTTP, verified by
wechatpy (PyPI) and tenpay (npm), both unchanged, and by the independent reference signer.

What the two clients do (read from their sources; docs/behaviour.md "Notification signature"):
wechatpy 1.8 ``WeChatPay.parse_payment_result`` always recomputes an MD5 signature; tenpay
2.1 ``middlewareForExpress('pay')`` uses the body's ``sign_type`` and MD5 when it is absent.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from reference_wire import HMAC, MD5, v2_sign
from wechatpy.exceptions import InvalidSignatureException  # type: ignore[import-untyped]
from wechatpy.pay import WeChatPay  # type: ignore[import-untyped]

from wxpay_local.codes import SignType
from wxpay_local.testing import Harness, MerchantInfo, MerchantSink, wait_for

pytestmark = pytest.mark.api

NODE_DIR = Path(__file__).resolve().parents[1] / "node"

#: setting -> per order sign type: (sign_type element, algorithm, wechatpy ok, tenpay ok)
EXPECTED = {
    "MD5": {MD5: (None, MD5, True, True), HMAC: (None, MD5, True, True)},
    "ORDER": {MD5: (None, MD5, True, True), HMAC: ("HMAC-SHA256", HMAC, False, True)},
    "ORDER_NO_SIGN_TYPE": {MD5: (None, MD5, True, True), HMAC: (None, HMAC, False, False)},
}


def _fields(body: bytes) -> dict[str, str]:
    root = ET.fromstring(body)
    assert root.tag == "xml"
    return {child.tag: child.text or "" for child in root}


def _tenpay(merchant: MerchantInfo, bodies: list[bytes]) -> list[bool]:
    node = shutil.which("node")
    if node is None or not (NODE_DIR / "node_modules" / "tenpay").is_dir():
        pytest.skip("node or tests/node/node_modules missing: run npm ci --prefix tests/node")
    args = [node, str(NODE_DIR / "verify_notify.js")]
    args += [merchant.apps["official_account"], merchant.mch_id, merchant.api_key]
    done = subprocess.run(
        args,
        input=json.dumps([b.decode() for b in bodies]),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [bool(r["ok"]) for r in json.loads(done.stdout)]


def _wechatpy(merchant: MerchantInfo, body: bytes) -> bool:
    client = WeChatPay(
        appid=merchant.apps["official_account"], api_key=merchant.api_key, mch_id=merchant.mch_id
    )
    try:
        client.parse_payment_result(body)
    except InvalidSignatureException:
        return False
    return True


def _notified(live: Harness, sink: MerchantSink, merchant: MerchantInfo) -> dict[str, bytes]:
    """Pay one MD5 and one HMAC-SHA256 order; the notification bodies by the order's type."""
    payer = live.payer(balance=10_000)
    for sign_type, out_trade_no in ((SignType.MD5, "SIGN-MD5"), (SignType.HMAC_SHA256, "SIGN-H")):
        answer = live.client(merchant, sign_type=sign_type).unifiedorder(
            body="Test shop-Coffee",
            out_trade_no=out_trade_no,
            total_fee=800,
            spbill_create_ip="203.0.113.10",
            notify_url=sink.url,
            trade_type="NATIVE",
            product_id="latte",
            attach="store=SZ01",
        )
        assert live.pay(payer["payer_id"], code_url=answer["code_url"])["outcome"] == "SUCCESS"
    received = wait_for(lambda: sink.received if len(sink.received) >= 2 else None)
    by_order = {_fields(r.body)["out_trade_no"]: r.body for r in received}
    return {MD5: by_order["SIGN-MD5"], HMAC: by_order["SIGN-H"]}


@pytest.mark.parametrize("setting", [None, "MD5", "ORDER", "ORDER_NO_SIGN_TYPE"])
def test_every_notify_sign_type_as_wechatpy_and_tenpay_verify_it(
    live: Harness, sink: MerchantSink, setting: str | None
) -> None:
    merchant = live.merchant()
    path = f"/_local/merchants/{merchant.mch_id}/config"
    if setting is None:  # the default a merchant gets without opening the settings
        assert live.control("GET", path)["notify_sign_type"] == "MD5"
        setting = "MD5"
    else:
        assert live.control("POST", path, {"notify_sign_type": setting})["notify_sign_type"] == (
            setting
        )
    bodies = _notified(live, sink, merchant)
    tenpay_ok = dict(zip(bodies, _tenpay(merchant, list(bodies.values())), strict=True))

    for order_type, body in bodies.items():
        element, algorithm, wechatpy_ok, tenpay_expected = EXPECTED[setting][order_type]
        fields = _fields(body)
        assert fields.get("sign_type") == element, (order_type, fields)
        assert fields["sign"] == v2_sign(fields, merchant.api_key, algorithm), order_type
        assert len(fields["sign"]) == (32 if algorithm == MD5 else 64)
        assert _wechatpy(merchant, body) is wechatpy_ok, (setting, order_type)
        assert tenpay_ok[order_type] is tenpay_expected, (setting, order_type)


def test_an_unknown_notify_sign_type_is_refused(live: Harness) -> None:
    merchant = live.merchant()
    path = f"/_local/merchants/{merchant.mch_id}/config"
    refused = live.control("POST", path, {"notify_sign_type": "SHA1"}, expect=400)
    assert "notify_sign_type" in json.dumps(refused)
    assert live.control("GET", path)["notify_sign_type"] == "MD5"
