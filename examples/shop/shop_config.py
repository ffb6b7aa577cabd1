"""The shop's settings: which platform, which merchant, where the shop itself is reachable.

Against wxpay-local ``from_wxpay_local`` reads the merchant's API key, appid, app secret and
certificate from the platform's control plane (a convenience of the local platform: on the
real one you pass them yourself, see README.md).
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from wxpay_sdk import AsyncClient, Timings


@dataclass(frozen=True)
class ShopConfig:
    platform: str  # http://127.0.0.1:8700
    mch_id: str
    api_key: str
    appid: str  # the official account's: Native, JSAPI (with OAuth) and H5 orders
    secret: str  # its app secret, for the OAuth code → openid exchange
    public_url: str  # where payers' browsers and the platform reach the shop
    database: Path
    tls_url: str = ""  # where /secapi/ goes (wxpay-local: its HTTPS port); "" = platform
    p12: Path | None = None  # apiclient_cert.p12 (password: the mch_id)
    ca_file: Path | None = None  # the CA of the platform's HTTPS certificate
    timings: Timings = field(default_factory=Timings)

    def client(self) -> AsyncClient:
        return AsyncClient(
            mch_id=self.mch_id,
            api_key=self.api_key,
            appid=self.appid,
            base_url=self.platform,
            cert_base_url=self.tls_url or None,
            p12=self.p12,
            ca_file=self.ca_file,
        )


def from_wxpay_local(
    platform: str, mch_id: str, public_url: str, folder: Path, **extra: object
) -> ShopConfig:
    """The settings of merchant mch_id on a running wxpay-local; its certificate and the
    platform's CA are written to folder."""
    # off loopback wxpay-local's control plane asks for its admin token (serve prints it)
    token = os.environ.get("WXPAY_ADMIN_TOKEN", "")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with httpx.Client(base_url=platform, timeout=10, trust_env=False, headers=headers) as http:
        merchant = http.get(f"/_local/merchants/{mch_id}").raise_for_status().json()
        cert = http.get(f"/_local/merchants/{mch_id}/cert").raise_for_status().json()
        ca = http.get("/_local/tls/ca").raise_for_status().json()
    app = next(a for a in merchant["apps"] if a["kind"] == "official_account")
    folder.mkdir(parents=True, exist_ok=True)
    p12, ca_file = folder / "apiclient_cert.p12", folder / "platform-ca.pem"
    p12.write_bytes(base64.b64decode(cert["apiclient_cert.p12"]))
    ca_file.write_text(ca["ca.pem"])
    return ShopConfig(
        platform=platform,
        mch_id=mch_id,
        api_key=merchant["api_key"],
        appid=app["appid"],
        secret=app["secret"],
        public_url=public_url.rstrip("/"),
        database=folder / "shop.sqlite3",
        tls_url=ca["https_url"],
        p12=p12,
        ca_file=ca_file,
        **extra,  # type: ignore[arg-type]
    )
