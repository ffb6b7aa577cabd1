"""Mutual TLS on the HTTPS listener (spec §1.5, §4.5), driven with the stdlib ``ssl`` client.

The merchant downloads its API certificate from the control plane (as from the merchant
platform), trusts the platform CA and calls ``/secapi/pay/reverse`` with it. Every refusal is
the XML answer ``return_code=FAIL``/``证书错误`` and the request journal says exactly why; a
certificate that does not chain to the platform CA does not get through the handshake at all.
"""

from __future__ import annotations

import base64
import http.client
import secrets
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from wxpay_local import pki
from wxpay_local.settings import Settings
from wxpay_local.store import SqlStore
from wxpay_local.testing import Harness, MerchantInfo, wait_for
from wxpay_local.timefmt import SHANGHAI
from wxpay_local.web.tls import load_ca
from wxpay_local.wire import signing
from wxpay_local.wire.xml import decode

pytestmark = pytest.mark.e2e

REVERSE = "/secapi/pay/reverse"
TIMEOUT = 10.0


@dataclass(frozen=True)
class CertFiles:
    cert: Path
    key: Path
    serial: str


def download_cert(
    h: Harness, mch_id: str, folder: Path, *, rotate: dict[str, Any] | None = None
) -> CertFiles:
    """The merchant's certificate as PEM files (``rotate``: the body of a rotation first)."""
    path = f"/_local/merchants/{mch_id}/cert"
    data = (
        h.control("POST", path + "/rotate", rotate)
        if rotate is not None
        else h.control("GET", path)
    )
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / "apiclient_cert.pem", folder / "apiclient_key.pem"
    cert.write_text(data["apiclient_cert.pem"])
    key.write_text(data["apiclient_key.pem"])
    return CertFiles(cert, key, data["serial"])


def client_context(h: Harness, files: CertFiles | None = None) -> ssl.SSLContext:
    assert h.ca_file is not None
    context = ssl.create_default_context(cafile=str(h.ca_file))
    if files is not None:
        context.load_cert_chain(str(files.cert), str(files.key))
    return context


def post_https(
    h: Harness, path: str, body: bytes, files: CertFiles | None = None
) -> dict[str, str]:
    """POST over HTTPS with the stdlib client; the decoded XML answer."""
    return _post_with(h, path, body, client_context(h, files))


def _post_with(h: Harness, path: str, body: bytes, context: ssl.SSLContext) -> dict[str, str]:
    url = urlsplit(h.tls_url)
    assert url.hostname == "127.0.0.1" and url.port
    conn = http.client.HTTPSConnection(url.hostname, url.port, context=context, timeout=TIMEOUT)
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": "text/xml"})
        response = conn.getresponse()
        assert response.status == 200
        return decode(response.read())
    finally:
        conn.close()


def body_for(h: Harness, merchant: MerchantInfo, **fields: Any) -> bytes:
    """A signed request body with a nonce of its own (to find its journal entry)."""
    return h.client(merchant).body({"nonce_str": secrets.token_hex(16), **fields})


def journal_entry(h: Harness, merchant: MerchantInfo, body: bytes) -> dict[str, Any]:
    text = body.decode()

    def find() -> dict[str, Any] | None:
        for entry in h.journal(mch_id=merchant.mch_id, limit=50):
            if entry["request"] == text:
                return entry
        return None

    return wait_for(find, timeout=TIMEOUT)


def paid_micropay(h: Harness, merchant: MerchantInfo, out_trade_no: str) -> dict[str, str]:
    """A paid micropay order: the payer shows a fresh payment code, the merchant charges it."""
    payer = h.payer(balance=10_000)
    code = h.control("POST", f"/_local/payers/{payer['payer_id']}/codes", {})["auth_code"]
    answer = h.client(merchant).call(
        "/pay/micropay",
        body="Test shop-Coffee",
        out_trade_no=out_trade_no,
        total_fee=1800,
        spbill_create_ip="203.0.113.10",
        auth_code=code,
    )
    assert answer["result_code"] == "SUCCESS", answer
    return answer


def trade_state(h: Harness, merchant: MerchantInfo, out_trade_no: str) -> str:
    return h.client(merchant).orderquery(out_trade_no=out_trade_no)["trade_state"]


