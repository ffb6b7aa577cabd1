"""A small merchant SDK for the v2 API: sign, send, verify the answer, raise on errors.

    from wxpay_local.sdk import Client
    client = Client("http://127.0.0.1:8700", mch_id="1900000109", api_key="…", appid="wx…")
    answer = client.unifiedorder(body="Latte", out_trade_no="T1", total_fee=1800, …)

Native mode 1: ``bizpayurl`` signs a static product URL, ``verify_scan`` and ``scan_reply``
read and answer the platform's scan callback (``sdk/native.py``).

Error tree::

    WxPayError
    ├── FaultError      return_code=FAIL (return_msg)
    ├── RejectedError   result_code=FAIL (err_code, err_code_des)
    └── BadSignature    the answer's sign does not verify
"""

from __future__ import annotations

from wxpay_local.sdk.client import BadSignature, Client, FaultError, RejectedError, WxPayError
from wxpay_local.sdk.native import bizpayurl, scan_reply, verify_scan

__all__ = [
    "BadSignature",
    "Client",
    "FaultError",
    "RejectedError",
    "WxPayError",
    "bizpayurl",
    "scan_reply",
    "verify_scan",
]
