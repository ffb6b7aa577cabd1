"""``probe`` (is a notification receiver correct and safe?) and ``trigger`` (real business now).

Both run in the server (``POST /_local/probe``, ``POST /_local/trigger``): it holds the keys,
the orders and the canary the XXE check needs. docs/verify-your-integration.md explains each
check.
"""

from __future__ import annotations

import json

import click

from wxpay_local.cli.output import fen, iso_millis, short_time
from wxpay_local.cli.remote import Remote, remote_command

#: The probe waits at most 5 s per check (14 checks, one of them twice at once).
PROBE_TIMEOUT = 120.0


@click.command(
    help="Send the merchant's notification endpoint URL a battery of genuine, "
    "forged and hostile notifications and grade each answer. Exit 0 only when "
    "every check passed. Sends to loopback, or hosts `serve --allow-probe-host` named."
)
@remote_command
@click.option("--mch-id", required=True, help="The merchant whose orders and key are used.")
@click.argument("target", metavar="URL")
def probe(remote: Remote, mch_id: str, target: str) -> None:
    report = remote.call(
        "POST", "/_local/probe", {"mch_id": mch_id, "url": target}, timeout=PROBE_TIMEOUT
    )
    if remote.out.as_json:
        remote.out.json(report)
    else:
        remote.out.line(
            f"probe of {report['url']} for merchant {report['mch_id']} "
            f"(order {report['out_trade_no']})"
        )
        remote.out.table(
            ("check", "must", "result", "ms", "what the receiver did"),
            (
                (
                    c["name"],
                    c["expect"],
                    "skip" if c["skipped"] else ("PASS" if c["passed"] else "FAIL"),
                    c["latency_ms"],
                    c["detail"],
                )
                for c in report["checks"]
            ),
        )
        for c in report["checks"]:
            if not c["passed"]:
                remote.out.line(f"{c['name']}: {c['fix']}")
        failed = report["failed"]
        remote.out.line("all checks passed" if not failed else f"FAILED: {', '.join(failed)}")
    if not report["passed"]:
        raise SystemExit(1)


@click.command(
    help="Make a real paid order (payment) or refund (refund) for a merchant, with "
    "its ledger entries, and send its notification."
)
@remote_command
@click.argument("kind", type=click.Choice(["payment", "refund"]))
@click.option("--mch-id", required=True, help="The merchant.")
@click.option(
    "--notify-url",
    default="",
    help="Where to notify (default: the URL of the "
    "merchant's latest order, or its refund notification URL).",
)
@click.option(
    "--total-fee",
    type=click.IntRange(1, 10**9),
    default=1,
    show_default=True,
    help="The amount in fen.",
)
@click.option(
    "--sign-type",
    type=click.Choice(["MD5", "HMAC-SHA256"]),
    default="MD5",
    show_default=True,
    help="The order's sign_type (payment).",
)
@click.option(
    "--out-trade-no",
    default="",
    help="refund: the paid order to refund (default: a fresh payment).",
)
def trigger(
    remote: Remote,
    kind: str,
    mch_id: str,
    notify_url: str,
    total_fee: int,
    sign_type: str,
    out_trade_no: str,
) -> None:
    body: dict[str, object] = {"mch_id": mch_id, "kind": kind, "total_fee": total_fee}
    if notify_url:
        body["notify_url"] = notify_url
    if kind == "payment":
        body["sign_type"] = sign_type
    if out_trade_no:
        body["out_trade_no"] = out_trade_no
    made = remote.call("POST", "/_local/trigger", body)
    if remote.out.as_json:
        remote.out.json(made)
        return
    order, refund = made["order"], made["refund"]
    rows: list[tuple[str, object]] = [
        ("out_trade_no", order["out_trade_no"]),
        ("transaction_id", order["transaction_id"]),
        ("total_fee", fen(order["total_fee"])),
        ("notify_url", order["notify_url"]),
    ]
    if refund is not None:
        rows += [
            ("out_refund_no", refund["out_refund_no"]),
            ("refund_id", refund["refund_id"]),
            ("refund_status", refund["refund_status"]),
        ]
    remote.out.pairs("refund made" if refund else "payment made", rows)


def _entry_line(entry: dict[str, object]) -> str:
    at = entry.get("at")
    when = iso_millis(at) if isinstance(at, int) else ""
    outcome = entry.get("err_code") or entry.get("result_code") or entry.get("return_code")
    message = entry.get("message") or ""
    return f"{short_time(when)}  {entry.get('mch_id') or '-'}  {entry.get('path')}  {outcome}" + (
        f"  {message}" if message else ""
    )


@click.command(
    help="Follow the journal live: each merchant API call as the server answers "
    "it (a stream, not polling). Ctrl-C stops."
)
@remote_command
@click.option("--mch-id", default="", help="Only this merchant's calls.")
@click.option("--count", type=click.IntRange(1), default=None, help="Stop after this many entries.")
def tail(remote: Remote, mch_id: str, count: int | None) -> None:
    params = {"mch_id": mch_id} if mch_id else None
    seen = 0
    for entry in remote.stream("/_local/journal/stream", params):
        remote.out.line(
            json.dumps(entry, ensure_ascii=False) if remote.out.as_json else _entry_line(entry)
        )
        seen += 1
        if count is not None and seen >= count:
            return


@click.command(
    help="Deliver a merchant's notifications to a local URL, whatever notify_url "
    "its orders carry, printing each delivery and its answer as it happens; stops "
    "forwarding when this command stops (Ctrl-C)."
)
@remote_command
@click.option("--mch-id", required=True, help="The merchant whose notifications to forward.")
@click.option(
    "--forward-to",
    required=True,
    metavar="URL",
    help="Where to deliver them (loopback, or a host `serve --allow-probe-host` named).",
)
@click.option(
    "--count", type=click.IntRange(1), default=None, help="Stop after this many deliveries."
)
def listen(remote: Remote, mch_id: str, forward_to: str, count: int | None) -> None:
    seen = 0
    remote.out.note(f"forwarding notifications of {mch_id} to {forward_to} (Ctrl-C stops)")
    for d in remote.stream("/_local/listen", body={"mch_id": mch_id, "forward_to": forward_to}):
        if remote.out.as_json:
            remote.out.line(json.dumps(d, ensure_ascii=False))
        else:
            status = d["http_status"] if d["http_status"] is not None else "-"
            said = "SUCCESS" if d["ok"] else d["reason"]
            remote.out.line(
                f"{d['kind']}  {d['out_trade_no']}  #{d['attempt']}  -> {status}  "
                f"{said}  {d['latency_ms']} ms"
            )
        seen += 1
        if count is not None and seen >= count:
            return