def assert_cert_refused(
    h: Harness, merchant: MerchantInfo, body: bytes, answer: dict[str, str]
) -> str:
    """The refusal is 证书错误; returns the journal's explanation of it."""
    assert answer == {"return_code": "FAIL", "return_msg": "证书错误"}, answer
    entry = journal_entry(h, merchant, body)
    assert entry["return_code"] == "FAIL" and entry["message"] == "证书错误"
    detail: str = entry["explanation"]["detail"]
    return detail


@pytest.fixture
def shop(live: Harness) -> MerchantInfo:
    return live.merchant()


# the happy path and the refusals ----------------------------------------------------------------
def test_reverse_with_the_merchants_certificate_succeeds(
    live: Harness, shop: MerchantInfo, tmp_path: Path
) -> None:
    files = download_cert(live, shop.mch_id, tmp_path / "cert")
    paid = paid_micropay(live, shop, "MTLS-OK-1")
    body = body_for(live, shop, out_trade_no="MTLS-OK-1")
    answer = post_https(live, REVERSE, body, files)
    assert answer["return_code"] == "SUCCESS" and answer["result_code"] == "SUCCESS", answer
    assert answer["recall"] == "N"
    assert answer["mch_id"] == shop.mch_id and answer["appid"] == shop.apps["official_account"]
    assert signing.verify(answer, shop.api_key), "the answer is signed with the merchant key"
    assert trade_state(live, shop, "MTLS-OK-1") == "REVOKED"
    entry = journal_entry(live, shop, body)
    assert entry["return_code"] == "SUCCESS" and "warning" not in entry["explanation"]

    by_id = body_for(live, shop, transaction_id=paid["transaction_id"])
    again = post_https(live, REVERSE, by_id, files)  # reversing a reversed order: idempotent
    assert again["result_code"] == "SUCCESS" and again["recall"] == "N", again


def test_reverse_over_plain_http_is_refused(live: Harness, shop: MerchantInfo) -> None:
    paid_micropay(live, shop, "MTLS-HTTP-1")
    body = body_for(live, shop, out_trade_no="MTLS-HTTP-1")
    response = live.http.post(REVERSE, content=body)
    assert response.status_code == 200
    detail = assert_cert_refused(live, shop, body, decode(response.content))
    assert "HTTPS" in detail, detail
    assert trade_state(live, shop, "MTLS-HTTP-1") == "SUCCESS"


def test_reverse_over_https_without_a_client_certificate_is_refused(
    live: Harness, shop: MerchantInfo
) -> None:
    paid_micropay(live, shop, "MTLS-NOCERT-1")
    body = body_for(live, shop, out_trade_no="MTLS-NOCERT-1")
    detail = assert_cert_refused(live, shop, body, post_https(live, REVERSE, body))
    assert "no client certificate" in detail, detail
    assert trade_state(live, shop, "MTLS-NOCERT-1") == "SUCCESS"


def test_another_merchants_certificate_is_refused(
    live: Harness, shop: MerchantInfo, tmp_path: Path
) -> None:
    other = live.merchant(name="Other shop")
    theirs = download_cert(live, other.mch_id, tmp_path / "other")
    paid_micropay(live, shop, "MTLS-OTHER-1")
    body = body_for(live, shop, out_trade_no="MTLS-OTHER-1")
    detail = assert_cert_refused(live, shop, body, post_https(live, REVERSE, body, theirs))
    assert f"belongs to merchant {other.mch_id}" in detail, detail
    assert theirs.serial in detail
    assert trade_state(live, shop, "MTLS-OTHER-1") == "SUCCESS"


def test_a_certificate_from_our_ca_that_was_never_issued_is_refused(
    live: Harness, store: SqlStore, shop: MerchantInfo, tmp_path: Path
) -> None:
    """Chains to the platform CA, CN = the mch_id, but the platform has no record of it."""
    ca = load_ca(store, datetime.now(SHANGHAI))
    forged = pki.issue_merchant_cert(ca, shop.mch_id, "Forger", datetime.now(SHANGHAI))
    files = CertFiles(tmp_path / "forged.pem", tmp_path / "forged.key", forged.serial)
    files.cert.write_text(forged.cert_pem)
    files.key.write_text(forged.key_pem)
    paid_micropay(live, shop, "MTLS-FORGED-1")
    body = body_for(live, shop, out_trade_no="MTLS-FORGED-1")
    detail = assert_cert_refused(live, shop, body, post_https(live, REVERSE, body, files))
    assert "not issued here" in detail and forged.serial in detail, detail


def _self_signed(mch_id: str, folder: Path) -> CertFiles:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, mch_id)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    files = CertFiles(folder / "self.pem", folder / "self.key", format(cert.serial_number, "X"))
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files


