"""``clock show | advance | set | freeze | reset`` (``real``: the old name of ``reset``)."""

from __future__ import annotations

from typing import Any

import click

from wxpay_local.cli.output import Duration, short_time
from wxpay_local.cli.remote import Remote, remote_command


def _show(remote: Remote, clock: dict[str, Any]) -> None:
    if remote.out.as_json:
        remote.out.json(clock)
        return
    offset = int(clock["offset_seconds"])
    remote.out.pairs(
        "platform clock",
        [
            ("now", short_time(clock["now"])),
            ("offset", _human(offset)),
            ("frozen", clock["frozen"]),
        ],
    )


def _human(seconds: int) -> str:
    """``5400`` -> ``+1h30m``: the same units ``advance`` takes."""
    sign, left = ("-" if seconds < 0 else "+"), abs(seconds)
    parts = []
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        if left >= size:
            parts.append(f"{left // size}{unit}")
            left %= size
    return sign + ("".join(parts) or "0s")


@click.group(help="The platform's test clock: show, advance, set, freeze, reset to real time.")
def clock() -> None:
    pass


@clock.command(help="The platform time, its offset from real time, and whether it is frozen.")
@remote_command
def show(remote: Remote) -> None:
    _show(remote, remote.call("GET", "/_local/clock"))


@clock.command(help="Move the platform time forward by DURATION: 90s, 5m, 1h30m, 2d (or seconds).")
@remote_command
@click.argument("amount", metavar="DURATION", type=Duration())
def advance(remote: Remote, amount: int) -> None:
    _show(remote, remote.call("POST", "/_local/clock/advance", {"seconds": amount}))


@clock.command(
    "set",
    help="Set the platform time to WHEN (ISO 8601 with an offset, e.g. 2024-05-02T10:00:00+08:00).",
)
@remote_command
@click.argument("when")
@click.option("--freeze", is_flag=True, help="And stop it there.")
def set_(remote: Remote, when: str, freeze: bool) -> None:
    _show(remote, remote.call("POST", "/_local/clock", {"now": when, "freeze": freeze}))


@clock.command(help="Stop the platform time where it is (advance still moves it).")
@remote_command
def freeze(remote: Remote) -> None:
    _show(remote, remote.call("POST", "/_local/clock", {"freeze": True}))


@clock.command(help="Back to real time: no offset, not frozen.")
@remote_command
def reset(remote: Remote) -> None:
    _show(remote, remote.call("POST", "/_local/clock", {"real": True}))


# the old name, kept working for scripts; hidden so the help shows one way to say it
clock.add_command(
    click.Command(
        "real", callback=reset.callback, params=reset.params, hidden=True, help=reset.help
    )
)
