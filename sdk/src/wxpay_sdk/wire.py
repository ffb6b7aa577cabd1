"""The v2 wire: flat ``<xml>`` documents and their MD5 / HMAC-SHA256 signatures (spec §1.3, §3).

Pure functions, no I/O. The platform's own codec lives in ``wxpay_local.wire``; this one is
separate on purpose, so the SDK installs without the server (the platform may share this one
later, never the other way round).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Literal

SignType = Literal["MD5", "HMAC-SHA256"]
MD5: SignType = "MD5"
HMAC_SHA256: SignType = "HMAC-SHA256"

Value = str | int
_NONCE_ALPHABET = string.ascii_letters + string.digits


class WireError(ValueError):
    """A body that is not a flat v2 XML document."""


def nonce(length: int = 32) -> str:
    """A fresh ``nonce_str`` (32 characters of [0-9a-zA-Z], as the official Java SDK sends)."""
    return "".join(secrets.choice(_NONCE_ALPHABET) for _ in range(length))


def canonical(fields: Mapping[str, Value]) -> str:
    """``k=v&…`` over every non-empty field but ``sign``, in byte order (spec §3.1 steps 1-4)."""
    items = sorted((k, str(v)) for k, v in fields.items() if k != "sign" and str(v) != "")
    return "&".join(f"{k}={v}" for k, v in items)


def sign(fields: Mapping[str, Value], key: str, sign_type: SignType = MD5) -> str:
    """The uppercase hex signature of fields under the API key (spec §3.1 steps 5-7)."""
    message = (canonical(fields) + "&key=" + key).encode()
    if sign_type == HMAC_SHA256:
        return hmac.new(key.encode(), message, hashlib.sha256).hexdigest().upper()
    if sign_type == MD5:
        return hashlib.md5(message).hexdigest().upper()
    raise ValueError(f"unknown sign_type {sign_type!r}")


def verify(fields: Mapping[str, Value], key: str, sign_type: SignType = MD5) -> bool:
    """Whether fields carry a valid ``sign`` (constant-time compare)."""
    given = str(fields.get("sign", ""))
    return bool(given) and hmac.compare_digest(
        given.encode(), sign(fields, key, sign_type).encode()
    )


def _cdata(value: str) -> str:
    # a value holding "]]>" is split over two CDATA sections, so any text survives the trip
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def encode(fields: Mapping[str, Value], root: str = "xml") -> bytes:
    """A flat XML document: integers bare, strings in CDATA (as the platform writes them)."""
    parts = [f"<{root}>"]
    for name, value in fields.items():
        text = str(value) if isinstance(value, int) else _cdata(value)
        parts.append(f"<{name}>{text}</{name}>")
    parts.append(f"</{root}>")
    return "".join(parts).encode()


def decode(body: bytes, root: str = "xml") -> dict[str, str]:
    """The fields of a flat XML document; DOCTYPEs are refused (no entity tricks, spec §1.3)."""
    if b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
        raise WireError("a DOCTYPE or ENTITY declaration is not allowed")
    try:
        element = ET.fromstring(body)
    except ET.ParseError as exc:
        raise WireError(f"not XML: {exc}") from None
    if element.tag != root:
        raise WireError(f"the root element is <{element.tag}>, not <{root}>")
    return {child.tag: (child.text or "") for child in element}