def test_a_self_signed_client_certificate_fails_the_handshake(
    live: Harness, shop: MerchantInfo, tmp_path: Path
) -> None:
    files = _self_signed(shop.mch_id, tmp_path)
    paid_micropay(live, shop, "MTLS-SELF-1")
    body = body_for(live, shop, out_trade_no="MTLS-SELF-1")
    # TLS 1.3 reports the server's alert on the first read; TLS 1.2 in the handshake itself.
    with pytest.raises((ssl.SSLError, ConnectionError)):
        post_https(live, REVERSE, body, files)
    tls12 = client_context(live, files)
    tls12.maximum_version = ssl.TLSVersion.TLSv1_2
    with pytest.raises((ssl.SSLError, ConnectionError)):
        _post_with(live, REVERSE, body, tls12)
    assert trade_state(live, shop, "MTLS-SELF-1") == "SUCCESS"
    assert all(e["request"] != body.decode() for e in live.journal(mch_id=shop.mch_id))


def test_an_expired_certificate_is_refused_by_the_platform_clock(
    live: Harness, shop: MerchantInfo, tmp_path: Path
) -> None:
    short = download_cert(live, shop.mch_id, tmp_path / "short", rotate={"valid_days": 1})
    paid_micropay(live, shop, "MTLS-EXP-1")
    paid_micropay(live, shop, "MTLS-EXP-2")
    first = body_for(live, shop, out_trade_no="MTLS-EXP-1")
    assert post_https(live, REVERSE, first, short)["result_code"] == "SUCCESS"

    live.advance(2 * 86400)
    body = body_for(live, shop, out_trade_no="MTLS-EXP-2")
    detail = assert_cert_refused(live, shop, body, post_https(live, REVERSE, body, short))
    assert "expired" in detail and short.serial in detail, detail
    assert trade_state(live, shop, "MTLS-EXP-2") == "SUCCESS"


def test_rotation_replaces_the_certificate_at_once(
    live: Harness, shop: MerchantInfo, tmp_path: Path
) -> None:
    old = download_cert(live, shop.mch_id, tmp_path / "old")
    new = download_cert(live, shop.mch_id, tmp_path / "new", rotate={})
    assert new.serial != old.serial
    assert live.control("GET", f"/_local/merchants/{shop.mch_id}/cert")["serial"] == new.serial
    paid_micropay(live, shop, "MTLS-ROT-1")

    body = body_for(live, shop, out_trade_no="MTLS-ROT-1")
    detail = assert_cert_refused(live, shop, body, post_https(live, REVERSE, body, old))
    assert "replaced" in detail and old.serial in detail, detail
    assert trade_state(live, shop, "MTLS-ROT-1") == "SUCCESS"

    answer = post_https(live, REVERSE, body_for(live, shop, out_trade_no="MTLS-ROT-1"), new)
    assert answer["result_code"] == "SUCCESS" and answer["recall"] == "N", answer
    assert trade_state(live, shop, "MTLS-ROT-1") == "REVOKED"


def test_rotation_rejects_an_out_of_range_validity(live: Harness, shop: MerchantInfo) -> None:
    path = f"/_local/merchants/{shop.mch_id}/cert/rotate"
    live.control("POST", path, {"valid_days": 0}, expect=400)
    live.control("POST", path, {"valid_days": 3651}, expect=400)
    live.control("GET", "/_local/merchants/1000000001/cert", expect=404)


# the server side of the handshake ---------------------------------------------------------------
@pytest.mark.parametrize("server_name", ["127.0.0.1", "localhost"])
def test_the_server_certificate_verifies_against_the_ca(live: Harness, server_name: str) -> None:
    url = urlsplit(live.tls_url)
    assert url.hostname and url.port
    context = client_context(live)
    with (
        socket.create_connection((url.hostname, url.port), timeout=TIMEOUT) as raw,
        context.wrap_socket(raw, server_hostname=server_name) as tls,
    ):
        peer = tls.getpeercert()
        assert peer is not None
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
    names = {value for _, value in peer["subjectAltName"]}
    assert server_name in names


