"""The PostgreSQL tier's schemas: each test process makes ``wxpay_test_<pid>`` and drops it at exit;
a run killed before its exit hook leaves it behind, so each run drops those of gone processes."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

PG_URL = os.environ.get("WXPAY_TEST_PG_URL", "")
PG_SKIP = "PostgreSQL tier skipped: set WXPAY_TEST_PG_URL=postgresql://… to run it"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def drop_stale_schemas() -> list[str]:
    """Drop the ``wxpay_test_<pid>`` schemas whose process is gone: a run killed before its
    atexit hook (SIGKILL, a timeout) leaves its schema behind. Schemas of live processes, such
    as another run going on now, stay. The pid test assumes the tests and their PostgreSQL
    clients run on this host, as they do (the server itself may be elsewhere)."""
    import psycopg

    dropped = []
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        rows = conn.execute(
            # With the schemas of their namespaces, ``wxpay_test_<pid>__<name>``.
            "SELECT nspname FROM pg_namespace WHERE nspname ~ '^wxpay_test_[0-9]+(__.*)?$'"
        ).fetchall()
        for (schema,) in rows:
            if _pid_alive(int(schema.removeprefix("wxpay_test_").split("__")[0])):
                continue
            try:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
                dropped.append(schema)
            except psycopg.Error:  # another run dropping it at the same moment
                pass
    return dropped


@contextmanager
def private_schema_url(prefix: str) -> Iterator[str]:
    """The test database's URL with a fresh schema ``<prefix>_<random>`` first on the
    search_path (for server processes a test starts); the schema is dropped afterwards."""
    import psycopg

    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{separator}options={quote(f'-csearch_path={schema}', safe='')}"
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
