"""The v2 signature (spec §3): canonical string, MD5 and HMAC-SHA256, constant-time verification.

Imports: codes, stdlib.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from wxpay_local import secure
from wxpay_local.codes import SignType


def canonical_string(fields: Mapping[str, object]) -> str:
    """``k=v&...`` over every non-empty field but ``sign``, sorted by byte order (no key yet)."""
    parts = []
    for name in sorted(fields):  # names are unique: sorting them sorts the pairs
        if name == "sign":
            continue
        value = fields[name]
        if value is None:
            continue
        text = value if value.__class__ is str else str(value)
        if text != "":
            parts.append(f"{name}={text}")
    return "&".join(parts)


def sign(fields: Mapping[str, object], key: str, sign_type: SignType = SignType.MD5) -> str:
    """The uppercase hex signature of fields under the merchant's API key."""
    message = (canonical_string(fields) + "&key=" + key).encode("utf-8")
    if sign_type is SignType.HMAC_SHA256:
        return hmac.new(key.encode("utf-8"), message, hashlib.sha256).hexdigest().upper()
    return hashlib.md5(message).hexdigest().upper()


def verify(fields: Mapping[str, str], key: str, sign_type: SignType = SignType.MD5) -> bool:
    """Whether fields carry a correct ``sign``, compared in constant time."""
    expected = sign(fields, key, sign_type)
    return secure.equal(fields.get("sign", ""), expected)


@dataclass(frozen=True, slots=True)
class Mismatch:
    """Why a signature did not match, for the request journal; the key is never shown."""

    algorithm: str
    signed_string: str
    fields: tuple[str, ...]
    expected: str
    received: str
    hints: tuple[str, ...]


def explain_mismatch(fields: Mapping[str, str], key: str, sign_type: SignType) -> Mismatch:
    """Describe what the server signed and the likely reasons the client's sign differs."""
    masked = key[:3] + "*" * (len(key) - 6) + key[-3:] if len(key) > 12 else "*" * len(key)
    taking_part = tuple(sorted(k for k, v in fields.items() if k != "sign" and v != ""))
    expected = sign(fields, key, sign_type)
    received = fields.get("sign", "")
    hints: list[str] = []
    if received.lower() == expected.lower() and received != expected:
        hints.append("the sign is correct but not uppercase hex")
    if len(received) == 64 and sign_type is SignType.MD5:
        hints.append("a 64-character sign looks like HMAC-SHA256, but sign_type is MD5 or absent")
    if len(received) == 32 and sign_type is SignType.HMAC_SHA256:
        hints.append("a 32-character sign looks like MD5, but sign_type is HMAC-SHA256")
    spaced = [k for k in taking_part if fields[k] != fields[k].strip()]
    if spaced:
        hints.append(
            "values with leading/trailing whitespace are signed as sent: " + ", ".join(spaced)
        )
    empty = sorted(k for k, v in fields.items() if v == "" and k != "sign")
    if empty:
        hints.append("empty fields take no part in the signature: " + ", ".join(empty))
    other = SignType.HMAC_SHA256 if sign_type is SignType.MD5 else SignType.MD5
    if secure.equal(received, sign(fields, key, other)):
        hints.append(f"the sign matches {other}: send sign_type={other} or sign with {sign_type}")
    return Mismatch(
        algorithm=str(sign_type),
        signed_string=canonical_string(fields) + "&key=" + masked,
        fields=taking_part,
        expected=expected,
        received=received,
        hints=tuple(hints),
    )
