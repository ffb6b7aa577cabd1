"""Native mode 1 for merchants (spec §6.3): the signed static product URL and the scan callback.

url = bizpayurl(appid="wx…", mch_id="1900000109", product_id="P0001", api_key="…")
# render url as a QR code; when a payer scans it the platform POSTs to your callback:
fields = verify_scan(body, api_key)           # raises BadSignature
answer = scan_reply(api_key, appid, mch_id, prepay_id)   # XML bytes to answer with
"""

from __future__ import annotations

import secrets
import time
from urllib.parse import urlencode

from wxpay_local.codes import SignType
from wxpay_local.sdk.client import BadSignature
from wxpay_local.wire import signing
from wxpay_local.wire.xml import decode, encode


def bizpayurl(
    *,
    appid: str,
    mch_id: str,
    product_id: str,
    api_key: str,
    time_stamp: int | str | None = None,
    nonce_str: str | None = None,
) -> str:
    """The ``weixin://wxpay/bizpayurl?sign=…`` URL of a product, signed MD5 over its five
    fields (the raw product_id is signed; the URL carries it percent-encoded)."""
    fields = {
        "appid": appid,
        "mch_id": mch_id,
        "nonce_str": nonce_str or secrets.token_hex(16),
        "product_id": product_id,
        "time_stamp": str(int(time.time()) if time_stamp is None else time_stamp),
    }
    sign = signing.sign(fields, api_key, SignType.MD5)
    return "weixin://wxpay/bizpayurl?" + urlencode({"sign": sign, **fields})


def verify_scan(body: bytes, api_key: str) -> dict[str, str]:
    """The fields of the platform's scan callback (appid, openid, product_id, …), verified."""
    fields = decode(body)
    if not signing.verify(fields, api_key, SignType.MD5):
        raise BadSignature("the scan callback's sign does not verify")
    return fields


def scan_reply(
    api_key: str,
    appid: str,
    mch_id: str,
    prepay_id: str = "",
    *,
    err_code_des: str = "",
) -> bytes:
    """The signed answer to a scan callback: the prepay_id to pay, or (with err_code_des) a
    refusal the payer sees."""
    fields: dict[str, str | int] = {
        "return_code": "SUCCESS",
        "appid": appid,
        "mch_id": mch_id,
        "nonce_str": secrets.token_hex(16),
        "prepay_id": prepay_id,
        "result_code": "FAIL" if err_code_des else "SUCCESS",
    }
    if err_code_des:
        fields["err_code_des"] = err_code_des
    fields["sign"] = signing.sign(fields, api_key, SignType.MD5)
    return encode(fields)
