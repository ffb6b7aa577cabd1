"""Databases of namespaces: where one lives, making and dropping it, snapshots and restores.

A namespace has a database of its own beside the root one (docs/namespaces.md): on SQLite a
file ``namespaces/<name>.sqlite3`` next to the root file (a root in memory has none), on
PostgreSQL a schema ``<root schema>__<name>`` in the same database. Each is migrated by
``store.migrate`` like any store, so nothing in the request path knows of them.

Snapshots: on SQLite the backup API (``sqlite3.Connection.backup``) copies the whole file, page
by page, to a file ``<name>.<label>.snap`` and back; on
PostgreSQL each table is copied to a schema ``<schema>__s_<label>`` and back in one transaction.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from psycopg import Cursor, conninfo, sql

from wxpay_local.store.engine import SqlStore
from wxpay_local.store.postgres import PostgresStore
from wxpay_local.store.sqlite import SqliteStore

MEMORY = ":memory:"
#: A namespace is a disposable test world: its SQLite commits are not flushed to the disk one
#: by one (WAL with synchronous=NORMAL: never corrupt, the last commits may be lost if the
#: machine loses power). That saves an fsync per commit and the commit thread's start.
NAMESPACE_DURABILITY = "normal"
#: The root's settings a namespace inherits: the platform CA (its identity, and what issued
#: the merchants' client certificates the TLS listener checks) and the console's secrets (one
#: console sign-in and one payer session cookie for the whole server).
INHERITED_SETTINGS = ("pki.ca", "pki.server", "pki.console_secret", "pki.console_operator_password")


# where ----------------------------------------------------------------------------------------
class Unavailable(Exception):
    """The server's database cannot have namespaces (an in-memory SQLite database)."""


def sqlite_dir(root: SqliteStore) -> Path:
    """The directory of namespace files."""
    path = root.path
    if path == MEMORY or path.startswith("file::memory:"):
        raise Unavailable("a server on an in-memory SQLite database has no namespaces")
    return Path(path).parent / "namespaces"


def pg_schema(root: PostgresStore, name: str) -> str:
    base = str(_pg_one(root, "SELECT current_schema()") or "public")
    return f"{base}__{name}"[:63]


def _pg_one(store: PostgresStore, query: str, params: tuple[object, ...] = ()) -> object:
    with store.connection() as conn, conn.cursor() as cur:
        cur.execute(query, params)
        row = cur.fetchone()
    return None if row is None else row[0]


def _pg_url(root: PostgresStore, schema: str) -> str:
    options = conninfo.conninfo_to_dict(root.url).get("options") or ""
    kept = " ".join(part for part in str(options).split() if "search_path" not in part)
    return conninfo.make_conninfo(root.url, options=f"{kept} -csearch_path={schema}".strip())


# create / open / drop -------------------------------------------------------------------------
def open_namespace(root: SqlStore, name: str, *, create: bool) -> SqlStore:
    """The namespace's store (migrated); ``create`` makes the database if it is missing.
    Raises ``LookupError`` when it is missing and ``create`` is false."""
    if isinstance(root, PostgresStore):
        schema = pg_schema(root, name)
        if not _pg_schema_exists(root, schema):
            if not create:
                raise LookupError(name)
            with root.connection() as conn:
                conn.execute(
                    sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema))
                )
        store: SqlStore = PostgresStore(_pg_url(root, schema), durability=root.durability)
    else:
        folder = sqlite_dir(root)
        path = folder / f"{name}.sqlite3"
        if not path.exists():
            if not create:
                raise LookupError(name)
            _from_template(root, folder, path)
        store = SqliteStore(str(path), durability=NAMESPACE_DURABILITY)
    if create:
        _inherit(root, store)
    return store


def _from_template(root: SqliteStore, folder: Path, path: Path) -> None:
    """A new file copied from an empty migrated one (made once): copying a file is a fraction
    of a millisecond, running every migration is tens."""
    template = folder / "_template.sqlite3"
    if not template.exists():
        folder.mkdir(parents=True, exist_ok=True)
        made = folder / f"_template.{id(root)}.tmp"
        SqliteStore(str(made), durability="normal").close()
        with sqlite3.connect(made) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        for extra in ("-wal", "-shm"):
            Path(f"{made}{extra}").unlink(missing_ok=True)
        made.replace(template)  # atomic: another process never sees half a template
    partial = path.with_suffix(".tmp")
    shutil.copyfile(template, partial)
    partial.replace(path)


def _inherit(root: SqlStore, store: SqlStore) -> None:
    with root.begin(write=False) as tx:
        rows = [(key, tx.get_setting(key)) for key in INHERITED_SETTINGS]
    with store.begin() as tx:
        for key, value in rows:
            if value is not None:
                tx.put_setting(key, value)


def drop_namespace(root: SqlStore, name: str, store: SqlStore | None) -> bool:
    """Delete the namespace's database and its snapshots; False when there was none."""
    if store is not None:
        store.close()
    if isinstance(root, PostgresStore):
        schema = pg_schema(root, name)
        existed = _pg_schema_exists(root, schema)
        with root.connection() as conn:
            for found in _pg_schemas(root, schema):
                conn.execute(_drop_schema(found))
        return existed
    folder = sqlite_dir(root)
    path = folder / f"{name}.sqlite3"
    existed = path.exists()
    for file in [path, *folder.glob(f"{name}.*.snap")]:
        for extra in ("", "-wal", "-shm"):
            Path(f"{file}{extra}").unlink(missing_ok=True)
    return existed


