"""The sandbox key endpoint (spec §1.6)."""

from __future__ import annotations

from wxpay_local.codes import SignType
from wxpay_local.spec.common import MCH_ID, NONCE_STR, SIGN
from wxpay_local.spec.endpoint import Answer, Endpoint

GETSIGNKEY = Endpoint(
    name="getsignkey",
    path="/pay/getsignkey",
    title="沙箱密钥 (issue the sandbox signing key; sandbox prefix only)",
    request=(MCH_ID, NONCE_STR, SIGN),
    signed_response=False,
    answers=(Answer("issued (unsigned)", ("mch_id", "sandbox_signkey")),),
    sign_types=(SignType.MD5,),
)
