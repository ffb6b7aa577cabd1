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
    # Built in its final order as it goes: the leading fields (return_code, return_msg, the
    # echoed ones, and any of those the outcome sets), then nonce_str and sign, then the rest.
    head: dict[str, str | int] = {"return_code": "SUCCESS", "return_msg": "OK"}
    for name in _ECHOED:  # echoed trimmed: clients trim before verifying (spec README)
        echoed = request.get(name, "")
        if echoed:
            echoed = echoed.strip()
            if echoed:
                head[name] = echoed
    tail: dict[str, str | int] = {}
    nonce_field: str | int = nonce
    if isinstance(outcome, Rejected):
        tail["result_code"] = "FAIL"
        tail["err_code"] = str(outcome.err_code)
        tail["err_code_des"] = outcome.err_code_des
        given: Iterable[tuple[str, str | int]] = outcome.fields.items()
    else:
        tail["result_code"] = "SUCCESS"
        given = ((k, v) for k, v in outcome.items() if v != "" and v is not None)
    for name, value in given:
        if name in _LEADING:
            head[name] = value
        elif name == "nonce_str":
            nonce_field = value
        elif name != "sign":  # the sign is ours to write
            tail[name] = value
    signed_fields = {**head, "nonce_str": nonce_field, **tail}
    head["nonce_str"] = nonce_field
    head["sign"] = signing.sign(signed_fields, key, sign_type)
    head.update(tail)
    return encode(head, bare=int_fields)


def unsigned(fields: Mapping[str, str | int]) -> bytes:
    """An answer that the platform does not sign (getsignkey, report)."""
    return encode({"return_code": "SUCCESS", "return_msg": "OK", **fields})