def _drop_schema(schema: str) -> sql.Composed:
    return sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))


def _pg_schemas(root: PostgresStore, schema: str) -> list[str]:
    """The namespace's schema and its snapshots' (``<schema>__s_<label>``)."""
    with root.connection() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname = %s OR starts_with(nspname, %s)",
            (schema, f"{schema}__s_"),
        )
        return [str(row[0]) for row in cur.fetchall()]


def _pg_schema_exists(root: PostgresStore, schema: str) -> bool:
    return bool(_pg_one(root, "SELECT count(*) FROM pg_namespace WHERE nspname = %s", (schema,)))


def list_postgres(root: PostgresStore) -> list[str]:
    base = f"{_pg_one(root, 'SELECT current_schema()')}__"
    with root.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT nspname FROM pg_namespace WHERE starts_with(nspname, %s)", (base,))
        found = [str(row[0])[len(base) :] for row in cur.fetchall()]
    return sorted(name for name in found if "__s_" not in name)


def list_sqlite(root: SqliteStore) -> list[str]:
    folder = sqlite_dir(root)
    if not folder.exists():
        return []
    return sorted(p.stem for p in folder.glob("*.sqlite3") if not p.stem.startswith("_"))


# snapshot / restore ---------------------------------------------------------------------------
def snapshot(store: SqlStore, name: str, label: str) -> None:
    """Copy the namespace's whole database under ``label`` (replacing one of that label)."""
    if isinstance(store, PostgresStore):
        _pg_copy(store, label, to_snapshot=True)
        return
    source = store.write_connection()
    path = Path(store.path).with_name(f"{name}.{label}.snap")
    partial = path.with_suffix(".tmp")
    partial.unlink(missing_ok=True)
    target = sqlite3.connect(partial)
    try:
        source.backup(target)
    finally:
        target.close()
    partial.replace(path)


def restore(store: SqlStore, name: str, label: str) -> None:
    """Put the database back as it was at the snapshot; ``LookupError`` if there is none."""
    if isinstance(store, PostgresStore):
        _pg_copy(store, label, to_snapshot=False)
    else:
        path = Path(store.path).with_name(f"{name}.{label}.snap")
        if not path.exists():
            raise LookupError(label)
        source = sqlite3.connect(path)
        try:
            # Written into the live file through the store's own connection: readers in
            # other connections see the restored pages at their next transaction.
            source.backup(store.write_connection())
        finally:
            source.close()
    store.cache.clear()  # merchants and bindings may be other ones now


def _pg_copy(store: PostgresStore, label: str, *, to_snapshot: bool) -> None:
    ident = sql.Identifier
    with store.connection() as conn, conn.transaction(), conn.cursor() as cur:
        cur.execute("SELECT current_schema()")
        live = str(_first(cur.fetchone()))
        snap = f"{live}__s_{label}"[:63]
        tables = _parents_first(cur, live)
        if to_snapshot:
            cur.execute(_drop_schema(snap))
            cur.execute(sql.SQL("CREATE SCHEMA {}").format(ident(snap)))
            for table in tables:
                cur.execute(
                    sql.SQL("CREATE TABLE {}.{} AS TABLE {}.{}").format(
                        ident(snap), ident(table), ident(live), ident(table)
                    )
                )
            return
        cur.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s", (snap,))
        if not _first(cur.fetchone()):
            raise LookupError(label)
        listed = sql.SQL(", ").join(sql.SQL("{}.{}").format(ident(live), ident(t)) for t in tables)
        cur.execute(sql.SQL("TRUNCATE {}").format(listed))
        for table in tables:  # parents first: every foreign key finds its row
            cur.execute(
                sql.SQL("INSERT INTO {}.{} SELECT * FROM {}.{}").format(
                    ident(live), ident(table), ident(snap), ident(table)
                )
            )
        cur.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = %s AND column_default LIKE 'nextval%%'",
            (live,),
        )
        for table, column in cur.fetchall():
            cur.execute(
                sql.SQL(
                    "SELECT setval(pg_get_serial_sequence({}, {}), "
                    "coalesce((SELECT max({}) FROM {}.{}), 0) + 1, false)"
                ).format(
                    sql.Literal(f"{live}.{table}"),
                    sql.Literal(str(column)),
                    ident(str(column)),
                    ident(live),
                    ident(str(table)),
                )
            )


def _first(row: tuple[object, ...] | None) -> object:
    return None if row is None else row[0]


def _parents_first(cur: Cursor[tuple[object, ...]], schema: str) -> list[str]:
    """The schema's tables, each after the tables its foreign keys name."""
    cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,))
    names = sorted(str(row[0]) for row in cur.fetchall())
    cur.execute(
        "SELECT c.conrelid::regclass::text, c.confrelid::regclass::text FROM pg_constraint c "
        "JOIN pg_namespace n ON n.oid = c.connamespace WHERE c.contype = 'f' AND n.nspname = %s",
        (schema,),
    )
    parents: dict[str, set[str]] = {name: set() for name in names}
    for child, parent in cur.fetchall():
        child_name, parent_name = str(child).split(".")[-1], str(parent).split(".")[-1]
        if child_name in parents and parent_name != child_name:
            parents[child_name].add(parent_name)
    ordered: list[str] = []
    while len(ordered) < len(names):
        ready = [n for n in names if n not in ordered and parents[n] <= set(ordered)]
        if not ready:
            return ordered + [n for n in names if n not in ordered]
        ordered += ready
    return ordered
