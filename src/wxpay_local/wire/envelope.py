"""The three answers of API v2, rendered by one encoder (spec §1.4).

* a Fault: ``return_code=FAIL`` + ``return_msg``, unsigned;
* a rejection: ``return_code=SUCCESS``, ``result_code=FAIL``, ``err_code``, ``err_code_des``;
* a success: ``result_code=SUCCESS`` + the endpoint's business fields.

Both signed answers echo appid, mch_id and device_info, carry a fresh nonce_str and are signed with
the request's sign type; no ``sign_type`` element is added.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from wxpay_local.codes import Rejected, SignType
from wxpay_local.wire import signing
from wxpay_local.wire.xml import encode

_ECHOED = ("appid", "mch_id", "device_info")
#: The fields written before nonce_str and sign.
_LEADING = frozenset(("return_code", "return_msg", *_ECHOED))


def fault(return_msg: str, error_code: str | None = None) -> bytes:
    if error_code is None:
        return encode({"return_code": "FAIL", "return_msg": return_msg})
    # The bill downloads' layout: one element per line, error_code (not err_code) last.
    return (
        f"<xml><return_code><![CDATA[FAIL]]></return_code>\n"
        f"<return_msg><![CDATA[{return_msg}]]></return_msg>\n"
        f"<error_code><![CDATA[{error_code}]]></error_code>\n</xml>"
    ).encode()


def signed(
    request: Mapping[str, str],
    outcome: Mapping[str, str | int] | Rejected,
    key: str,
    sign_type: SignType,
    nonce: str,
    *,
    int_fields: Iterable[str] = (),
) -> bytes:
    """A signed ``return_code=SUCCESS`` answer for a request that passed the protocol checks."""
    fields: dict[str, str | int] = {"return_code": "SUCCESS", "return_msg": "OK"}
    for name in _ECHOED:  # echoed trimmed: clients trim before verifying (spec README)
        if request.get(name, "").strip():
            fields[name] = request[name].strip()
    fields["nonce_str"] = nonce
    if isinstance(outcome, Rejected):
        fields["result_code"] = "FAIL"
        fields["err_code"] = str(outcome.err_code)
        fields["err_code_des"] = outcome.err_code_des
        fields.update(outcome.fields)
    else:
        fields["result_code"] = "SUCCESS"
        for name, value in outcome.items():
            if value != "" and value is not None:
                fields[name] = value
    fields["sign"] = signing.sign(fields, key, sign_type)
    # Put sign right after nonce_str, where the platform writes it.
    ordered = {k: v for k, v in fields.items() if k in _LEADING}
    ordered["nonce_str"] = fields["nonce_str"]
    ordered["sign"] = fields["sign"]
    ordered.update((k, v) for k, v in fields.items() if k not in ordered)
    return encode(ordered, bare=int_fields)


def unsigned(fields: Mapping[str, str | int]) -> bytes:
    """An answer that the platform does not sign (getsignkey, report)."""
    return encode({"return_code": "SUCCESS", "return_msg": "OK", **fields})
