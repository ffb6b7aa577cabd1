"""A killed test run leaves its PostgreSQL schema behind; the next run drops it, and only it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pg_schemas import PG_SKIP, PG_URL, drop_stale_schemas

pytestmark = [pytest.mark.store, pytest.mark.postgres]


def test_schemas_of_gone_processes_are_dropped_and_live_ones_kept() -> None:
    if not PG_URL:
        pytest.skip(PG_SKIP)
    import psycopg

    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    running = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    dead, alive = f"wxpay_test_{int(gone.stdout)}", f"wxpay_test_{running.pid}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        for schema in (dead, alive):
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        conn.execute(f"CREATE TABLE {dead}.left_behind (id integer)")
    try:
        dropped = drop_stale_schemas()
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            names = {r[0] for r in conn.execute("SELECT nspname FROM pg_namespace").fetchall()}
        assert dead in dropped
        assert dead not in names
        assert alive in names and alive not in dropped
    finally:
        running.communicate(b"")
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {dead} CASCADE")
            conn.execute(f"DROP SCHEMA IF EXISTS {alive} CASCADE")
