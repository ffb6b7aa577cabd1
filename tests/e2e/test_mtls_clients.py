"""Third-party clients, unchanged, calling reverse over mutual TLS (spec §1.5, §4.5).

* wechatpy 1.8 hands ``mch_cert``/``mch_key`` to requests as ``cert=(cert, key)`` for every
  call; its ``requests.Session`` (``client._http``) verifies the server with ``session.verify``,
  which we point at the platform CA (``trust_env`` off, so REQUESTS_CA_BUNDLE cannot override
  it and no proxy is used). ``API_BASE_URL`` on the instance points it at the HTTPS listener.
* node ``tenpay`` (tests/node/reverse.js) loads ``apiclient_cert.p12`` as ``pfx`` with the
  mch_id as passphrase, as it does against the real platform; the CA is trusted through
  NODE_EXTRA_CA_CERTS.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import cast

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from wechatpy.exceptions import WeChatPayException  # type: ignore[import-untyped]
from wechatpy.pay import WeChatPay  # type: ignore[import-untyped]

from wxpay_local.testing import Harness, MerchantInfo

pytestmark = pytest.mark.e2e

CLIENT_IP = "203.0.113.10"
NODE_DIR = Path(__file__).resolve().parents[1] / "node"
PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


def _pem_files(live: Harness, mch_id: str, folder: Path) -> tuple[str, str]:
    data = live.control("GET", f"/_local/merchants/{mch_id}/cert")
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / "apiclient_cert.pem", folder / "apiclient_key.pem"
    cert.write_text(data["apiclient_cert.pem"])
    key.write_text(data["apiclient_key.pem"])
    return str(cert), str(key)


def _p12_file(live: Harness, mch_id: str, folder: Path) -> Path:
    data = live.control("GET", f"/_local/merchants/{mch_id}/cert")
    folder.mkdir(parents=True, exist_ok=True)
    p12 = folder / "apiclient_cert.p12"
    p12.write_bytes(base64.b64decode(data["apiclient_cert.p12"]))
    return p12


WeChatPayFactory = Callable[[MerchantInfo, str, str], WeChatPay]


@pytest.fixture
def wechatpy(live: Harness) -> Iterator[WeChatPayFactory]:
    """wechatpy clients on the HTTPS listener; their keep-alive sessions closed at the end."""
    made: list[WeChatPay] = []

    def make(merchant: MerchantInfo, cert: str, key: str) -> WeChatPay:
        client = WeChatPay(
            appid=merchant.apps["official_account"],
            api_key=merchant.api_key,
            mch_id=merchant.mch_id,
            mch_cert=cert,
            mch_key=key,
            timeout=10,
        )
        client.API_BASE_URL = live.tls_url + "/"
        client._http.trust_env = False
        client._http.verify = str(live.ca_file)
        made.append(client)
        return client

    yield make
    for client in made:
        client._http.close()


def _micropay(live: Harness, client: WeChatPay, out_trade_no: str) -> dict[str, str]:
    payer = live.payer(balance=10_000)
    code = live.control("POST", f"/_local/payers/{payer['payer_id']}/codes", {})["auth_code"]
    paid = client.micropay.create(
        body="Test shop-Coffee",
        total_fee=1800,
        auth_code=code,
        client_ip=CLIENT_IP,
        out_trade_no=out_trade_no,
    )
    assert paid["result_code"] == "SUCCESS", paid
    return dict(paid)


def test_wechatpy_reverse_with_the_merchants_certificate(
    live: Harness, wechatpy: WeChatPayFactory, tmp_path: Path
) -> None:
    merchant = live.merchant()
    cert, key = _pem_files(live, merchant.mch_id, tmp_path / "cert")
    client = wechatpy(merchant, cert, key)
    paid = _micropay(live, client, "WCP-REV-1")

    reversed_ = client.order.reverse(out_trade_no="WCP-REV-1")
    assert reversed_["return_code"] == "SUCCESS" and reversed_["result_code"] == "SUCCESS"
    assert reversed_["recall"] == "N"
    assert client.check_signature(dict(reversed_))
    query = client.order.query(transaction_id=paid["transaction_id"])
    assert query["trade_state"] == "REVOKED"


def test_wechatpy_reverse_with_another_merchants_certificate_fails(
    live: Harness, wechatpy: WeChatPayFactory, tmp_path: Path
) -> None:
    merchant = live.merchant()
    other = live.merchant(name="Other shop")
    cert, key = _pem_files(live, other.mch_id, tmp_path / "other")
    client = wechatpy(merchant, cert, key)
    _micropay(live, client, "WCP-REV-2")

    try:
        client.order.reverse(out_trade_no="WCP-REV-2")
    except WeChatPayException as exc:
        # the exception keeps the response, whose socket file would outlive the session
        exc.response.close()
        refused = (exc.return_code, exc.return_msg)
    else:
        pytest.fail("wechatpy did not raise for another merchant's certificate")
    assert refused == ("FAIL", "证书错误")
    assert client.order.query(out_trade_no="WCP-REV-2")["trade_state"] == "SUCCESS"


def _tenpay(
    live: Harness, merchant: MerchantInfo, p12: Path, out_trade_no: str
) -> tuple[int, dict[str, object]]:
    node = shutil.which("node")
    if node is None or not (NODE_DIR / "node_modules" / "tenpay").is_dir():
        pytest.skip("node or tests/node/node_modules missing: run npm ci --prefix tests/node")
    env = {k: v for k, v in os.environ.items() if k.lower() not in PROXY_VARS}
    env["NODE_EXTRA_CA_CERTS"] = str(live.ca_file)
    done = subprocess.run(
        [
            node,
            str(NODE_DIR / "reverse.js"),
            live.tls_url,
            merchant.apps["official_account"],
            merchant.mch_id,
            merchant.api_key,
            str(p12),
            out_trade_no,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    assert lines, f"no output from reverse.js (exit {done.returncode}): {done.stderr}"
    result: dict[str, object] = json.loads(lines[-1])
    return done.returncode, result


def test_node_tenpay_reverse_with_the_p12(
    live: Harness, wechatpy: WeChatPayFactory, tmp_path: Path
) -> None:
    merchant = live.merchant()
    cert, key = _pem_files(live, merchant.mch_id, tmp_path / "pem")
    paid = _micropay(live, wechatpy(merchant, cert, key), "TENPAY-REV-1")
    p12 = _p12_file(live, merchant.mch_id, tmp_path / "p12")

    code, answer = _tenpay(live, merchant, p12, "TENPAY-REV-1")
    assert code == 0 and answer["ok"] is True, answer
    result = answer["result"]
    assert isinstance(result, dict)
    # tenpay itself checked return_code, result_code, appid, mch_id and the answer's sign
    assert result["result_code"] == "SUCCESS" and result["recall"] == "N", result
    query = live.client(merchant).orderquery(transaction_id=paid["transaction_id"])
    assert query["trade_state"] == "REVOKED"


def test_node_tenpay_reverse_with_another_merchants_p12_fails(
    live: Harness, wechatpy: WeChatPayFactory, tmp_path: Path
) -> None:
    merchant = live.merchant()
    other = live.merchant(name="Other shop")
    cert, key = _pem_files(live, merchant.mch_id, tmp_path / "pem")
    _micropay(live, wechatpy(merchant, cert, key), "TENPAY-REV-2")
    theirs = _p12_file(live, other.mch_id, tmp_path / "other")
    # tenpay always opens the pfx with its own mch_id: hand it the other merchant's key and
    # certificate re-wrapped under that passphrase, so the server is the one to refuse them
    key, cert, extra = pkcs12.load_key_and_certificates(theirs.read_bytes(), other.mch_id.encode())
    assert key is not None and cert is not None
    rewrapped = tmp_path / "rewrapped.p12"
    rewrapped.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"apiclient_cert",
            cast(pkcs12.PKCS12PrivateKeyTypes, key),
            cert,
            extra,
            serialization.BestAvailableEncryption(merchant.mch_id.encode()),
        )
    )

    code, answer = _tenpay(live, merchant, rewrapped, "TENPAY-REV-2")
    assert code == 1 and answer == {"ok": False, "error": "证书错误"}, answer
    assert live.client(merchant).orderquery(out_trade_no="TENPAY-REV-2")["trade_state"] == (
        "SUCCESS"
    )
