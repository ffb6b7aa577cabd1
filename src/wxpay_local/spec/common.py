"""Fields every v2 request carries (spec §1.7)."""

from __future__ import annotations

from wxpay_local.spec.endpoint import Field
from wxpay_local.wire.fields import Choice, Str

OUT_TRADE_NO = r"[0-9A-Za-z_\-|*@]{1,32}"

APPID = Field("appid", Str(32), required=True, doc="App ID bound to the merchant")
MCH_ID = Field("mch_id", Str(32), required=True, doc="Merchant number")
NONCE_STR = Field("nonce_str", Str(32), required=True, doc="Random string")
SIGN = Field("sign", Str(64), required=True, doc="Signature (§3)")
SIGN_TYPE = Field(
    "sign_type", Choice(32, ("MD5", "HMAC-SHA256")), doc="MD5 (default) or HMAC-SHA256"
)

COMMON = (APPID, MCH_ID, NONCE_STR, SIGN, SIGN_TYPE)
