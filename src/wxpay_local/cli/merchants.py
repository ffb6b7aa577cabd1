"""``merchant create | list | rotate-key | cert``."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import click

from wxpay_local.cli.remote import Remote, remote_command

CERT_FILES = ("apiclient_cert.pem", "apiclient_key.pem", "apiclient_cert.p12", "rootca.pem")


@click.group(
    help="Create or list merchants; rotate a merchant's API key; fetch its API certificate."
)
def merchant() -> None:
    pass


@merchant.command(help="Create a merchant with an app of each kind.")
@remote_command
@click.option("--name", default="Merchant", show_default=True, help="The merchant's name.")
@click.option("--mch-id", help="Its mch_id (default: a new one).")
def create(remote: Remote, name: str, mch_id: str | None) -> None:
    body = {"name": name, **({"mch_id": mch_id} if mch_id else {})}
    created = remote.call("POST", "/_local/merchants", body)
    if remote.out.as_json:
        remote.out.json(created)
        return
    remote.out.pairs(
        f"merchant {created['mch_id']} created",
        [
            ("name", created["name"]),
            ("api_key", created["api_key"]),
            ("console password", created["console_password"]),
            *[(f"app {a['kind']}", f"{a['appid']}  secret {a['secret']}") for a in created["apps"]],
        ],
    )


@merchant.command("list", help="Every merchant, with its API key and apps.")
@remote_command
def list_(remote: Remote) -> None:
    found = remote.call("GET", "/_local/merchants")
    if remote.out.as_json:
        remote.out.json(found)
        return
    remote.out.table(
        ("mch_id", "name", "api_key", "apps"),
        (
            (
                m["mch_id"],
                m["name"],
                m["api_key"],
                ", ".join(f"{a['appid']} ({a['kind']})" for a in m["apps"]),
            )
            for m in found["merchants"]
        ),
        empty="no merchants",
    )


@merchant.command("rotate-key", help="Give the merchant a new API key (the old one stops working).")
@remote_command
@click.argument("mch_id")
def rotate_key(remote: Remote, mch_id: str) -> None:
    rotated = remote.call("POST", f"/_local/merchants/{mch_id}/key", {})
    if remote.out.as_json:
        remote.out.json(rotated)
        return
    remote.out.pairs(
        f"merchant {mch_id}: new API key (the old one no longer works)",
        [("api_key", rotated["api_key"])],
    )


def default_cert_folder(data_dir: Path | None, mch_id: str) -> Path:
    """Under the data directory (``--data-dir``, WXPAY_DATA_DIR, ``./wxpay-data``), where
    ``serve`` writes the demo merchant's: never a new folder wherever the command ran."""
    base = data_dir or Path(os.environ.get("WXPAY_DATA_DIR") or "wxpay-data")
    return base / "certs" / mch_id


@merchant.command(
    help="Write the merchant's certificate files (apiclient_cert.pem, apiclient_key.pem, "
    "apiclient_cert.p12, rootca.pem), as the platform's download gives them."
)
@remote_command
@click.argument("mch_id")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the files (default: DATA_DIR/certs/MCH_ID).",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="The data directory the default folder is in (env WXPAY_DATA_DIR; default ./wxpay-data).",
)
@click.option("--rotate", is_flag=True, help="Issue a new certificate (the old one stops working).")
def cert(
    remote: Remote, mch_id: str, out: Path | None, data_dir: Path | None, rotate: bool
) -> None:
    path = f"/_local/merchants/{mch_id}/cert"
    data = remote.call("POST", path + "/rotate", {}) if rotate else remote.call("GET", path)
    folder = out or default_cert_folder(data_dir, mch_id)
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("apiclient_cert.pem", "apiclient_key.pem", "rootca.pem"):
        (folder / name).write_text(data[name])
    (folder / "apiclient_key.pem").chmod(0o600)
    (folder / "apiclient_cert.p12").write_bytes(base64.b64decode(data["apiclient_cert.p12"]))
    files = {name: str(folder / name) for name in CERT_FILES}
    if remote.out.as_json:
        keep = ("serial", "not_before", "not_after", "p12_password", "https_url")
        remote.out.json(
            {"mch_id": mch_id, "rotated": rotate, **{k: data[k] for k in keep}, "files": files}
        )
        return
    remote.out.pairs(
        f"certificate for merchant {mch_id}"
        + (" (rotated: the old one no longer works)" if rotate else ""),
        [
            ("serial", data["serial"]),
            ("valid", f"{data['not_before']}  to  {data['not_after']}"),
            *files.items(),
            ("p12 password", data["p12_password"]),
            ("HTTPS", f"{data['https_url']}  (trust rootca.pem)"),
        ],
    )
