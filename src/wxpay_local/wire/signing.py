"""The v2 signature (spec §3): canonical string, MD5 and HMAC-SHA256, constant-time verification."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import quote, quote_plus

from wxpay_local import secure
from wxpay_local.codes import SignType


def canonical_string(fields: Mapping[str, object]) -> str:
    """``k=v&...`` over every non-empty field but ``sign``, sorted by byte order (no key yet)."""
    parts = []
    # Names are unique, so sorting the pairs sorts by name and never compares two values.
    for name, value in sorted(fields.items()):
        if value.__class__ is not str:
            if value is None:
                continue
            value = str(value)
        if value != "" and name != "sign":
            parts.append(f"{name}={value}")
    return "&".join(parts)


def sign(fields: Mapping[str, object], key: str, sign_type: SignType = SignType.MD5) -> str:
    """The uppercase hex signature of fields under the merchant's API key."""
    return _digest(canonical_string(fields), key, sign_type)


def _digest(canonical: str, key: str, sign_type: SignType, encoding: str = "utf-8") -> str:
    message = (canonical + "&key=" + key).encode(encoding)
    if sign_type is SignType.HMAC_SHA256:
        return hmac.new(key.encode(encoding), message, hashlib.sha256).hexdigest().upper()
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
    #: The wrong construction that reproduces the received sign exactly, or "" when none does
    #: (then nothing is claimed: the hints are only hints).
    cause: str = ""


@dataclass(frozen=True, slots=True)
class AltKey:
    """A key the client may have signed with instead, and the sentence naming it (worded by
    the caller, which knows what the key is; the key itself is never put into words)."""

    key: str
    cause: str = field(default="")


LOWERCASE = "the sign is correct but not uppercase hex"
SIGN_INCLUDED = (
    "the sign field itself was included in the string signed (sign=… among the fields): "
    "remove sign before signing"
)
EMPTY_INCLUDED = (
    "empty fields were included in the string signed (k= with no value): leave them out"
)
GBK = "the string was encoded as GBK before hashing: encode it as UTF-8"
KEY_WHITESPACE = (
    "the API key has whitespace around it (a trailing newline or space from a file or "
    "an environment variable): strip it"
)


def _url_encoded(fields: Mapping[str, str], encode: Callable[[str], str]) -> dict[str, str]:
    return {k: (v if k == "sign" else encode(v)) for k, v in fields.items()}


def find_cause(
    fields: Mapping[str, str],
    key: str,
    sign_type: SignType,
    alt_keys: Iterable[AltKey] = (),
) -> str:
    """Try the known wrong-but-common constructions and name the one that reproduces the
    received sign exactly; "" when none does. Only a reproduction counts, so a sign that is
    simply wrong never gets a cause. Each try is one hash: cheap, and only on a failure."""
    received = fields.get("sign", "")
    if not received:
        return ""
    base = canonical_string(fields)
    expected = _digest(base, key, sign_type)
    if received == expected:
        return ""
    if received == expected.lower():
        return LOWERCASE
    other = SignType.HMAC_SHA256 if sign_type is SignType.MD5 else SignType.MD5
    url_encoded = "values were URL-encoded before signing: sign the values as sent, not encoded"
    #: (cause, string signed, key, algorithm, text encoding), tried in this order.
    tries: list[tuple[str, str, str, SignType, str]] = [
        (f"the sign matches {other}: send sign_type={other} or sign with {sign_type}",
         base, key, other, "utf-8"),
        (SIGN_INCLUDED, _with_sign(fields, expected), key, sign_type, "utf-8"),
        (EMPTY_INCLUDED, _with_empty(fields), key, sign_type, "utf-8"),
    ]  # fmt: skip
    for encode in (lambda v: quote(v, safe=""), quote_plus, quote):
        encoded = _url_encoded(fields, encode)
        if encoded != dict(fields):
            tries.append((url_encoded, canonical_string(encoded), key, sign_type, "utf-8"))
    if not base.isascii():
        tries.append((GBK, base, key, sign_type, "gbk"))
    for pad in (" ", "\n", "\r\n", "\t"):
        for padded in (key + pad, pad + key, pad + key + pad):
            tries.append((KEY_WHITESPACE, base, padded, sign_type, "utf-8"))
    for alt in alt_keys:
        tries.append((alt.cause, base, alt.key, sign_type, "utf-8"))
        tries.append((alt.cause, base, alt.key, other, "utf-8"))
    for cause, text, with_key, algorithm, encoding in tries:
        try:
            made = _digest(text, with_key, algorithm, encoding)
        except UnicodeEncodeError:  # a character GBK has not: the client cannot have done this
            continue
        if made == received:
            return cause
    return ""


def _with_sign(fields: Mapping[str, str], sign_value: str) -> str:
    items = {k: v for k, v in fields.items() if k != "sign" and v != ""}
    items["sign"] = sign_value
    return "&".join(f"{k}={items[k]}" for k in sorted(items))


def _with_empty(fields: Mapping[str, str]) -> str:
    return "&".join(f"{k}={fields[k]}" for k in sorted(fields) if k != "sign")


def explain_mismatch(
    fields: Mapping[str, str], key: str, sign_type: SignType, alt_keys: Iterable[AltKey] = ()
) -> Mismatch:
    """Describe what the server signed and the likely reasons the client's sign differs."""
    masked = key[:3] + "*" * (len(key) - 6) + key[-3:] if len(key) > 12 else "*" * len(key)
    taking_part = tuple(sorted(k for k, v in fields.items() if k != "sign" and v != ""))
    expected = sign(fields, key, sign_type)
    received = fields.get("sign", "")
    hints: list[str] = []
    if received.lower() == expected.lower() and received != expected:
        hints.append(LOWERCASE)
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
    cause = find_cause(fields, key, sign_type, alt_keys)
    if cause and cause not in hints:
        hints.insert(0, cause)
    return Mismatch(
        algorithm=str(sign_type),
        signed_string=canonical_string(fields) + "&key=" + masked,
        fields=taking_part,
        expected=expected,
        received=received,
        hints=tuple(hints),
        cause=cause,
    )
