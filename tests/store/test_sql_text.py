"""SQL written once: the placeholder translation leaves literals alone, on each database, and
SQLite's "busy" is told apart by its error code."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from wxpay_local.store import SqlStore
from wxpay_local.store.dialect import POSTGRES, SQLITE, UnterminatedLiteral
from wxpay_local.store.group_commit import is_busy

pytestmark = pytest.mark.store

#: A statement with a placeholder, and a ``?`` and a ``%`` inside string literals (one with
#: an escaped quote) and inside a quoted identifier.
TEMPLATE = """SELECT ? AS "is it? 100%", 'what? 100% sure', 'it''s ?%' WHERE 1 = 1{lock}"""


def test_postgres_spelling_translates_only_outside_literals() -> None:
    assert POSTGRES.sql(TEMPLATE) == (
        """SELECT %s AS "is it? 100%%", 'what? 100%% sure', 'it''s ?%%' WHERE 1 = 1 FOR UPDATE"""
    )


def test_sqlite_spelling_is_the_template_without_markers() -> None:
    assert SQLITE.sql(TEMPLATE) == (
        """SELECT ? AS "is it? 100%", 'what? 100% sure', 'it''s ?%' WHERE 1 = 1"""
    )


def test_comments_keep_their_question_marks() -> None:
    assert POSTGRES.sql("SELECT ? -- why?\n, ? /* 50%? */") == (
        "SELECT %s -- why?\n, %s /* 50%%? */"
    )


def test_an_unterminated_literal_is_refused_not_guessed() -> None:
    with pytest.raises(UnterminatedLiteral):
        POSTGRES.sql("SELECT 'oops, ?")


def test_literals_come_back_as_written_from_each_database(store: SqlStore) -> None:
    # No shipped statement holds such a literal yet; this is what the next one can rely on.
    with store.begin(write=False) as tx:
        row = tx._one(TEMPLATE.replace("{lock}", ""), (7,))
    assert tuple(row) == (7, "what? 100% sure", "it's ?%")


def test_busy_is_recognised_by_its_error_code(tmp_path: Path) -> None:
    path = tmp_path / "busy.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("CREATE TABLE t (a INTEGER)")
    holder.execute("BEGIN IMMEDIATE")
    other = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        with pytest.raises(sqlite3.OperationalError) as busy:
            other.execute("BEGIN IMMEDIATE")
        with pytest.raises(sqlite3.OperationalError) as syntax:
            other.execute("BEGIN IMMEDIATELY")
    finally:
        other.close()
        holder.close()
    assert is_busy(busy.value)
    assert not is_busy(syntax.value)
