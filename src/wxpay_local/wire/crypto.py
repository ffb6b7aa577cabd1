"""The refund notification's ``req_info`` (refunds spec §5.3): AES-256-ECB, PKCS#7 to 16 bytes.

The AES key is the 32 ASCII characters of the lowercase hex MD5 of the merchant's API key.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def _key(api_key: str) -> bytes:
    return hashlib.md5(api_key.encode("utf-8")).hexdigest().encode("ascii")


def encrypt_req_info(plaintext: str, api_key: str) -> str:
    padder = padding.PKCS7(128).padder()
    data = padder.update(plaintext.encode("utf-8")) + padder.finalize()
    encryptor = Cipher(algorithms.AES(_key(api_key)), modes.ECB()).encryptor()
    return base64.b64encode(encryptor.update(data) + encryptor.finalize()).decode("ascii")


def decrypt_req_info(req_info: str, api_key: str) -> str:
    decryptor = Cipher(algorithms.AES(_key(api_key)), modes.ECB()).decryptor()
    data = decryptor.update(base64.b64decode(req_info)) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    return (unpadder.update(data) + unpadder.finalize()).decode("utf-8")


def root_document(fields: dict[str, str | int]) -> str:
    """The plaintext layout of real captures: ``<root>``, one CDATA element per line."""
    lines = ["<root>"]
    lines += [f"<{name}><![CDATA[{value}]]></{name}>" for name, value in fields.items()]
    return "\n".join(lines) + "\n</root>"
