"""Certificates and payment codes from the command line, against ``wxpay-local serve`` (HTTPS on).

A person runs ``wxpay-local serve``, reads the HTTPS URL, the CA and the demo merchant's
certificate files from the banner, fetches certificates with ``wxpay-local merchant cert`` and
payment codes with ``wxpay-local payer code``, and reverses a micropay order with those files.
"""

from __future__ import annotations

import http.client
import os
import re
import ssl
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from serve_support import DEMO_MCH_ID, Served, cli, serve

from wxpay_local.wire import signing
from wxpay_local.wire.xml import decode, encode

pytestmark = pytest.mark.e2e

FILES = ("apiclient_cert.pem", "apiclient_key.pem", "apiclient_cert.p12", "rootca.pem")
TIMEOUT = 10.0


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with serve(tmp_path / "data") as s:
        yield s


def _https_post(
    https_url: str, path: str, body: bytes, ca: Path, cert: Path, key: Path
) -> dict[str, str]:
    context = ssl.create_default_context(cafile=str(ca))
    context.load_cert_chain(str(cert), str(key))
    url = urlsplit(https_url)
    assert url.hostname == "127.0.0.1" and url.port
    conn = http.client.HTTPSConnection(url.hostname, url.port, context=context, timeout=TIMEOUT)
    try:
        conn.request("POST", path, body=body)
        response = conn.getresponse()
        assert response.status == 200
        return decode(response.read())
    finally:
        conn.close()


def _signed(served: Served, **fields: str | int) -> bytes:
    data: dict[str, str | int] = {
        "appid": served.appid,
        "mch_id": DEMO_MCH_ID,
        "nonce_str": os.urandom(8).hex(),
        **fields,
    }
    data["sign"] = signing.sign(data, served.api_key)
    return encode(data)


def _table(stdout: str) -> dict[str, str]:
    """``wxpay-local merchant cert``'s table: a line's name (up to two spaces) -> the rest."""
    rows: dict[str, str] = {}
    for line in stdout.splitlines()[1:]:
        name, value = re.split(r"\s{2,}", line.strip(), maxsplit=1)
        rows[name] = value
    return rows


def test_serve_banner_shows_the_https_url_the_ca_and_the_demo_certificate(
    served: Served, tmp_path: Path
) -> None:
    https_url = f"https://127.0.0.1:{served.tls_port}"
    found = re.search(r"HTTPS \(mutual TLS, /secapi/\): (\S+)\s+CA: (\S+)", served.banner)
    assert found, served.banner
    assert found.group(1) == https_url
    ca = Path(found.group(2))
    assert ca.is_file()
    ca_answer = httpx.get(served.url + "/_local/tls/ca", timeout=TIMEOUT, trust_env=False).json()
    assert ca_answer == {"ca.pem": ca.read_text(), "https_url": https_url}

    paths = [Path(p) for p in re.findall(r"^\s+cert\s+(\S+)$", served.banner, re.MULTILINE)]
    assert sorted(p.name for p in paths) == sorted(FILES[:3]), served.banner
    assert all(p.is_file() for p in paths)
    by_name = {p.name: p for p in paths}
    cert = x509.load_pem_x509_certificate(by_name["apiclient_cert.pem"].read_bytes())
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    assert [a.value for a in cn] == [DEMO_MCH_ID]
    cert.verify_directly_issued_by(x509.load_pem_x509_certificate(ca.read_bytes()))
    _, in_p12, _ = pkcs12.load_key_and_certificates(
        by_name["apiclient_cert.p12"].read_bytes(), DEMO_MCH_ID.encode()
    )
    assert in_p12 == cert
    current = cli("merchant", "cert", DEMO_MCH_ID, "--out", str(tmp_path / "x"), url=served.url)
    assert _table(current.stdout)["serial"] == format(cert.serial_number, "X")


