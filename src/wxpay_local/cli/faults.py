"""``fault add | list | remove | clear`` and ``payer-outcome``: fault rules and scripted
payers (issue 12; docs/testing.md)."""

from __future__ import annotations

from typing import Any

import click

from wxpay_local.cli.remote import Remote, remote_command
from wxpay_local.domain.faults import ACTIONS, WHEN
from wxpay_local.domain.payer_scripts import OUTCOMES

PAYER_OUTCOMES = tuple(action.removeprefix("payer_") for action in OUTCOMES)


@click.group(help="Make the platform fail on purpose: fault rules on merchant API requests.")
def fault() -> None:
    pass


@fault.command(help="Add a rule: what it matches (empty matches anything) and what it does.")
@remote_command
@click.argument("action", type=click.Choice(ACTIONS))
@click.option("--when", type=click.Choice(WHEN), help="before (default) or after the commit.")
@click.option("--mch-id", help="Only this merchant.")
@click.option("--endpoint", help="An endpoint name (micropay) or a path glob (/pay/*).")
@click.option("--host", help="A glob over the Host header (api2.mch.weixin.qq.com*).")
@click.option("--out-trade-no", help="A glob over out_trade_no (T-*).")
@click.option("--total-fee", type=int, help="Only this amount, in fen.")
@click.option("--device-info", help="Only this device_info.")
@click.option("--err-code", help="For err_code: the err_code to answer (SYSTEMERROR, …).")
@click.option("--return-msg", help="For return_fail: the return_msg.")
@click.option("--http-status", type=int, help="For http_status: the status.")
@click.option("--delay-ms", type=int, help="For delay: how long; for hold: the longest wait.")
@click.option("--times", type=int, help="Fire this many times (default: until removed).")
@click.option("--probability", type=float, help="Fire with this probability (0–1).")
@click.option("--seed", type=int, help="The seed of the probability rolls.")
def add(remote: Remote, action: str, **options: Any) -> None:
    body = {"action": action, **{k: v for k, v in options.items() if v is not None}}
    created = remote.call("POST", "/_local/faults", body)
    if remote.out.as_json:
        remote.out.json(created)
        return
    remote.out.pairs(created["describes"], [(k, str(v)) for k, v in body.items()])


@fault.command("list", help="Every rule, with how often it matched and fired.")
@remote_command
def list_(remote: Remote) -> None:
    found = remote.call("GET", "/_local/faults")
    if remote.out.as_json:
        remote.out.json(found)
        return
    remote.out.table(
        ("id", "does", "endpoint", "mch_id", "fired", "times"),
        (
            (
                r["id"],
                r["describes"].split(": ", 1)[1],
                r["endpoint"] or "*",
                r["mch_id"] or "*",
                r["fired"],
                "∞" if r["times"] is None else r["times"],
            )
            for r in found["rules"]
        ),
        empty="no fault rules",
    )


@fault.command(help="Remove one rule.")
@remote_command
@click.argument("rule_id", type=int)
def remove(remote: Remote, rule_id: int) -> None:
    answer = remote.call("DELETE", f"/_local/faults/{rule_id}")
    if remote.out.as_json:
        remote.out.json(answer)
        return
    click.echo(f"rule #{rule_id} removed")


@fault.command(help="Remove every rule.")
@remote_command
def clear(remote: Remote) -> None:
    answer = remote.call("DELETE", "/_local/faults")
    if remote.out.as_json:
        remote.out.json(answer)
        return
    click.echo(f"{answer['removed']} rule(s) removed")


@click.command(
    "payer-outcome",
    help="Script what the payer does at the next matching micropay: "
    "pays (after --at seconds), never, wrong_password (3rd wrong one after --at), "
    "notenough, bankerror, code_expired.",
)
@remote_command
@click.argument("outcome", type=click.Choice(PAYER_OUTCOMES))
@click.option("--at", "at_seconds", type=float, help="When the payer acts, platform seconds.")
@click.option("--mch-id", help="Only this merchant.")
@click.option("--out-trade-no", help="A glob over out_trade_no (T-*).")
@click.option("--total-fee", type=int, help="Only this amount, in fen.")
@click.option("--device-info", help="Only this device_info.")
@click.option("--times", type=int, help="For this many micropays (default 1).")
def payer_outcome(remote: Remote, outcome: str, **options: Any) -> None:
    body = {"outcome": outcome, **{k: v for k, v in options.items() if v is not None}}
    created = remote.call("POST", "/_local/payer-outcomes", body)
    if remote.out.as_json:
        remote.out.json(created)
        return
    remote.out.pairs(created["describes"], [(k, str(v)) for k, v in body.items()])
