"""How every command prints: a readable table by default, JSON with ``--json``.

Tables are rich's. On a terminal they fit its width; anywhere else (a pipe, a file, a test)
the console is as wide as the longest line, so rows never wrap into lines a script must join.
Cells are ``Text``, never markup: a merchant called ``[b]Shop`` prints as written.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import click
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from wxpay_local.timefmt import from_millis

#: wide enough for any row; only used when stdout is not a terminal
_PIPE_WIDTH = 10_000


def console(err: bool = False) -> Console:
    """A console on the current stdout/stderr (looked up now, so CliRunner's capture works)."""
    stream = sys.stderr if err else sys.stdout
    width = None if stream.isatty() else _PIPE_WIDTH
    return Console(file=stream, width=width, soft_wrap=False, highlight=False, markup=False)


def _print(renderable: Table) -> None:
    """On a terminal as rich draws it; elsewhere without the padding at the end of lines."""
    out = console()
    if out.is_terminal:
        out.print(renderable)
        return
    with out.capture() as captured:
        out.print(renderable)
    click.echo("\n".join(line.rstrip() for line in captured.get().splitlines()))


class Output:
    """One command's output: JSON when ``as_json``, else tables and lines."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def json(self, data: Any) -> None:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))

    def line(self, text: str) -> None:
        click.echo(text)

    def note(self, text: str) -> None:
        """A remark for the person, on stderr (stdout stays the result)."""
        click.echo(text, err=True)

    def table(
        self, columns: Sequence[str], rows: Iterable[Sequence[object]], empty: str = "none"
    ) -> None:
        values = [list(row) for row in rows]
        if not values:
            self.line(empty)
            return
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
        for index, name in enumerate(columns):
            numbers = all(_is_number(row[index]) for row in values)
            table.add_column(
                name, justify="right" if numbers else "left", no_wrap=not sys.stdout.isatty()
            )
        for row in values:
            table.add_row(*(cell(v) for v in row))
        _print(table)

    def pairs(self, heading: str, rows: Iterable[tuple[str, object]]) -> None:
        """A heading, then ``name  value`` lines (a record, not a list)."""
        self.line(heading)
        grid = Table.grid(padding=(0, 2), pad_edge=False)
        grid.add_column(no_wrap=True)
        grid.add_column()
        for name, value in rows:
            grid.add_row(Text("  " + name), cell(value))
        _print(grid)


def cell(value: object) -> Text:
    if value is None:
        return Text("-")
    if isinstance(value, bool):
        return Text("yes" if value else "no")
    return Text(str(value))


def _is_number(value: object) -> bool:
    """Amounts and counts line up on the right."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, str) and value.endswith(" fen"))


def fen(amount: int) -> str:
    return f"{amount:,} fen"


def iso_millis(millis: int | None) -> str | None:
    """The journal's epoch milliseconds as ISO 8601 in Beijing time, like every other time."""
    return None if millis is None else from_millis(millis).isoformat(timespec="milliseconds")


def short_time(text: str | None) -> str:
    """An ISO time without microseconds, for a table cell (``--json`` keeps it whole)."""
    if not text:
        return "-"
    try:
        return datetime.fromisoformat(text).isoformat(timespec="seconds")
    except ValueError:
        return text


# durations -----------------------------------------------------------------------------------
# Written here rather than taken from a library: the grammar is ours (the four units the
# platform's docs use, combined largest first), and pytimeparse, the usual choice, accepts
# many other spellings (``1:30``, ``5 mins``) we would then have to document and keep.
_UNITS = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}
_DURATION = re.compile(
    r"(?:(\d+(?:\.\d+)?)d)?(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?"
    r"(?:(\d+(?:\.\d+)?)s)?"
)


def parse_duration(text: str) -> int:
    """``90`` or ``90s``, ``5m``, ``1h30m``, ``2d``, ``1.5h`` -> whole seconds (the control plane
    takes integers); ValueError otherwise."""
    text = text.strip().lower()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return int(float(text))
    found = _DURATION.fullmatch(text)
    if not text or found is None:
        raise ValueError(f"{text!r} is not a duration: use e.g. 90s, 5m, 1h30m, 2d")
    return int(
        sum(float(n) * unit for n, unit in zip(found.groups(), _UNITS.values(), strict=True) if n)
    )


class Duration(click.ParamType):  # type: ignore[type-arg]
    name = "DURATION"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        try:
            return parse_duration(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