def test_merchant_cert_writes_the_four_files_and_prints_the_table(
    served: Served, tmp_path: Path
) -> None:
    out = tmp_path / "certs"
    done = cli("merchant", "cert", DEMO_MCH_ID, "--out", str(out), url=served.url)
    assert done.returncode == 0, done.stdout + done.stderr
    assert DEMO_MCH_ID in done.stdout.splitlines()[0]
    rows = _table(done.stdout)
    for name in FILES:
        assert (out / name).is_file()
        assert rows[name] == str(out / name)
    assert re.fullmatch(r"[0-9A-F]+", rows["serial"]), rows
    valid = re.fullmatch(r"(\S+)\s+to\s+(\S+)", rows["valid"])
    assert valid, rows
    assert rows["p12 password"] == DEMO_MCH_ID
    assert rows["HTTPS"].startswith(f"https://127.0.0.1:{served.tls_port}")

    cert = x509.load_pem_x509_certificate((out / "apiclient_cert.pem").read_bytes())
    assert format(cert.serial_number, "X") == rows["serial"]
    assert datetime.fromisoformat(valid.group(1)) == cert.not_valid_before_utc
    assert datetime.fromisoformat(valid.group(2)) == cert.not_valid_after_utc
    key, in_p12, _ = pkcs12.load_key_and_certificates(
        (out / "apiclient_cert.p12").read_bytes(), DEMO_MCH_ID.encode()
    )
    assert in_p12 == cert and key is not None
    assert (out / "apiclient_key.pem").stat().st_mode & 0o077 == 0, "the key is private"
    root = x509.load_pem_x509_certificate((out / "rootca.pem").read_bytes())
    cert.verify_directly_issued_by(root)

    again = cli("merchant", "cert", DEMO_MCH_ID, "--out", str(out), url=served.url)
    assert _table(again.stdout)["serial"] == rows["serial"], "the same certificate until rotated"

    rotated = cli(
        "merchant", "cert", DEMO_MCH_ID, "--out", str(tmp_path / "new"), "--rotate", url=served.url
    )
    assert rotated.returncode == 0, rotated.stdout + rotated.stderr
    assert "rotated" in rotated.stdout.splitlines()[0]
    new_serial = _table(rotated.stdout)["serial"]
    assert new_serial != rows["serial"]
    new_cert = x509.load_pem_x509_certificate(
        (tmp_path / "new" / "apiclient_cert.pem").read_bytes()
    )
    assert format(new_cert.serial_number, "X") == new_serial


def test_merchant_cert_for_an_unknown_merchant_fails(served: Served, tmp_path: Path) -> None:
    done = cli("merchant", "cert", "1000000001", "--out", str(tmp_path / "x"), url=served.url)
    assert done.returncode != 0
    assert "NOT_FOUND" in done.stderr
    assert not (tmp_path / "x" / "apiclient_cert.pem").exists()


def test_payer_code_by_id_and_by_openid(served: Served) -> None:
    by_id = cli("payer", "code", "1", url=served.url)
    assert by_id.returncode == 0, by_id.stderr
    code = by_id.stdout.strip()
    assert re.fullmatch(r"1[0-5]\d{16}", code), code
    assert "single use" in by_id.stderr

    payer = httpx.get(
        served.url + "/_local/payers/1",
        params={"appid": served.appid},
        timeout=TIMEOUT,
        trust_env=False,
    ).json()
    openid = payer["openids"][served.appid]
    by_openid = cli("payer", "code", openid, url=served.url)
    assert by_openid.returncode == 0, by_openid.stderr
    other = by_openid.stdout.strip()
    assert re.fullmatch(r"1[0-5]\d{16}", other) and other != code

    unknown = cli("payer", "code", "o-nobody-has-this-openid", url=served.url)
    assert unknown.returncode != 0 and "NOT_FOUND" in unknown.stderr


def test_reverse_with_the_files_the_cli_wrote(served: Served, tmp_path: Path) -> None:
    out = tmp_path / "certs"
    done = cli("merchant", "cert", DEMO_MCH_ID, "--out", str(out), url=served.url)
    assert done.returncode == 0, done.stderr
    https_url = _table(done.stdout)["HTTPS"].split()[0]
    code = cli("payer", "code", "1", url=served.url).stdout.strip()

    paid = decode(
        httpx.post(
            served.url + "/pay/micropay",
            content=_signed(
                served,
                body="Demo Coffee-Latte",
                out_trade_no="CLI-REV-1",
                total_fee=1800,
                spbill_create_ip="203.0.113.10",
                auth_code=code,
            ),
            timeout=TIMEOUT,
            trust_env=False,
        ).content
    )
    assert paid["result_code"] == "SUCCESS", paid

    answer = _https_post(
        https_url,
        "/secapi/pay/reverse",
        _signed(served, out_trade_no="CLI-REV-1"),
        out / "rootca.pem",
        out / "apiclient_cert.pem",
        out / "apiclient_key.pem",
    )
    assert answer["return_code"] == "SUCCESS" and answer["result_code"] == "SUCCESS", answer
    assert answer["recall"] == "N"
    assert signing.verify(answer, served.api_key)
    query = decode(
        httpx.post(
            served.url + "/pay/orderquery",
            content=_signed(served, out_trade_no="CLI-REV-1"),
            timeout=TIMEOUT,
            trust_env=False,
        ).content
    )
    assert query["trade_state"] == "REVOKED", query