def test_the_server_certificate_does_not_claim_other_names(live: Harness) -> None:
    url = urlsplit(live.tls_url)
    assert url.hostname and url.port
    with (
        socket.create_connection((url.hostname, url.port), timeout=TIMEOUT) as raw,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        client_context(live).wrap_socket(raw, server_hostname="shop.example").close()


def test_the_ca_from_the_control_plane_is_the_file_the_server_wrote(live: Harness) -> None:
    assert live.ca_file is not None
    answer = live.control("GET", "/_local/tls/ca")
    assert answer["ca.pem"] == live.ca_file.read_text()
    assert answer["https_url"] == live.tls_url


@pytest.mark.parametrize("with_cert", [True, False], ids=["client-cert", "no-client-cert"])
def test_orderquery_works_over_https(
    live: Harness, shop: MerchantInfo, tmp_path: Path, with_cert: bool
) -> None:
    files = download_cert(live, shop.mch_id, tmp_path / "cert") if with_cert else None
    paid_micropay(live, shop, "MTLS-QUERY-1")
    answer = post_https(
        live, "/pay/orderquery", body_for(live, shop, out_trade_no="MTLS-QUERY-1"), files
    )
    assert answer["return_code"] == "SUCCESS" and answer["result_code"] == "SUCCESS", answer
    assert answer["trade_state"] == "SUCCESS" and answer["trade_type"] == "MICROPAY"
    assert signing.verify(answer, shop.api_key)


# the certificate files ---------------------------------------------------------------------------
def test_the_p12_opens_with_the_mch_id_and_holds_the_same_certificate(
    live: Harness, shop: MerchantInfo
) -> None:
    data = live.control("GET", f"/_local/merchants/{shop.mch_id}/cert")
    assert data["p12_password"] == shop.mch_id
    assert data["https_url"] == live.tls_url
    p12 = base64.b64decode(data["apiclient_cert.p12"])
    key, cert, extra = pkcs12.load_key_and_certificates(p12, shop.mch_id.encode())
    assert cert is not None and isinstance(key, rsa.RSAPrivateKey)
    pem = x509.load_pem_x509_certificate(data["apiclient_cert.pem"].encode())
    assert cert == pem
    assert format(cert.serial_number, "X") == data["serial"]
    assert key.key_size == 2048
    assert key.public_key().public_numbers() == cert.public_key().public_numbers()
    pem_key = serialization.load_pem_private_key(data["apiclient_key.pem"].encode(), None)
    assert isinstance(pem_key, rsa.RSAPrivateKey)
    assert pem_key.private_numbers() == key.private_numbers()
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    assert [a.value for a in cn] == [shop.mch_id]
    root = x509.load_pem_x509_certificate(data["rootca.pem"].encode())
    assert cert.issuer == root.subject
    cert.verify_directly_issued_by(root)
    assert root in extra
    assert cert.not_valid_before_utc <= datetime.now(UTC) < cert.not_valid_after_utc
    with pytest.raises(ValueError):
        pkcs12.load_key_and_certificates(p12, b"not-the-mch-id")
    # the same certificate until it is rotated
    assert live.control("GET", f"/_local/merchants/{shop.mch_id}/cert")["serial"] == data["serial"]


# the relaxed setting -----------------------------------------------------------------------------
@pytest.fixture
def relaxed(store: SqlStore) -> Iterator[Harness]:
    settings = Settings(notify_timeout_seconds=2.0, require_client_cert=False)
    with Harness.start(store, live=True, settings=settings) as harness:
        yield harness
        harness.assert_ledger_balanced()


def test_relaxed_setting_lets_a_certificate_less_reverse_through_with_a_warning(
    relaxed: Harness,
) -> None:
    shop = relaxed.merchant()
    paid_micropay(relaxed, shop, "MTLS-RELAX-1")
    body = body_for(relaxed, shop, out_trade_no="MTLS-RELAX-1")
    answer = post_https(relaxed, REVERSE, body)
    assert answer["return_code"] == "SUCCESS" and answer["result_code"] == "SUCCESS", answer
    assert signing.verify(answer, shop.api_key)
    assert trade_state(relaxed, shop, "MTLS-RELAX-1") == "REVOKED"
    warning = journal_entry(relaxed, shop, body)["explanation"]["warning"]
    assert "real platform would refuse" in warning and "no client certificate" in warning

    paid_micropay(relaxed, shop, "MTLS-RELAX-2")
    plain = body_for(relaxed, shop, out_trade_no="MTLS-RELAX-2")
    over_http = decode(relaxed.http.post(REVERSE, content=plain).content)
    assert over_http["result_code"] == "SUCCESS", over_http
    assert "HTTPS" in journal_entry(relaxed, shop, plain)["explanation"]["warning"]
