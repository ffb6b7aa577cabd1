"""Merchants' API client certificates: issued on first need, rotated on demand, exported as
the platform ships them (apiclient_cert.pem, apiclient_key.pem, apiclient_cert.p12).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from wxpay_local import pki
from wxpay_local.domain.model import MerchantCert
from wxpay_local.domain.ports import Tx


def _store(tx: Tx, issued: pki.Issued, mch_id: str, now: datetime) -> MerchantCert:
    return tx.insert_merchant_cert(
        MerchantCert(
            id=0,
            mch_id=mch_id,
            serial=issued.serial,
            cert_pem=issued.cert_pem,
            key_pem=issued.key_pem,
            not_before=issued.not_before,
            not_after=issued.not_after,
            created_at=now,
        )
    )


def current_cert(tx: Tx, ca: pki.Issued, mch_id: str, name: str, now: datetime) -> MerchantCert:
    """The merchant's live certificate, issuing the first one when there is none."""
    for cert in tx.merchant_certs(mch_id):
        if cert.revoked_at is None:
            return cert
    return _store(tx, pki.issue_merchant_cert(ca, mch_id, name, now), mch_id, now)


def rotate(
    tx: Tx,
    ca: pki.Issued,
    mch_id: str,
    name: str,
    now: datetime,
    valid_for: timedelta | None = None,
) -> MerchantCert:
    """Replace the merchant's certificate: the old one stops working at once."""
    tx.revoke_merchant_certs(mch_id, now)
    if valid_for is None:
        issued = pki.issue_merchant_cert(ca, mch_id, name, now)
    else:
        issued = pki.issue_merchant_cert(ca, mch_id, name, now, valid_for=valid_for)
    return _store(tx, issued, mch_id, now)


def p12(cert: MerchantCert, ca_pem: str) -> bytes:
    """apiclient_cert.p12, password = mch_id, as the platform ships it."""
    issued = pki.Issued(cert.cert_pem, cert.key_pem, cert.serial, cert.not_before, cert.not_after)
    return pki.pkcs12_bundle(issued, ca_pem, cert.mch_id)


def write_files(cert: MerchantCert, ca_pem: str, folder: Path) -> dict[str, Path]:
    """Write the merchant's certificate files; returns their paths by name."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "apiclient_cert.pem": folder / "apiclient_cert.pem",
        "apiclient_key.pem": folder / "apiclient_key.pem",
        "apiclient_cert.p12": folder / "apiclient_cert.p12",
        "rootca.pem": folder / "rootca.pem",
    }
    paths["apiclient_cert.pem"].write_text(cert.cert_pem)
    paths["apiclient_key.pem"].write_text(cert.key_pem)
    paths["apiclient_key.pem"].chmod(0o600)
    paths["apiclient_cert.p12"].write_bytes(p12(cert, ca_pem))
    paths["rootca.pem"].write_text(ca_pem)
    return paths
