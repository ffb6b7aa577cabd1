"""Mutual TLS (spec §1.5): an ``ssl.SSLContext`` carrying the merchant certificate, loaded from
``apiclient_cert.pem`` + ``apiclient_key.pem`` or from ``apiclient_cert.p12`` (its password
defaults to the mch_id, as on the platform)."""

from __future__ import annotations

import os
import ssl
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12


def context(
    *,
    cert: str | os.PathLike[str] | None = None,
    key: str | os.PathLike[str] | None = None,
    p12: str | os.PathLike[str] | None = None,
    p12_password: str | None = None,
    ca_file: str | os.PathLike[str] | None = None,
) -> ssl.SSLContext:
    """A client context that trusts ``ca_file`` (or the system's CAs) and presents the merchant
    certificate given as PEM files or as a PKCS#12 file."""
    ctx = ssl.create_default_context(cafile=os.fspath(ca_file) if ca_file else None)
    if p12 is not None:
        _load_p12(ctx, Path(p12).read_bytes(), p12_password or "")
    elif cert is not None:
        ctx.load_cert_chain(os.fspath(cert), os.fspath(key) if key else None)
    return ctx


def _load_p12(ctx: ssl.SSLContext, data: bytes, password: str) -> None:
    try:
        private_key, certificate, chain = pkcs12.load_key_and_certificates(
            data, password.encode() if password else None
        )
    except ValueError as exc:
        raise ValueError(f"cannot open the PKCS#12 file (wrong password?): {exc}") from None
    if private_key is None or certificate is None:
        raise ValueError("the PKCS#12 file holds no certificate with its private key")
    pem = certificate.public_bytes(serialization.Encoding.PEM) + b"".join(
        c.public_bytes(serialization.Encoding.PEM) for c in chain
    )
    key_pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # the ssl module loads certificate chains from files only: a private folder that lives for
    # the duration of this call (0700, removed at once)
    with tempfile.TemporaryDirectory(prefix="wxpay-sdk-") as folder:
        cert_file, key_file = Path(folder, "cert.pem"), Path(folder, "key.pem")
        cert_file.write_bytes(pem)
        key_file.touch(mode=0o600)
        key_file.write_bytes(key_pem)
        ctx.load_cert_chain(str(cert_file), str(key_file))
