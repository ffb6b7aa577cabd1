"""``wxpay-local bill``: save a day's trade bill or fund flow from a running platform.

Streams ``/_local/bills/…`` (or ``/_local/fundflow/…``) to a file, with a progress bar on stderr
for big days (rows written of ``X-Bill-Rows``). Imports: httpx, stdlib.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import zlib
from pathlib import Path
from typing import Any, TextIO

import httpx

BILL_TYPES = ("ALL", "SUCCESS", "REFUND", "RECHARGE_REFUND")
ACCOUNTS = ("Basic", "Operation", "Fees")


class Progress:
    """A progress bar on a terminal (or a line every few seconds elsewhere)."""

    def __init__(self, total: int | None, out: TextIO = sys.stderr, width: int = 30) -> None:
        self.total, self.out, self.width = total, out, width
        self.done = 0
        self.started = time.monotonic()
        self._shown = self.started
        self._tty = out.isatty()

    def advance(self, rows: int, size: int) -> None:
        self.done += rows
        now = time.monotonic()
        if now - self._shown >= (0.1 if self._tty else 2.0):
            self._shown = now
            self.show(size)

    def show(self, size: int, end: str = "") -> None:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = f"{self.done / elapsed:,.0f} rows/s, {size / 1e6:,.1f} MB"
        if self.total:
            share = min(self.done / self.total, 1.0)
            bar = "#" * int(share * self.width)
            text = f"[{bar:<{self.width}}] {share:6.1%} {self.done:,}/{self.total:,} ({rate})"
        else:
            text = f"{self.done:,} rows ({rate})"
        self.out.write(("\r" if self._tty else "") + text + (end or ("" if self._tty else "\n")))
        self.out.flush()


def _default_name(args: argparse.Namespace) -> str:
    what = f"fundflow_{args.fundflow}" if args.fundflow else f"bill_{args.type}"
    return f"{what}_{args.mch_id}_{args.date}.csv" + (".gz" if args.gzip else "")


def _refusal(body: bytes) -> str:
    """The control plane's JSON error as one line: ``NO_BILL_EXIST No Bill Exist``."""
    try:
        answer = json.loads(body)
        return f"{answer['error']} {answer['message']}"
    except (ValueError, TypeError, KeyError):
        return body.decode("utf-8", "replace")[:200]


def cmd_bill(args: argparse.Namespace) -> int:
    """Save a bill; exit 1 with the platform's answer when there is none."""
    if args.fundflow:
        path = f"/_local/fundflow/{args.mch_id}/{args.date}"
        params: dict[str, Any] = {"account_type": args.fundflow}
    else:
        path = f"/_local/bills/{args.mch_id}/{args.date}"
        params = {"bill_type": args.type}
    if args.gzip:
        params["tar_type"] = "GZIP"
    target = Path(args.out or _default_name(args))
    try:
        token = getattr(args, "admin_token", None)
        with httpx.stream(
            "GET",
            args.url.rstrip("/") + path,
            params=params,
            headers={"authorization": f"Bearer {token}"} if token else None,
            timeout=None,
            trust_env=False,
        ) as response:
            if response.status_code != 200:
                refusal = _refusal(response.read())
                print(f"no bill ({response.status_code}): {refusal}", file=sys.stderr)
                return 1
            rows_header = response.headers.get("x-bill-rows")
            total = int(rows_header) + 3 if rows_header else None  # header and summary lines
            progress = Progress(total)
            unpack = zlib.decompressobj(31) if args.gzip else None
            size = 0
            with target.open("wb") as out:
                for chunk in response.iter_raw():
                    out.write(chunk)
                    size += len(chunk)
                    text = unpack.decompress(chunk) if unpack is not None else chunk
                    progress.advance(text.count(b"\n"), size)
            progress.show(size, end="\n")
    except httpx.HTTPError as exc:
        sys.exit(f"cannot reach wxpay-local at {args.url}: {exc} (is `wxpay-local serve` running?)")
    digest = response.headers.get("digest")
    print(f"saved {target} ({size:,} bytes)" + (f", Digest {digest}" if digest else ""))
    return 0


def add_parser(sub: Any, remote: Any) -> None:
    """The ``bill`` subcommand (``remote`` adds --url and --admin-token)."""
    bill = remote(
        sub.add_parser(
            "bill",
            help="save a day's trade bill (downloadbill) or fund flow (downloadfundflow)",
        )
    )
    bill.add_argument("mch_id", metavar="MCH_ID")
    bill.add_argument("date", metavar="DATE", help="yyyyMMdd (Beijing day)")
    bill.add_argument("--type", default="ALL", choices=BILL_TYPES, help="trade bill type")
    bill.add_argument(
        "--fundflow", choices=ACCOUNTS, help="the fund flow of this account instead of the bill"
    )
    bill.add_argument("--gzip", action="store_true", help="save the GZIP file as served")
    bill.add_argument("--out", help="file to write (default bill_<type>_<mch_id>_<date>.csv)")
    bill.set_defaults(func=cmd_bill)
