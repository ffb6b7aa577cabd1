"""Migrations: applied once with their checksums recorded, checked on every open, and a
database made by the first runner (``schema_version``, no checksums) adopted with its data."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest

from wxpay_local.domain.model import LIVE
from wxpay_local.store import open_store
from wxpay_local.store.migrate import SchemaMismatch, sqlite_statements

pytestmark = pytest.mark.store

OLD_RUNNER_DUMP = Path(__file__).parent / "data" / "old_runner.sql"
PG_URL = os.environ.get("WXPAY_TEST_PG_URL", "")
PG_SKIP = "PostgreSQL tier skipped: set WXPAY_TEST_PG_URL=postgresql://… to run it"


def _shipped() -> dict[int, tuple[str, str]]:
    """(name, sha256) of every migration file, read straight from the package."""
    folder = resources.files("wxpay_local.store") / "migrations"
    found = {}
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            number, _, name = entry.name.partition("_")
            digest = hashlib.sha256(entry.read_bytes()).hexdigest()
            found[int(number)] = (name.removesuffix(".sql"), digest)
    return found


def _recorded(path: Path) -> dict[int, tuple[str, str]]:
    with sqlite3.connect(path) as conn:
        found = conn.execute("SELECT version, name, checksum FROM schema_migrations").fetchall()
    return {version: (name, checksum) for version, name, checksum in found}


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        found = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {name for (name,) in found}


def test_a_new_database_records_every_migration_with_its_checksum(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite3"
    open_store(str(path)).close()
    assert _recorded(path) == _shipped()
    assert 1 in _recorded(path) and "initial" == _recorded(path)[1][0]


def test_reopening_applies_nothing_twice(tmp_path: Path) -> None:
    path = tmp_path / "again.sqlite3"
    open_store(str(path)).close()
    store = open_store(str(path))
    with store.begin() as tx:
        tx.insert_merchant("1900000001", LIVE, "Shop", "k" * 32, 6000, "pw")
    store.close()
    store = open_store(str(path))
    with store.begin(write=False) as tx:
        assert tx.merchant("1900000001", LIVE) is not None
    store.close()
    assert _recorded(path) == _shipped()


def test_a_database_of_the_first_runner_is_adopted_with_its_data(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.executescript(OLD_RUNNER_DUMP.read_text("utf-8"))
    assert "schema_version" in _tables(path)
    store = open_store(str(path))
    with store.begin(write=False) as tx:
        merchant = tx.merchant("1900000109", LIVE)
        made_by = tx.get_setting("made.by")
    store.close()
    assert merchant is not None and merchant.name == "Old Shop"
    assert made_by is not None and made_by.startswith("the first migration runner")
    assert _recorded(path) == _shipped()
    assert "schema_version" not in _tables(path)


def test_a_changed_migration_stops_the_store(tmp_path: Path) -> None:
    path = tmp_path / "changed.sqlite3"
    open_store(str(path)).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 3")
    with pytest.raises(SchemaMismatch, match="migration 3"):
        open_store(str(path))


def test_a_database_from_a_newer_version_stops_the_store(tmp_path: Path) -> None:
    path = tmp_path / "newer.sqlite3"
    open_store(str(path)).close()
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, 'x', 'y')"
        )
    with pytest.raises(SchemaMismatch, match="9999"):
        open_store(str(path))


def test_scripts_split_where_sqlite_says_a_statement_ends() -> None:
    script = (
        "-- a comment; with a semicolon\n"
        "CREATE TABLE t (a TEXT DEFAULT 'x;y');\n"
        "/* another; */ INSERT INTO t (a) VALUES ('1;2');\n"
    )
    assert sqlite_statements(script) == [
        "-- a comment; with a semicolon\nCREATE TABLE t (a TEXT DEFAULT 'x;y');",
        "/* another; */ INSERT INTO t (a) VALUES ('1;2');",
    ]


# PostgreSQL: a schema of the test's own, since these tests make and break schemas --------------
@pytest.fixture
def pg_schema() -> Iterator[str]:
    if not PG_URL:
        pytest.skip(PG_SKIP)
    import psycopg

    schema = f"wxpay_migrate_{os.getpid()}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{separator}options=-csearch_path%3D{schema}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def _first_runner_on_postgres(url: str) -> None:
    """What the first runner did: each file with comment lines dropped, split on ';', then its
    number in ``schema_version``."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        folder = resources.files("wxpay_local.store") / "migrations"
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if not entry.name.endswith(".sql"):
                continue
            script = entry.read_text("utf-8")
            script = script.replace("{pk}", "BIGSERIAL PRIMARY KEY").replace("{bytes}", "BYTEA")
            lines = [ln for ln in script.splitlines() if not ln.lstrip().startswith("--")]
            for statement in "\n".join(lines).split(";"):
                if statement.strip():
                    conn.execute(statement)
            version = int(entry.name.split("_", 1)[0])
            conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (version,))
        conn.execute(
            "INSERT INTO merchants (mch_id, env, name, api_key, fee_rate_ppm,"
            " console_password, created_at) VALUES ('1900000109', 'live', 'Old Shop', %s,"
            " 6000, 'pw', 0)",
            ("k" * 32,),
        )


@pytest.mark.postgres
def test_postgres_adopts_the_first_runner_and_checks_checksums(pg_schema: str) -> None:
    import psycopg

    _first_runner_on_postgres(pg_schema)
    store = open_store(pg_schema)
    with store.begin(write=False) as tx:
        merchant = tx.merchant("1900000109", LIVE)
    store.close()
    assert merchant is not None and merchant.name == "Old Shop"
    with psycopg.connect(pg_schema, autocommit=True) as conn:
        found = conn.execute("SELECT version, name, checksum FROM schema_migrations").fetchall()
        old = conn.execute("SELECT to_regclass('schema_version')").fetchone()
        conn.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 2")
    assert {v: (n, c) for v, n, c in found} == _shipped()
    assert old is not None and old[0] is None
    with pytest.raises(SchemaMismatch, match="migration 2"):
        open_store(pg_schema)
