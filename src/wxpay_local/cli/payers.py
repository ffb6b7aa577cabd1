"""``payer …``, ``pay`` (a payer pays or walks away) and ``refund …``."""

from __future__ import annotations

from typing import Any

import click

from wxpay_local.cli.output import fen, short_time
from wxpay_local.cli.remote import Remote, remote_command

REFUND_OUTCOMES = ("SUCCESS", "CHANGE", "REFUNDCLOSE")


def _payer_id(remote: Remote, who: str) -> int:
    if who.isdigit():
        return int(who)
    return int(remote.call("GET", f"/_local/openids/{who}")["payer_id"])


def _cards(payer: dict[str, Any]) -> str:
    return ", ".join(f"#{c['card_id']} {c['bank_type']}" for c in payer["cards"]) or "none"


def _show_payer(remote: Remote, p: dict[str, Any], heading: str) -> None:
    remote.out.pairs(
        heading,
        [
            ("name", p["name"]),
            ("balance", fen(p["balance"])),
            ("pay password", p["pay_password"]),
            ("cards", _cards(p)),
            *[(f"openid {appid}", openid) for appid, openid in p["openids"].items()],
        ],
    )


def _outcome(remote: Remote, answer: dict[str, Any], paid: tuple[str, ...]) -> None:
    """Print a payment's outcome; exit 1 unless it is one of ``paid``."""
    if remote.out.as_json:
        remote.out.json(answer)
    else:
        remote.out.line(f"{answer['outcome']}: {answer['message']}")
        order = answer.get("order")
        if order:
            remote.out.line(
                f"order {order['out_trade_no']} is {order['trade_state']}"
                + (f", transaction_id {order['transaction_id']}" if order["transaction_id"] else "")
            )
    if answer["outcome"] not in paid:
        raise click.exceptions.Exit(1)


@click.group(help="Create, list, show payers; a payment code; answer a micropay password prompt.")
def payer() -> None:
    pass


@payer.command(help="Create a payer with a wallet balance and bank cards.")
@remote_command
@click.option("--name", default="Payer", show_default=True, help="The payer's name.")
@click.option(
    "--balance",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Wallet balance in fen.",
)
@click.option(
    "--card", multiple=True, metavar="BANK_TYPE", help="A card, e.g. CMB_CREDIT (repeatable)."
)
def create(remote: Remote, name: str, balance: int, card: tuple[str, ...]) -> None:
    body: dict[str, Any] = {"name": name, "balance": balance}
    if card:
        body["cards"] = list(card)
    created = remote.call("POST", "/_local/payers", body)
    if remote.out.as_json:
        remote.out.json(created)
    else:
        _show_payer(remote, created, f"payer {created['payer_id']} created")


@payer.command("list", help="Every payer, with balance and cards.")
@remote_command
def list_(remote: Remote) -> None:
    found = remote.call("GET", "/_local/payers")
    if remote.out.as_json:
        remote.out.json(found)
        return
    remote.out.table(
        ("id", "name", "balance", "cards"),
        ((p["payer_id"], p["name"], fen(p["balance"]), _cards(p)) for p in found["payers"]),
        empty="no payers",
    )


@payer.command(help="One payer: balance, password, cards, openids.")
@remote_command
@click.argument("who", metavar="PAYER")
@click.option("--appid", help="Also give (and create) the payer's openid under this appid.")
def show(remote: Remote, who: str, appid: str | None) -> None:
    path = f"/_local/payers/{_payer_id(remote, who)}"
    if appid:  # issuing an openid is a write: its own POST before the read
        remote.call("POST", f"{path}/openids", {"appid": appid})
    found = remote.call("GET", path)
    if remote.out.as_json:
        remote.out.json(found)
    else:
        _show_payer(remote, found, f"payer {found['payer_id']}")


@payer.command(help="A new payment code (auth_code) for micropay; single use.")
@remote_command
@click.argument("who", metavar="PAYER")
def code(remote: Remote, who: str) -> None:
    issued = remote.call("POST", f"/_local/payers/{_payer_id(remote, who)}/codes", {})
    if remote.out.as_json:
        remote.out.json(issued)
        return
    remote.out.line(issued["auth_code"])  # alone on stdout: `$(wxpay-local payer code 1)`
    remote.out.note(f"valid until {issued['expires_at']}, single use")


@payer.command(help="Answer the payer's micropay password prompt (the newest waiting).")
@remote_command
@click.argument("who", metavar="PAYER")
@click.option("--password", help="The payment password.")
@click.option("--cancel", is_flag=True, help="Close the prompt instead.")
def confirm(remote: Remote, who: str, password: str | None, cancel: bool) -> None:
    if not cancel and password is None:
        raise click.UsageError("give --password or --cancel")
    prompt: dict[str, Any] = {"cancel": True} if cancel else {"password": password}
    answer = remote.call("POST", f"/_local/payers/{_payer_id(remote, who)}/confirm", prompt)
    _outcome(remote, answer, ("SUCCESS", "CANCELLED"))


@click.command(help="Pay a prepay_id or a Native code_url as a payer (exit 1 unless paid).")
@remote_command
@click.argument("target", metavar="PREPAY_ID|CODE_URL")
@click.option("--payer", "payer_id", type=int, required=True, help="The paying payer's id.")
@click.option("--card", type=int, help="Card id (default: the wallet).")
@click.option("--password", help="The payment password (default: the payer's own).")
@click.option("--cancel", is_flag=True, help="Walk away instead of paying.")
def pay(
    remote: Remote,
    target: str,
    payer_id: int,
    card: int | None,
    password: str | None,
    cancel: bool,
) -> None:
    body: dict[str, Any] = {"payer_id": payer_id, "action": "cancel" if cancel else "pay"}
    body["code_url" if target.startswith("weixin://") else "prepay_id"] = target
    if card is not None:
        body["card_id"] = card
    if password is not None:
        body["password"] = password
    _outcome(remote, remote.call("POST", "/_local/pay", body), ("SUCCESS",))


@click.group(help="An order's refunds, or decide a refund's outcome now.")
def refund() -> None:
    pass


@refund.command("list", help="The refunds of one order.")
@remote_command
@click.argument("mch_id")
@click.argument("out_trade_no")
def refund_list(remote: Remote, mch_id: str, out_trade_no: str) -> None:
    found = remote.call("GET", f"/_local/orders/{mch_id}/{out_trade_no}/refunds")
    if remote.out.as_json:
        remote.out.json(found)
        return
    remote.out.table(
        ("refund_id", "out_refund_no", "refund_fee", "status", "to", "created"),
        (
            (
                r["refund_id"],
                r["out_refund_no"],
                fen(r["refund_fee"]),
                r["refund_status"],
                r["refund_recv_accout"],
                short_time(r["created_at"]),
            )
            for r in found["refunds"]
        ),
        empty="no refunds",
    )


@refund.command(help="Decide a PROCESSING refund's outcome now (and notify).")
@remote_command
@click.argument("refund_id")
@click.argument("status", type=click.Choice(REFUND_OUTCOMES, case_sensitive=False))
def outcome(remote: Remote, refund_id: str, status: str) -> None:
    body = {"refund_status": status.upper()}
    done = remote.call("POST", f"/_local/refunds/{refund_id}/outcome", body)
    if remote.out.as_json:
        remote.out.json(done)
        return
    remote.out.pairs(
        f"refund {done['refund_id']} is {done['refund_status']}",
        [
            ("out_refund_no", done["out_refund_no"]),
            ("refund_fee", fen(done["refund_fee"])),
            ("to", done["refund_recv_accout"]),
            ("success_time", short_time(done["success_time"])),
        ],
    )
