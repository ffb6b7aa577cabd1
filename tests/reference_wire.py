"""The wire as the spec writes it, independently of the platform's own codec and signer.

Tests that pin the protocol build requests and check answers with these, so that a bug in
``wxpay_local.wire`` cannot make them pass.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

MD5 = "MD5"
HMAC = "HMAC-SHA256"


def canonical(params: Mapping[str, object]) -> str:
    """``k=v&…`` over every non-empty field but sign, in byte order (spec §3.1)."""
    items = sorted(
        (k, str(v)) for k, v in params.items() if k != "sign" and v is not None and str(v) != ""
    )
    return "&".join(f"{k}={v}" for k, v in items)


def v2_sign(params: Mapping[str, object], api_key: str, sign_type: str = MD5) -> str:
    """The spec's reference signature (§3.3)."""
    s = canonical(params) + "&key=" + api_key
    if sign_type == HMAC:
        return hmac.new(api_key.encode(), s.encode(), hashlib.sha256).hexdigest().upper()
    return hashlib.md5(s.encode()).hexdigest().upper()


def to_xml(fields: Mapping[str, object]) -> bytes:
    """Each value in CDATA; a ``]]>`` inside a value splits its section (XML 1.0 §2.7)."""
    inner = "".join(
        f"<{k}><![CDATA[{str(v).replace(']]>', ']]]]><![CDATA[>')}]]></{k}>"
        for k, v in fields.items()
    )
    return f"<xml>{inner}</xml>".encode()


def signed(fields: Mapping[str, object], key: str, sign_type: str = MD5) -> dict[str, object]:
    """fields plus their sign (sign_type must already be among fields when it is sent)."""
    return {**fields, "sign": v2_sign(fields, key, sign_type)}


def from_xml(content: bytes) -> dict[str, str]:
    """A flat ``<xml>`` answer read with the standard library: each child a field."""
    import xml.etree.ElementTree as ET

    root = ET.fromstring(content)
    assert root.tag == "xml", content
    return {child.tag: child.text or "" for child in root}


def trimmed_verify(fields: Mapping[str, str], api_key: str, sign_type: str = MD5) -> bool:
    """How a trimming client checks an answer: every value stripped, then the signature."""
    return fields.get("sign") == v2_sign(
        {k: v.strip() for k, v in fields.items()}, api_key, sign_type
    )


def verify(fields: Mapping[str, str], api_key: str, sign_type: str = MD5) -> bool:
    """Whether fields carry the spec's signature of themselves under api_key."""
    return fields.get("sign") == v2_sign(fields, api_key, sign_type)
