"""wechatpy as a merchant's unmodified client, talking mutual TLS to a live platform."""

from __future__ import annotations

from pathlib import Path

from wechatpy.pay import WeChatPay

from wxpay_local.testing import Harness
from wxpay_local.testing.harness import MerchantInfo


def mtls_wechatpy(h: Harness, merchant: MerchantInfo, folder: Path, timeout: int = 10) -> WeChatPay:
    """A WeChatPay client for ``merchant`` over the platform's HTTPS port, with the merchant's
    certificate written to ``folder`` and the platform CA trusted (not the machine's store)."""
    data = h.control("GET", f"/_local/merchants/{merchant.mch_id}/cert")
    cert, key = folder / "apiclient_cert.pem", folder / "apiclient_key.pem"
    cert.write_text(data["apiclient_cert.pem"])
    key.write_text(data["apiclient_key.pem"])
    client = WeChatPay(
        appid=merchant.apps["official_account"],
        api_key=merchant.api_key,
        mch_id=merchant.mch_id,
        mch_cert=str(cert),
        mch_key=str(key),
        timeout=timeout,
    )
    client.API_BASE_URL = h.tls_url + "/"
    client._http.trust_env = False
    client._http.verify = str(h.ca_file)
    return client
