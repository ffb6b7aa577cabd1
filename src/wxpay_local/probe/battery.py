"""The probe's battery: what it sends, and what a correct receiver does with each.

Every notification is built from a real paid order of the merchant, with the platform's
own rendering (dispatch.delivery), then altered the one way the check is about.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field
from typing import Literal

from wxpay_local.codes import SignType
from wxpay_local.domain.model import Order
from wxpay_local.domain.notify import notify_signing, payment_fields
from wxpay_local.wire import signing
from wxpay_local.wire.xml import encode

Expect = Literal["accept", "refuse", "harmless"]

#: The oversized body: far beyond any real notification (they are under 2 KiB), small enough
#: not to hurt the probing machine.
OVERSIZED_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Case:
    """One check. ``bodies`` are sent one after another, or all at once when ``together``."""

    name: str
    title: str
    expect: Expect
    bodies: tuple[bytes, ...]
    together: bool = False
    #: Why it matters, and what to fix when it fails (also in docs/verify-your-integration.md).
    fix: str = ""
    canary: str = ""  # the token an XXE case points at
    skipped: str = ""  # why the case did not run (no order of the kind it needs)


@dataclass(frozen=True, slots=True)
class Material:
    """What the battery is made from: the merchant's key, its orders, the canary's address."""

    mch_id: str
    api_key: str
    order: Order
    notify_sign_type: str
    canary_url: str  # ends with the token, e.g. http://127.0.0.1:8700/probe-canary/<token>
    canary_token: str
    hmac_order: Order | None = None
    unknown_out_trade_no: str = field(default_factory=lambda: "PROBE" + secrets.token_hex(8))


def _fields(order: Order, setting: str) -> tuple[dict[str, str | int], SignType]:
    sign_type, element = notify_signing(setting, order.sign_type)
    return payment_fields(order) | element, sign_type


def _signed(fields: dict[str, str | int], key: str, sign_type: SignType) -> bytes:
    signed = dict(fields)
    signed["sign"] = signing.sign(fields, key, sign_type)
    return encode(dict(sorted(signed.items())))


def genuine(order: Order, key: str, setting: str) -> bytes:
    fields, sign_type = _fields(order, setting)
    return _signed(fields, key, sign_type)


def _with_fee(fields: dict[str, str | int], fee: int) -> dict[str, str | int]:
    return fields | {"total_fee": fee, "cash_fee": fee}


def build(m: Material) -> list[Case]:
    key, order = m.api_key, m.order
    fields, sign_type = _fields(order, m.notify_sign_type)
    real = _signed(fields, key, sign_type)
    sign = signing.sign(fields, key, sign_type)
    other_fee = order.total_fee + 1
    cases = [
        Case(
            "genuine",
            "a genuine notification",
            "accept",
            (real,),
            fix="Verify with the API key and the sign_type the order used; answer "
            "<xml><return_code>SUCCESS</return_code></xml> with HTTP 200.",
        ),
        Case(
            "duplicate",
            "the same notification again",
            "accept",
            (real,),
            fix="A notification you already handled is answered SUCCESS again (and not "
            "fulfilled twice): the platform retries until it sees SUCCESS.",
        ),
        Case(
            "concurrent",
            "the same notification twice at once",
            "accept",
            (real, real),
            together=True,
            fix="Two deliveries of one notification may arrive together: lock the order row "
            "(or use a unique constraint) so both answer SUCCESS and one fulfils.",
        ),
        _hmac_case(m),
        Case(
            "forged_sign",
            "a forged signature",
            "refuse",
            (encode(dict(sorted((fields | {"sign": secrets.token_hex(16).upper()}).items()))),),
            fix="Check the sign before anything else; answer FAIL when it does not match.",
        ),
        Case(
            "other_key",
            "signed with another key",
            "refuse",
            (_signed(fields, secrets.token_hex(16), sign_type),),
            fix="Verify with your own merchant's API key, never one taken from the request.",
        ),
        Case(
            "tampered",
            "total_fee changed under the original signature",
            "refuse",
            (encode(dict(sorted((_with_fee(fields, other_fee) | {"sign": sign}).items()))),),
            fix="Recompute the signature over every field received (except sign) and compare.",
        ),
        Case(
            "wrong_total_fee",
            "signed, but total_fee differs from the order",
            "refuse",
            (_signed(_with_fee(fields, other_fee), key, sign_type),),
            fix="Compare total_fee with the amount of your order before fulfilling it.",
        ),
        Case(
            "unknown_order",
            "signed, for an out_trade_no you never created",
            "refuse",
            (_signed(fields | {"out_trade_no": m.unknown_out_trade_no}, key, sign_type),),
            fix="Look the order up by out_trade_no; answer FAIL when there is none.",
        ),
        Case(
            "bad_req_info",
            "a refund notification whose req_info does not decrypt",
            "refuse",
            (_refund_envelope(m, base64.b64encode(secrets.token_bytes(48)).decode()),),
            fix="Decrypt req_info (AES-256-ECB, key = MD5 of the API key) and answer FAIL "
            "when it does not decrypt or unpad.",
        ),
        Case(
            "xxe",
            "an external entity pointing at the platform's canary",
            "harmless",
            (_xxe(fields, sign, m.canary_url),),
            canary=m.canary_token,
            fix="Your XML parser resolves external entities (the 2018 WeChat Pay SDK XXE): "
            "forbid DOCTYPE, e.g. defusedxml, or lxml with resolve_entities=False, "
            "no_network=True.",
        ),
        Case(
            "entity_bomb",
            "an entity-expansion bomb",
            "harmless",
            (_bomb(),),
            fix="Refuse documents with a DOCTYPE (defusedxml does) instead of expanding them.",
        ),
        Case(
            "oversized",
            f"an oversized body ({OVERSIZED_BYTES // 1024 // 1024} MiB)",
            "harmless",
            (_oversized(),),
            fix="Cap the request body (real notifications are under 2 KiB) and refuse more.",
        ),
        Case(
            "invalid_utf8",
            "a body that is not UTF-8",
            "harmless",
            (real.replace(b"<xml>", b"<xml><attach>\xff\xfe\xc0</attach>", 1),),
            fix="Treat an undecodable body as a bad request (FAIL or 4xx), not a crash.",
        ),
    ]
    return cases


def _hmac_case(m: Material) -> Case:
    title = "HMAC-SHA256, for an order placed with it"
    fix = "Verify with the algorithm the order was placed with (sign_type HMAC-SHA256)."
    if m.hmac_order is None:
        return Case(
            "hmac",
            title,
            "accept",
            (),
            fix=fix,
            skipped="the merchant has no paid order placed with HMAC-SHA256",
        )
    return Case(
        "hmac", title, "accept", (genuine(m.hmac_order, m.api_key, m.notify_sign_type),), fix=fix
    )


def _refund_envelope(m: Material, req_info: str) -> bytes:
    return (
        "<xml>\n<return_code>SUCCESS</return_code>\n"
        f"<appid><![CDATA[{m.order.appid}]]></appid>\n"
        f"<mch_id><![CDATA[{m.mch_id}]]></mch_id>\n"
        f"<nonce_str><![CDATA[{secrets.token_hex(16)}]]></nonce_str>\n"
        f"<req_info><![CDATA[{req_info}]]></req_info>\n</xml>"
    ).encode()


def _xxe(fields: dict[str, str | int], sign: str, canary_url: str) -> bytes:
    body = encode(dict(sorted((fields | {"sign": sign}).items()))).decode()
    doctype = f'<?xml version="1.0"?>\n<!DOCTYPE xml [<!ENTITY probe SYSTEM "{canary_url}">]>\n'
    return (doctype + body.replace("<xml>", "<xml>\n<attach>&probe;</attach>", 1)).encode()


def _bomb() -> bytes:
    # The classic billion laughs: ten levels of ten, 10^9 copies once expanded.
    lines = ['<!ENTITY l0 "lol">']
    lines += [f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10)]
    return (
        '<?xml version="1.0"?>\n<!DOCTYPE xml [' + "\n".join(lines) + "]>\n"
        "<xml><return_code>SUCCESS</return_code><attach>&l9;</attach></xml>"
    ).encode()


def _oversized() -> bytes:
    head = b"<xml><return_code>SUCCESS</return_code><attach>"
    tail = b"</attach></xml>"
    return head + b"A" * (OVERSIZED_BYTES - len(head) - len(tail)) + tail
