"""The schema's migrations: versioned SQL files, each applied once, its checksum recorded.

``migrations/NNNN_name.sql`` are applied in order, each in the opening transaction, and
``schema_migrations`` records (version, name, sha256 of the file). Opening a database checks
the record against the files (procrastinate's discipline: a shipped migration never changes):
an applied migration whose file changed or disappeared stops the store with ``SchemaMismatch``
instead of running on a schema nobody wrote.

A database made before checksums (the ``schema_version`` table of the first runner) is adopted:
its versions are recorded with the checksums of the files that made them, and the old table
goes. Files use ``{pk}`` and ``{bytes}`` for the two types the databases spell differently.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, Protocol

SUBSTITUTIONS = {
    "sqlite": {"{pk}": "INTEGER PRIMARY KEY AUTOINCREMENT", "{bytes}": "BLOB"},
    "postgresql": {"{pk}": "BIGSERIAL PRIMARY KEY", "{bytes}": "BYTEA"},
}


class Cursor(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ...) -> Any: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


class SchemaMismatch(RuntimeError):
    """The database's applied migrations are not the ones this version ships."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    script: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.script.encode("utf-8")).hexdigest()


def shipped() -> list[Migration]:
    folder = resources.files("wxpay_local.store") / "migrations"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            number, _, rest = entry.name.partition("_")
            found.append(
                Migration(int(number), rest.removesuffix(".sql"), entry.read_text("utf-8"))
            )
    return sorted(found, key=lambda m: m.version)


def sqlite_statements(script: str) -> list[str]:
    """A script's statements, split where SQLite's own parser says a statement ends (so a
    ``;`` inside a literal, an identifier or a comment does not split it)."""
    statements: list[str] = []
    current = ""
    for piece in script.split(";"):
        current += piece + ";"
        if sqlite3.complete_statement(current):
            if current.strip(" \t\r\n;"):
                statements.append(current.strip())
            current = ""
    return statements


def apply(
    cur: Cursor,
    dialect: str,
    run_script: Callable[[str], None],
    migrations: Sequence[Migration] | None = None,
) -> int:
    """Check what was applied, apply the rest (in the caller's transaction); the version."""
    marker = "%s" if dialect == "postgresql" else "?"
    migrations = shipped() if migrations is None else migrations
    by_version = {m.version: m for m in migrations}
    cur.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,"
        " name TEXT NOT NULL, checksum TEXT NOT NULL)"
    )
    _adopt_first_runner(cur, dialect, by_version, marker)
    cur.execute("SELECT version, checksum FROM schema_migrations ORDER BY version")
    applied = {int(version): checksum for version, checksum in cur.fetchall()}
    for version, checksum in applied.items():
        known = by_version.get(version)
        if known is None:
            raise SchemaMismatch(
                f"the database has migration {version}, which this wxpay-local does not ship"
                " (a newer version made it)"
            )
        if known.checksum != checksum:
            raise SchemaMismatch(
                f"migration {version} ({known.name}) differs from the one applied to this"
                " database: a shipped migration must never change"
            )
    current = max(applied, default=0)
    for migration in migrations:
        if migration.version in applied:
            continue
        script = migration.script
        for old, new in SUBSTITUTIONS[dialect].items():
            script = script.replace(old, new)
        run_script(script)
        cur.execute(
            f"INSERT INTO schema_migrations (version, name, checksum)"
            f" VALUES ({marker}, {marker}, {marker})",
            (migration.version, migration.name, migration.checksum),
        )
        current = max(current, migration.version)
    return current


def _adopt_first_runner(
    cur: Cursor, dialect: str, by_version: dict[int, Migration], marker: str
) -> None:
    """Record the versions the first runner's ``schema_version`` lists, then drop it."""
    if dialect == "postgresql":
        cur.execute("SELECT to_regclass('schema_version') IS NOT NULL")
    else:
        cur.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
        )
    if not cur.fetchone()[0]:
        return
    cur.execute("SELECT DISTINCT version FROM schema_version ORDER BY version")
    for (version,) in cur.fetchall():
        known = by_version.get(int(version))
        if known is None:
            raise SchemaMismatch(f"the database has migration {version}, unknown here")
        cur.execute(
            f"INSERT INTO schema_migrations (version, name, checksum)"
            f" VALUES ({marker}, {marker}, {marker}) ON CONFLICT (version) DO NOTHING",
            (known.version, known.name, known.checksum),
        )
    cur.execute("DROP TABLE schema_version")
