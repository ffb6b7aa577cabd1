"""``acceptance`` (支付验收): start a run for a merchant, or print a run's report card.

The run lives in the server (``/_local/acceptance/{mch_id}``): starting one arms the case rules
and answers a mark (``since_id``); the report card grades the journal since that mark, so the
two steps can be two commands with the merchant's own system running in between.
docs/verify-your-integration.md lists what the merchant's system does to start each case.
"""

from __future__ import annotations

import click

from wxpay_local.cli.remote import Remote, remote_command


@click.command(
    help="Acceptance check (支付验收). Without --report: start a run (arm the cases) and print "
    "what the merchant's system must do. With --report SINCE_ID: print the report card of "
    "the run started then, case by case, with journal entries as evidence; exit 1 if a case "
    "failed."
)
@remote_command
@click.option(
    "--report",
    "since_id",
    type=click.IntRange(0),
    default=None,
    metavar="SINCE_ID",
    help="Grade the run that started at this journal id (printed when it started).",
)
@click.argument("mch_id")
def acceptance(remote: Remote, mch_id: str, since_id: int | None) -> None:
    path = f"/_local/acceptance/{mch_id}"
    if since_id is None:
        run = remote.call("POST", path)
        if remote.out.as_json:
            remote.out.json(run)
            return
        remote.out.line(
            f"acceptance run for merchant {mch_id} started (since_id {run['since_id']})"
        )
        remote.out.table(("case", "how to play it"), sorted(run["cases"].items()))
        remote.out.line(f"then: wxpay-local acceptance {mch_id} --report {run['since_id']}")
        return
    card = remote.call("GET", path, params={"since_id": str(since_id)})
    if remote.out.as_json:
        remote.out.json(card)
    else:
        remote.out.table(
            ("case", "result", "why"),
            ((c["case"], c["status"].upper(), c["why"]) for c in card["cases"]),
        )
        for c in card["cases"]:
            for line in c["evidence"]:
                remote.out.line(f"  {c['case']}: {line}")
        remote.out.line(f"report card: {card['passed']} pass, {card['failed']} fail")
    if card["failed"]:
        raise SystemExit(1)
