"""How one database spells placeholders and row locks, and the one translation between them.

SQL is written once, with ``?`` placeholders, ``{lock}`` where a row lock is taken and
``{skip}`` where locked rows are skipped. ``render`` rewrites it per dialect by scanning it,
not by ``str.replace``: a ``?`` inside a string literal, a quoted identifier or a comment stays
as written, and on PostgreSQL every ``%`` is doubled (psycopg reads ``%`` anywhere in the text,
literals included, as the start of a placeholder). Rendered statements are cached.
"""

from __future__ import annotations

import re
from functools import lru_cache

#: The text's pieces: a string literal, a quoted identifier, a comment, a marker, or a run of
#: anything else. Literals and identifiers double their own quote to contain it.
_TOKEN = re.compile(
    r"""(?P<quoted>'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|/\*.*?\*/)"""
    r"|(?P<marker>\{lock\}|\{skip\}|\?)"
    r"|(?P<other>[^'\"?{/-]+|.)",
    re.DOTALL,
)

#: Statements that change what ``IdentityCache`` holds (merchant rows, app bindings).
_CHANGES_IDENTITY = re.compile(
    r"^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM|REPLACE\s+INTO)\s+(?:merchants|app_bindings)\b",
    re.IGNORECASE,
)


class UnterminatedLiteral(ValueError):
    """A template whose string literal or quoted identifier never ends."""


class Dialect:
    """One database's spelling: its placeholder, its row lock, whether ``%`` needs doubling."""

    def __init__(
        self, name: str, placeholder: str, lock_clause: str, skip_locked: str, percent: str
    ) -> None:
        self.name = name
        self._markers = {"?": placeholder, "{lock}": lock_clause, "{skip}": skip_locked}
        self._percent = percent
        self.sql = lru_cache(maxsize=512)(self._render)
        #: (the statement, whether it changes a merchant or an app binding), cached.
        self.plan = lru_cache(maxsize=512)(self._plan)

    def _render(self, template: str) -> str:
        out: list[str] = []
        for match in _TOKEN.finditer(template):
            kind = match.lastgroup
            text = match.group()
            if kind == "marker":
                out.append(self._markers[text])
            else:
                if kind == "other" and text in ("'", '"'):
                    raise UnterminatedLiteral(template)
                out.append(text.replace("%", self._percent))
        return "".join(out)

    def _plan(self, template: str) -> tuple[str, bool]:
        return self._render(template), _CHANGES_IDENTITY.match(template) is not None


SQLITE = Dialect("sqlite", "?", "", "", "%")
POSTGRES = Dialect("postgresql", "%s", " FOR UPDATE", " FOR UPDATE SKIP LOCKED", "%%")
