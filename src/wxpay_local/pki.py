"""The platform's certificate authority: its own CA, a server certificate, merchant API certs.

A merchant's API client certificate is what the real platform ships as ``apiclient_cert.pem``,
``apiclient_key.pem`` and ``apiclient_cert.p12`` (PKCS#12 password: the mch_id). Its subject CN
is the mch_id, which is how a ``/secapi/`` request is matched to its merchant. Pure computation
over ``cryptography``; storing the results is the caller's business.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_NAME = "wxpay-local CA"
MERCHANT_CERT_YEARS = 5


@dataclass(frozen=True, slots=True)
class Issued:
    """A certificate and its private key, both PEM."""

    cert_pem: str
    key_pem: str
    serial: str  # uppercase hex, as the platform prints serial numbers
    not_before: datetime
    not_after: datetime


def _key_pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def _issued(cert: x509.Certificate, key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> Issued:
    return Issued(
        cert_pem=cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        key_pem=_key_pem(key),
        serial=format(cert.serial_number, "X"),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
    )


def _load(issued: Issued) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert = x509.load_pem_x509_certificate(issued.cert_pem.encode())
    key = serialization.load_pem_private_key(issued.key_pem.encode(), None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise TypeError("the CA key must be an EC key")
    return cert, key


def create_ca(now: datetime) -> Issued:
    """A self-signed CA valid for 20 years (EC P-256: fast to generate and to verify)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "wxpay-local"),
            x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365 * 20))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return _issued(cert, key)


def issue_server_cert(ca: Issued, hosts: list[str], now: datetime) -> Issued:
    """A TLS server certificate for the given DNS names and IP addresses."""
    ca_cert, ca_key = _load(ca)
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=825))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    return _issued(cert, key)


def issue_merchant_cert(
    ca: Issued,
    mch_id: str,
    merchant_name: str,
    now: datetime,
    *,
    valid_for: timedelta = timedelta(days=365 * MERCHANT_CERT_YEARS),
) -> Issued:
    """The merchant's API client certificate (RSA 2048, as the platform issues), CN = mch_id."""
    ca_cert, ca_key = _load(ca)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Tenpay.com"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, merchant_name[:64] or mch_id),
            x509.NameAttribute(NameOID.COMMON_NAME, mch_id),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + valid_for)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    return _issued(cert, key)


def pkcs12_bundle(issued: Issued, ca_pem: str, password: str) -> bytes:
    """``apiclient_cert.p12``: the key, the certificate and the CA, protected by password."""
    cert = x509.load_pem_x509_certificate(issued.cert_pem.encode())
    key = serialization.load_pem_private_key(issued.key_pem.encode(), None)
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise TypeError("unsupported key type")
    ca = x509.load_pem_x509_certificate(ca_pem.encode())
    return pkcs12.serialize_key_and_certificates(
        b"apiclient_cert",
        key,
        cert,
        [ca],
        serialization.BestAvailableEncryption(password.encode()),
    )


def peer_identity(der: bytes) -> tuple[str, str]:
    """(serial in uppercase hex, subject CN) of a DER certificate."""
    cert = x509.load_der_x509_certificate(der)
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return format(cert.serial_number, "X"), str(names[0].value) if names else ""
