"""What happened: ``ledger``, ``notifications``, ``journal``; and ``reset`` (deletes it all)."""

from __future__ import annotations

import sys
from typing import Any

import click

from wxpay_local.cli.output import fen, iso_millis, short_time
from wxpay_local.cli.remote import Remote, remote_command


@click.command(help="Account balances (fen); they always sum to 0.")
@remote_command
@click.option("--prefix", default="", help="Only accounts whose name starts with this.")
def ledger(remote: Remote, prefix: str) -> None:
    found = remote.call("GET", "/_local/ledger", params={"prefix": prefix} if prefix else None)
    if remote.out.as_json:
        remote.out.json(found)
        return
    remote.out.table(
        ("account", "balance"),
        [
            *((name, fen(v)) for name, v in sorted(found["accounts"].items())),
            ("total", fen(found["total"])),
        ],
    )


def _attempts(n: dict[str, Any]) -> str:
    attempts = n["attempts"]
    if not attempts:
        return "none yet"
    last = attempts[-1]
    said = "ok" if last["ok"] else (last["reason"] or f"HTTP {last['http_status']}")
    return f"{len(attempts)}, last: {said}"


@click.command(help="Notifications to merchants, and every delivery attempt.")
@remote_command
@click.option("--kind", type=click.Choice(["payment", "refund"]), help="Only this kind.")
@click.option("--mch-id", help="Only this merchant's.")
def notifications(remote: Remote, kind: str | None, mch_id: str | None) -> None:
    params = {k: v for k, v in (("kind", kind), ("mch_id", mch_id)) if v}
    found = remote.call("GET", "/_local/notifications", params=params)
    if remote.out.as_json:
        remote.out.json(found)
        return
    remote.out.table(
        ("id", "kind", "out_trade_no", "status", "attempts", "next", "url"),
        (
            (
                n["id"],
                n["kind"],
                n["out_trade_no"],
                n["status"],
                _attempts(n),
                short_time(n["next_attempt_at"]),
                n["url"],
            )
            for n in found["notifications"]
        ),
        empty="no notifications",
    )


@click.command(
    help="The request journal: every merchant API call, newest first, and why a failure failed."
)
@remote_command
@click.option("--failures", is_flag=True, help="Only calls that failed.")
@click.option("--mch-id", help="Only this merchant's calls.")
@click.option(
    "--limit", type=click.IntRange(1, 500), default=50, show_default=True, help="How many."
)
def journal(remote: Remote, failures: bool, mch_id: str | None, limit: int) -> None:
    params = {"limit": str(limit)}
    if failures:
        params["failures"] = "1"
    if mch_id:
        params["mch_id"] = mch_id
    entries = remote.call("GET", "/_local/journal", params=params)["entries"]
    for entry in entries:  # epoch milliseconds on the wire; ISO here, like every other time
        entry["at"] = iso_millis(entry["at"])
    if remote.out.as_json:
        remote.out.json({"entries": entries})
        return
    remote.out.table(
        ("id", "at", "path", "mch_id", "result", "why"),
        (
            (
                e["id"],
                e["at"],
                e["path"],
                e["mch_id"],
                e["err_code"] or e["result_code"] or e["return_code"],
                _why(e),
            )
            for e in entries
        ),
        empty="no calls journaled",
    )


def _why(entry: dict[str, Any]) -> str:
    """The platform's message, and for a bad sign the cause the signature doctor named."""
    signature = (entry.get("explanation") or {}).get("signature") or {}
    cause = signature.get("cause", "") if isinstance(signature, dict) else ""
    message = entry.get("message") or ""
    return f"{message}: {cause}" if cause else message


def _confirmed(question: str) -> bool:
    """The person's yes; no answer (end of input) is a no."""
    try:
        answer = click.confirm(question, err=True)
    except click.Abort:
        answer = False
    if not sys.stdin.isatty():  # nothing echoed the answer's newline: end the prompt's line
        click.echo(err=True)
    return answer


@click.command(help="Delete all data: merchants, payers, orders, the journal (asks first).")
@remote_command
@click.option("--yes", "-y", is_flag=True, help="Do not ask.")
def reset(remote: Remote, yes: bool) -> None:
    if not yes and not _confirmed(
        f"Delete every merchant, payer, order and record at {remote.url}?"
    ):
        raise click.ClickException("nothing was deleted (--yes deletes without asking)")
    done = remote.call("POST", "/_local/reset", {})
    if remote.out.as_json:
        remote.out.json(done)
    else:
        remote.out.line(f"reset: everything at {remote.url} is deleted")
