"""The HTTPS side: the platform's CA and server certificate, the TLS context, and a uvicorn
protocol that hands the client certificate to the app (the ASGI ``tls`` extension).

The CA and the server certificate live in the database (every server process shares them) and
are written to ``<data_dir>/tls/`` for clients to trust. Client certificates must chain to the
CA (checked in the handshake); which merchant they belong to, and whether they were rotated or
expired, is checked by the API pipeline, so that refusals are the platform's XML answers and
the journal can say exactly why.
"""

from __future__ import annotations

import json
import ssl
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from wxpay_local import pki
from wxpay_local.store import SqlStore

CA_SETTING = "pki.ca"
SERVER_SETTING = "pki.server"
SERVER_HOSTS = ["localhost", "127.0.0.1", "::1", "api.mch.weixin.qq.com", "api2.mch.weixin.qq.com"]
#: OpenSSL's X509_V_FLAG_NO_CHECK_TIME: expired client certificates complete the handshake, so
#: the API can answer "certificate expired" in XML instead of a bare TLS alert.
NO_CHECK_TIME = 0x200000


@dataclass(frozen=True)
class TlsFiles:
    ca: Path
    server_cert: Path
    server_key: Path


def _issued(text: str) -> pki.Issued:
    data = json.loads(text)
    return pki.Issued(
        cert_pem=data["cert_pem"],
        key_pem=data["key_pem"],
        serial=data["serial"],
        not_before=datetime.fromisoformat(data["not_before"]),
        not_after=datetime.fromisoformat(data["not_after"]),
    )


def _dump(issued: pki.Issued) -> str:
    data = asdict(issued)
    data["not_before"] = issued.not_before.isoformat()
    data["not_after"] = issued.not_after.isoformat()
    return json.dumps(data)


def load_ca(store: SqlStore, now: datetime) -> pki.Issued:
    """The platform CA, created on first use (one winner when several processes start)."""
    with store.begin() as tx:
        saved = tx.get_setting(CA_SETTING)
        if saved is None:
            ca = pki.create_ca(now)
            tx.put_setting(CA_SETTING, _dump(ca))
            return ca
    return _issued(saved)


def ensure_files(store: SqlStore, data_dir: Path, now: datetime) -> TlsFiles:
    """Write the CA and the server certificate (issuing it once) to ``data_dir/tls``."""
    ca = load_ca(store, now)
    with store.begin() as tx:
        saved = tx.get_setting(SERVER_SETTING)
        server = None if saved is None else _issued(saved)
        if server is None or server.not_after <= now:
            server = pki.issue_server_cert(ca, SERVER_HOSTS, now)
            tx.put_setting(SERVER_SETTING, _dump(server))
    folder = data_dir / "tls"
    folder.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    files.ca.write_text(ca.cert_pem)
    files.server_cert.write_text(server.cert_pem + ca.cert_pem)
    files.server_key.write_text(server.key_pem)
    files.server_key.chmod(0o600)
    return files


def server_context(files: TlsFiles) -> ssl.SSLContext:
    """TLS 1.2+, the server certificate, client certificates requested and chained to our CA."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(files.server_cert), str(files.server_key))
    context.load_verify_locations(cafile=str(files.ca))
    context.verify_mode = ssl.CERT_OPTIONAL
    context.verify_flags |= NO_CHECK_TIME
    return context


class TlsAwareProtocol(HttpToolsProtocol):
    """httptools' protocol plus ``scope["extensions"]["tls"]`` with the client certificate."""

    def on_message_begin(self) -> None:
        super().on_message_begin()
        ssl_object = self.transport.get_extra_info("ssl_object")
        if ssl_object is None:
            return
        der = ssl_object.getpeercert(binary_form=True)
        chain = [] if der is None else [ssl.DER_cert_to_PEM_cert(der)]
        extensions: dict[str, Any] = {
            "tls": {
                "client_cert_chain": chain,
                "client_cert_der": der,
                "tls_version": ssl_object.version(),
            }
        }
        self.scope["extensions"] = extensions
