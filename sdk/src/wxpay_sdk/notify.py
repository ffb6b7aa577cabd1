"""Notifications the platform POSTs to the merchant (refunds file §4, §5), framework-neutral:
give these functions the request body, answer with the bytes they return.

    try:
        paid = payment_notification(body, api_key)     # verified fields
    except WxPayError:
        return ack(False, "bad signature")              # the platform will retry
    ... record paid["out_trade_no"] once (notifications repeat) ...
    return ack()
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from wxpay_sdk import wire
from wxpay_sdk.core import _typed
from wxpay_sdk.errors import ProtocolError, SignatureError
from wxpay_sdk.wire import MD5, SignType


def payment_notification(
    body: bytes, api_key: str, *, expected_mch_id: str = ""
) -> dict[str, object]:
    """The fields of a payment notification whose sign verifies (the algorithm its
    ``sign_type`` names, else the one its sign's length says); amounts as int. Raises
    SignatureError / ProtocolError."""
    try:
        fields = wire.decode(body)
    except wire.WireError as exc:
        raise ProtocolError(f"notification: {exc}") from None
    # the algorithm: the notification's sign_type when present; otherwise the sign's length
    # tells (32 hex MD5, 64 HMAC-SHA256): a merchant setting may switch notifications to HMAC
    # without a sign_type element (refunds file §4.3, §4.8)
    default = "HMAC-SHA256" if len(fields.get("sign", "")) == 64 else MD5
    declared = fields.get("sign_type") or default
    if declared not in ("MD5", "HMAC-SHA256"):
        raise SignatureError(f"notification: unknown sign_type {declared!r}")
    sign_type: SignType = "HMAC-SHA256" if declared == "HMAC-SHA256" else MD5
    if not wire.verify(fields, api_key, sign_type):
        raise SignatureError("the notification's sign does not verify with our key")
    if expected_mch_id and fields.get("mch_id") != expected_mch_id:
        raise SignatureError(f"the notification is for mch_id {fields.get('mch_id')!r}")
    return _typed(fields)


def refund_notification(
    body: bytes, api_key: str, *, expected_mch_id: str = ""
) -> dict[str, object]:
    """The decrypted inner fields of a refund notification (``req_info``, AES-256-ECB under
    lowercase-hex MD5 of the key, PKCS#7, root ``<root>``; refunds file §5.3), plus the outer
    appid and mch_id. There is no sign: a ciphertext that decrypts proves the key."""
    try:
        outer = wire.decode(body)
    except wire.WireError as exc:
        raise ProtocolError(f"refund notification: {exc}") from None
    if outer.get("return_code") != "SUCCESS":
        raise ProtocolError(f"refund notification with return_code={outer.get('return_code')}")
    if expected_mch_id and outer.get("mch_id") != expected_mch_id:
        raise SignatureError(f"the refund notification is for mch_id {outer.get('mch_id')!r}")
    inner = wire.decode(decrypt_req_info(outer.get("req_info", ""), api_key), root="root")
    return _typed({"appid": outer.get("appid", ""), "mch_id": outer.get("mch_id", ""), **inner})


def decrypt_req_info(req_info: str, api_key: str) -> bytes:
    """The plaintext XML of ``req_info``; SignatureError when it was not made with our key."""
    key = hashlib.md5(api_key.encode()).hexdigest().encode()
    try:
        data = base64.b64decode(req_info, validate=True)
        decryptor = Cipher(algorithms.AES(key), modes.ECB()).decryptor()
        padded = decryptor.update(data) + decryptor.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        return unpadder.update(padded) + unpadder.finalize()
    except (ValueError, binascii.Error):
        raise SignatureError("req_info does not decrypt with our key") from None


def ack(success: bool = True, message: str = "OK") -> bytes:
    """The body to answer a notification with: SUCCESS stops the platform's retries, FAIL (or
    anything else) makes it deliver again later (refunds file §4.4)."""
    return wire.encode({"return_code": "SUCCESS" if success else "FAIL", "return_msg": message})


#: the Content-Type to answer with
ACK_CONTENT_TYPE = "text/xml; charset=utf-8"
