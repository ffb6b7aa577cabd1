"""Three notification receivers a merchant might write, for the probe's tests (issue 14).

Written here from the spec (refunds spec §4.3 signature, §5.3 req_info), not with wxpay_local's
own code: ``careful`` does everything right, ``naive`` answers SUCCESS to anything, and
``vulnerable`` is careful except that its hand-rolled expat parser resolves external entities
(the 2018 WeChat Pay SDK bug).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import threading
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from xml.parsers import expat

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

SUCCESS = (
    b"<xml><return_code><![CDATA[SUCCESS]]></return_code>"
    b"<return_msg><![CDATA[OK]]></return_msg></xml>"
)
LIMIT = 64 * 1024


def fail(message: str) -> tuple[int, bytes]:
    return 200, (
        f"<xml><return_code><![CDATA[FAIL]]></return_code>"
        f"<return_msg><![CDATA[{message}]]></return_msg></xml>"
    ).encode()


def expected_sign(fields: dict[str, str], key: str, algorithm: str) -> str:
    text = "&".join(f"{k}={v}" for k, v in sorted(fields.items()) if k != "sign" and v != "")
    text += f"&key={key}"
    if algorithm == "HMAC-SHA256":
        return hmac.new(key.encode(), text.encode(), hashlib.sha256).hexdigest().upper()
    return hashlib.md5(text.encode()).hexdigest().upper()


def etree_fields(text: str) -> dict[str, str]:
    """Flat <xml> children; only after the caller refused any DOCTYPE."""
    root = ET.fromstring(text)
    return {child.tag: child.text or "" for child in root}


def expat_fields(text: str) -> dict[str, str]:
    """A hand-rolled expat reader that, like the 2018 SDKs, resolves external entities."""
    fields: dict[str, str] = {}
    stack: list[str] = []

    def start(name: str, attrs: object) -> None:
        stack.append(name)

    def end(name: str) -> None:
        stack.pop()

    def chars(data: str) -> None:
        if len(stack) == 2:
            fields[stack[-1]] = fields.get(stack[-1], "") + data

    def external(context: str, base: str | None, system_id: str, public_id: str | None) -> int:
        with urllib.request.urlopen(system_id, timeout=2) as fetched:  # the vulnerability
            sub = parser.ExternalEntityParserCreate(context)
            sub.CharacterDataHandler = chars
            sub.Parse(fetched.read(), True)
        return 1

    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_ALWAYS)
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    parser.ExternalEntityRefHandler = external
    parser.Parse(text.encode(), True)
    return fields


def decrypt(req_info: str, key: str) -> str:
    aes_key = hashlib.md5(key.encode()).hexdigest().encode()
    decryptor = Cipher(algorithms.AES(aes_key), modes.ECB()).decryptor()
    data = decryptor.update(base64.b64decode(req_info, validate=True)) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    return (unpadder.update(data) + unpadder.finalize()).decode()


@dataclass
class Shop:
    """The merchant's side: its orders (out_trade_no → total_fee) and what it fulfilled."""

    mch_id: str
    api_key: str
    orders: dict[str, int] = field(default_factory=dict)
    fulfilled: list[str] = field(default_factory=list)
    refunds: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    paid: set[str] = field(default_factory=set)

    def careful(self, body: bytes) -> tuple[int, bytes]:
        return self._receive(body, etree_fields, refuse_doctype=True)

    def vulnerable(self, body: bytes) -> tuple[int, bytes]:
        # It did guard against entity bombs (internal entities: expat would expand a billion
        # laughs for minutes here), but not against external entities.
        if re.search(rb'<!ENTITY\s+\w+\s+"', body):
            return fail("entities refused")
        return self._receive(body, expat_fields, refuse_doctype=False)

    def naive(self, body: bytes) -> tuple[int, bytes]:
        return 200, SUCCESS

    def _receive(
        self, body: bytes, parse: Callable[[str], dict[str, str]], refuse_doctype: bool
    ) -> tuple[int, bytes]:
        if len(body) > LIMIT:
            return 413, b""
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return 400, b""
        if refuse_doctype and "<!DOCTYPE" in text.upper():
            return 400, b""
        try:
            fields = parse(text)
        except (ET.ParseError, expat.ExpatError, OSError, ValueError):
            return fail("bad xml")
        if fields.get("mch_id") != self.mch_id:
            return fail("not ours")
        if "req_info" in fields:
            return self._refund(fields)
        sign = fields.get("sign", "")
        algorithm = fields.get("sign_type") or ("HMAC-SHA256" if len(sign) == 64 else "MD5")
        if not hmac.compare_digest(sign, expected_sign(fields, self.api_key, algorithm)):
            return fail("bad sign")
        out_trade_no = fields.get("out_trade_no", "")
        if out_trade_no not in self.orders:
            return fail("no such order")
        if fields.get("total_fee") != str(self.orders[out_trade_no]):
            return fail("amount differs")
        with self.lock:  # twice at once: one fulfils, both answer SUCCESS
            if out_trade_no not in self.paid:
                self.paid.add(out_trade_no)
                self.fulfilled.append(out_trade_no)
        return 200, SUCCESS

    def _refund(self, fields: dict[str, str]) -> tuple[int, bytes]:
        try:
            inner = etree_fields(decrypt(fields["req_info"], self.api_key))
        except (ValueError, ET.ParseError):
            return fail("req_info does not decrypt")
        if inner.get("out_trade_no") not in self.orders:
            return fail("no such order")
        self.refunds.append(inner["out_refund_no"])
        return 200, SUCCESS
