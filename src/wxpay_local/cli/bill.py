"""``bill``: save a day's trade bill or fund flow from a running platform.

Streams ``/_local/bills/…`` (or ``/_local/fundflow/…``) to a file, with rich's progress bar on
stderr for big days (rows written of ``X-Bill-Rows``; on a non-terminal it stays quiet).
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

import click
import httpx
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

from wxpay_local.cli.output import console
from wxpay_local.cli.remote import Remote, remote_command

BILL_TYPES = ("ALL", "SUCCESS", "REFUND", "RECHARGE_REFUND")
ACCOUNTS = ("Basic", "Operation", "Fees")


def _refusal(status: int, body: bytes) -> str:
    """The control plane's JSON error as one line (``NO_BILL_EXIST No Bill Exist``), or the
    start of whatever else answered."""
    try:
        answer = json.loads(body)
        return f"no bill ({status}): {answer['error']} {answer['message']}"
    except (ValueError, TypeError, KeyError):
        return f"HTTP {status}: {body.decode('utf-8', 'replace')[:300]}"


def _progress() -> Progress:
    return Progress(
        TextColumn("rows"),
        BarColumn(),
        TaskProgressColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console(err=True),
        transient=False,
    )


@click.command(
    help="Save a day's trade bill (downloadbill) or fund flow (downloadfundflow) to a file; "
    "exit 1 with the platform's reason when there is none. DATE is yyyyMMdd, a Beijing day."
)
@remote_command
@click.argument("mch_id")
@click.argument("date", metavar="DATE")
@click.option(
    "--type",
    "bill_type",
    type=click.Choice(BILL_TYPES),
    default="ALL",
    show_default=True,
    help="Trade bill type.",
)
@click.option(
    "--fundflow",
    type=click.Choice(ACCOUNTS),
    help="The fund flow of this account instead of the trade bill.",
)
@click.option("--gzip", is_flag=True, help="Save the GZIP file as served.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (default bill_<type>_<mch_id>_<date>.csv, or fundflow_…).",
)
def bill(
    remote: Remote,
    mch_id: str,
    date: str,
    bill_type: str,
    fundflow: str | None,
    gzip: bool,
    out: Path | None,
) -> None:
    if fundflow:
        path = f"/_local/fundflow/{mch_id}/{date}"
        params: dict[str, Any] = {"account_type": fundflow}
        what = f"fundflow_{fundflow}"
    else:
        path = f"/_local/bills/{mch_id}/{date}"
        params = {"bill_type": bill_type}
        what = f"bill_{bill_type}"
    if gzip:
        params["tar_type"] = "GZIP"
    target = out or Path(f"{what}_{mch_id}_{date}.csv" + (".gz" if gzip else ""))
    try:
        with httpx.stream(
            "GET",
            remote.url + path,
            params=params,
            headers=remote.headers,
            timeout=None,
            trust_env=False,
        ) as response:
            if response.status_code != 200:
                reason = _refusal(response.status_code, response.read())
                raise click.ClickException(" ".join(reason.split()))
            rows = response.headers.get("x-bill-rows")
            total = int(rows) + 3 if rows else None  # the header and the two summary lines
            unpack = zlib.decompressobj(31) if gzip else None
            size = 0
            with _progress() as progress, target.open("wb") as file:
                task = progress.add_task("rows", total=total)
                for chunk in response.iter_raw():
                    file.write(chunk)
                    size += len(chunk)
                    text = unpack.decompress(chunk) if unpack is not None else chunk
                    progress.advance(task, text.count(b"\n"))
    except httpx.HTTPError as exc:
        raise remote.unreachable(exc) from None
    digest = response.headers.get("digest")
    if remote.out.as_json:
        remote.out.json({"saved": str(target), "bytes": size, "digest": digest})
    else:
        remote.out.line(
            f"saved {target} ({size:,} bytes)" + (f", Digest {digest}" if digest else "")
        )
