"""Demo data for a first ``wxpay-local serve``, and the banner that shows how to use it."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from wxpay_local.codes import AppKind
from wxpay_local.domain import setup
from wxpay_local.domain.clock import TestClock
from wxpay_local.domain.ids import Ids
from wxpay_local.domain.model import LIVE, App
from wxpay_local.settings import Settings, is_loopback
from wxpay_local.store import SqlStore
from wxpay_local.timefmt import SHANGHAI
from wxpay_local.web.certs import current_cert, write_files
from wxpay_local.web.console.auth import operator_password
from wxpay_local.web.tls import TlsFiles, load_ca
from wxpay_local.wire import signing
from wxpay_local.wire.xml import encode

DEMO_MCH_ID = "1900000109"
#: Rich enough between them to show every flow: Alice's ¥5000 is above micropay's ¥1000
#: password threshold (domain.micropay), so the wallet's password prompt can be seen; Bob pays
#: by credit card (refused under limit_pay=no_credit); Carol's ¥0.50 shows "not enough".
DEMO_PAYERS = (
    ("Alice", 500_000, ("CMB_DEBIT",)),
    ("Bob", 5_000, ("ICBC_CREDIT",)),
    ("Carol", 50, ()),
)
#: What each demo payer demonstrates, printed under the payers in the banner.
DEMO_ROLES = {
    "Alice": "¥5000 + 招商银行储蓄卡: every flow; micropay over ¥1000 shows the password prompt",
    "Bob": "¥50 + 工商银行信用卡: card payments, refused when limit_pay=no_credit",
    "Carol": "¥0.50, no card: 零钱余额不足 (NOTENOUGH) on any real order",
}


@dataclass(frozen=True)
class Seeded:
    created: bool


def seed_if_empty(store: SqlStore, settings: Settings) -> Seeded:
    """Create the demo merchant (an app of each kind) and three payers, once."""
    with store.begin() as tx:
        if tx.merchants():
            return Seeded(created=False)
        ids, clock = Ids(settings.seed), TestClock()
        setup.create_merchant(tx, ids, setup.NewMerchant(name="Demo Coffee", mch_id=DEMO_MCH_ID))
        for name, balance, cards in DEMO_PAYERS:
            setup.create_payer(tx, clock, ids, setup.NewPayer(name, balance, "123456", cards))
    return Seeded(created=True)


def banner(
    store: SqlStore, settings: Settings, seeded: Seeded | None, tls: TlsFiles | None = None
) -> str:
    base = settings.local_url  # where this machine's CLI and curl reach the server
    lines = [f"wxpay-local serving the WeChat Pay v2 API at {base}"]
    if settings.public_url:
        lines.append(f"  public URL: {settings.public_url}")
    lines += exposure(settings)
    if tls is not None:
        lines.append(f"  HTTPS (mutual TLS, /secapi/): {settings.tls_base_url}  CA: {tls.ca}")
    lines.append(f"  data: {settings.effective_database_url}")
    with store.begin(write=False) as tx:
        merchant = tx.merchant(DEMO_MCH_ID, LIVE)
        if merchant is None:
            lines.append("  (no demo merchant: create one with `wxpay-local merchant create`)")
            lines += cli_hints(settings)
            lines.append(f"  control plane: {base}/_local/openapi.json")
            return "\n".join(lines)
        apps = tx.apps_of(merchant.mch_id)
        payers = tx.payers(3)
    cert_files: dict[str, Path] = {}
    if tls is not None:
        ca = load_ca(store, datetime.now(SHANGHAI))
        with store.begin() as tx:
            cert = current_cert(tx, ca, merchant.mch_id, merchant.name, datetime.now(SHANGHAI))
        cert_files = write_files(cert, ca.cert_pem, settings.data_dir / "certs" / merchant.mch_id)
    if seeded is not None and seeded.created:
        lines.append("  first run: created the demo merchant and three demo payers")
    lines += [
        "",
        f"  merchant  mch_id={merchant.mch_id}  api_key={merchant.api_key}",
        f"  console   {base}/console  log in as {merchant.mch_id} / {merchant.console_password}"
        f"  or operator / {operator_password(store, settings.operator_password)}",
        *[f"  app       appid={a.appid}  kind={a.kind}  secret={a.secret}" for a in apps],
        *[f"  payer     id={p.id}  name={p.name}  password={p.pay_password}" for p in payers],
        *[f"  demo      {p.name}: {DEMO_ROLES[p.name]}" for p in payers if p.name in DEMO_ROLES],
        f"  pages     {base}/pages  (QR, phone, wallet, JSAPI, H5, APP, OAuth)",
        *[f"  cert      {path}" for name, path in cert_files.items() if name != "rootca.pem"],
        "",
        "  Try it: place a NATIVE order (a signed unifiedorder, ready to paste):",
        "",
        "  " + example_curl(base, merchant.mch_id, merchant.api_key, apps),
        "",
        "  then pay its code_url as Alice:"
        f"  wxpay-local pay 'weixin://wxpay/bizpayurl?pr=…' --payer 1{_url_option(settings)}",
        *cli_hints(settings),
        f"  control plane: {base}/_local/openapi.json",
    ]
    return "\n".join(lines)


def _url_option(settings: Settings) -> str:
    """``--url …`` when the CLI's default (127.0.0.1:8700) is not where this server listens."""
    return "" if settings.local_url == Settings().local_url else f" --url {settings.local_url}"


def cli_hints(settings: Settings) -> list[str]:
    """How the CLI in another shell reaches this server (its URL, and the token if needed)."""
    env = []
    if settings.local_url != Settings().local_url:
        env.append(f"WXPAY_URL={settings.local_url}")
    if settings.exposed and settings.admin_token:
        env.append(f"WXPAY_ADMIN_TOKEN={settings.admin_token}")
    if not env:
        return []
    return [f"  the CLI from another shell: export {' '.join(env)}"]


def exposure(settings: Settings) -> list[str]:
    """The loud part: who can reach this server and what protects what (docs/security.md)."""
    if not settings.exposed:
        return ["  listening on loopback only: nothing here is reachable from other machines"]
    where = (
        f"published at {settings.public_url}"
        if is_loopback(settings.host)
        else f"listening on {settings.host}:{settings.port}: REACHABLE FROM THE NETWORK"
    )
    return [
        "",
        f"  !! {where}",
        "  !! the merchant API answers anyone (requests are signed with each merchant's key);",
        f"  !! the control plane /_local/ needs  Authorization: Bearer {settings.admin_token}",
        "  !! the console needs its logins; pages answer only loopback, IP and allowed host names;",
        "  !! this is plain HTTP with demo secrets: put TLS in front, never use real keys.",
        "  !! see docs/security.md",
        "",
    ]


def example_curl(base: str, mch_id: str, api_key: str, apps: list[App]) -> str:
    appid = next((a.appid for a in apps if a.kind is AppKind.OFFICIAL_ACCOUNT), apps[0].appid)
    fields: dict[str, str | int] = {
        "appid": appid,
        "mch_id": mch_id,
        "nonce_str": "demo0nonce0for0the0readme0123456",
        "body": "Demo Coffee-Latte",
        "out_trade_no": "DEMO0001",
        "total_fee": "1800",
        "spbill_create_ip": "127.0.0.1",
        "notify_url": "http://127.0.0.1:9/notify",
        "trade_type": "NATIVE",
        "product_id": "latte",
    }
    fields["sign"] = signing.sign(fields, api_key)
    body = encode(fields).decode("utf-8")
    return f"curl -s {base}/pay/unifiedorder -d {shlex.quote(body)}"
