"""The merchant setting ``notify_sign_type``, every option, with two third-party clients,
unchanged, serving the merchant's notify_url over HTTP: wechatpy (PyPI) and tenpay (npm).

The platform delivers each notification to a merchant endpoint where the client verifies it;
the client's verdict decides the merchant's reply, and the platform records the attempt as
delivered or failed. The bodies are also checked with the independent reference signer.

What the two clients do (read from their sources; docs/behaviour.md "Fidelity decisions" §1):
wechatpy 1.8 ``WeChatPay.parse_payment_result`` always recomputes an MD5 signature; tenpay
2.1 ``middlewareForExpress('pay')`` uses the body's ``sign_type`` and MD5 when it is absent.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from wechatpy.exceptions import InvalidSignatureException  # type: ignore[import-untyped]
from wechatpy.pay import WeChatPay  # type: ignore[import-untyped]

from reference_wire import HMAC, MD5, v2_sign
from wxpay_local.codes import SignType
from wxpay_local.testing import Harness, MerchantInfo, wait_for

pytestmark = pytest.mark.api

NODE_DIR = Path(__file__).resolve().parents[1] / "node"
SUCCESS = b"<xml><return_code><![CDATA[SUCCESS]]></return_code></xml>"
SIGN_FAIL = (
    "<xml><return_code><![CDATA[FAIL]]></return_code><return_msg>签名错误</return_msg></xml>"
)

#: setting -> order's sign type -> (sign_type element, algorithm, wechatpy ok, tenpay ok)
EXPECTED: dict[str, dict[str, tuple[str | None, str, bool, bool]]] = {
    "MD5": {MD5: (None, MD5, True, True), HMAC: (None, MD5, True, True)},
    "ORDER": {MD5: (None, MD5, True, True), HMAC: ("HMAC-SHA256", HMAC, False, True)},
    "ORDER_NO_SIGN_TYPE": {MD5: (None, MD5, True, True), HMAC: (None, HMAC, False, False)},
}
ORDER_TYPES = {MD5: SignType.MD5, HMAC: SignType.HMAC_SHA256}


@dataclass
class Endpoint:
    url: str
    bodies: list[bytes] = field(default_factory=list)


@contextmanager
def wechatpy_endpoint(merchant: MerchantInfo) -> Iterator[Endpoint]:
    """A notify_url whose handler is wechatpy's ``parse_payment_result``."""
    client = WeChatPay(
        appid=merchant.apps["official_account"], api_key=merchant.api_key, mch_id=merchant.mch_id
    )
    endpoint = Endpoint("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            endpoint.bodies.append(body)
            try:
                client.parse_payment_result(body)
                answer = SUCCESS
            except InvalidSignatureException:
                answer = SIGN_FAIL.encode()
            self.send_response(200)
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    endpoint.url = f"http://127.0.0.1:{server.server_address[1]}/wxpay/notify"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield endpoint
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def tenpay_endpoint(merchant: MerchantInfo, log: Path) -> Iterator[Endpoint]:
    """A notify_url served by tenpay's Express middleware (tests/node/notify_server.js)."""
    node = shutil.which("node")
    if node is None or not (NODE_DIR / "node_modules" / "tenpay").is_dir():
        pytest.skip("node or tests/node/node_modules missing: run npm ci --prefix tests/node")
    args = [node, str(NODE_DIR / "notify_server.js"), merchant.apps["official_account"]]
    args += [merchant.mch_id, merchant.api_key, str(log)]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        port = json.loads(process.stdout.readline())["port"]
        endpoint = Endpoint(f"http://127.0.0.1:{port}/wxpay/notify")
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def _fields(body: bytes) -> dict[str, str]:
    return {child.tag: child.text or "" for child in ET.fromstring(body)}


def _order(live: Harness, merchant: MerchantInfo, sign_type: str, out_trade_no: str, url: str):
    payer = live.payer(balance=10_000)
    answer = live.client(merchant, sign_type=ORDER_TYPES[sign_type]).unifiedorder(
        body="Test shop-Coffee",
        out_trade_no=out_trade_no,
        total_fee=800,
        spbill_create_ip="203.0.113.10",
        notify_url=url,
        trade_type="NATIVE",
        product_id="latte",
        attach="store=SZ01",
    )
    assert live.pay(payer["payer_id"], code_url=answer["code_url"])["outcome"] == "SUCCESS"


@pytest.mark.parametrize("setting", [None, "MD5", "ORDER", "ORDER_NO_SIGN_TYPE"])
def test_every_notify_sign_type_as_wechatpy_and_tenpay_verify_it(
    live: Harness, tmp_path: Path, setting: str | None
) -> None:
    merchant = live.merchant()
    path = f"/_local/merchants/{merchant.mch_id}/config"
    if setting is None:  # the default a merchant gets without opening the settings
        assert live.control("GET", path)["notify_sign_type"] == "MD5"
        setting = "MD5"
    else:
        changed = live.control("POST", path, {"notify_sign_type": setting})
        assert changed["notify_sign_type"] == setting
    log = tmp_path / "tenpay.jsonl"
    with wechatpy_endpoint(merchant) as wx, tenpay_endpoint(merchant, log) as tp:
        for client, endpoint in (("wechatpy", wx), ("tenpay", tp)):
            for sign_type in (MD5, HMAC):
                _order(live, merchant, sign_type, f"{client}-{sign_type}", endpoint.url)

        def attempted() -> list[dict[str, Any]] | None:
            notes = live.notifications(merchant.mch_id)
            return notes if len(notes) == 4 and all(n["attempts"] for n in notes) else None

        notes = wait_for(attempted)
    tp.bodies = [json.loads(line)["body"].encode() for line in log.read_text().splitlines()]

    for note in notes:
        client, sign_type = note["out_trade_no"].split("-", 1)
        element, algorithm, wechatpy_ok, tenpay_ok = EXPECTED[setting][sign_type]
        expected_ok = wechatpy_ok if client == "wechatpy" else tenpay_ok
        first = note["attempts"][0]
        assert first["ok"] is expected_ok, (setting, client, sign_type, first)
        assert note["status"] == ("delivered" if expected_ok else "pending")

    for endpoint in (wx, tp):
        assert len(endpoint.bodies) >= 2
        for body in endpoint.bodies:
            fields = _fields(body)
            sign_type = fields["out_trade_no"].split("-", 1)[1]
            element, algorithm, _, _ = EXPECTED[setting][sign_type]
            assert fields.get("sign_type") == element, (sign_type, fields)
            assert fields["sign"] == v2_sign(fields, merchant.api_key, algorithm), sign_type
            assert len(fields["sign"]) == (32 if algorithm == MD5 else 64)


def test_an_unknown_notify_sign_type_is_refused(live: Harness) -> None:
    merchant = live.merchant()
    path = f"/_local/merchants/{merchant.mch_id}/config"
    refused = live.control("POST", path, {"notify_sign_type": "SHA1"}, expect=400)
    assert "notify_sign_type" in json.dumps(refused)
    assert live.control("GET", path)["notify_sign_type"] == "MD5"
