"""SQLite group commit: writes in one event-loop turn share a COMMIT, but fail alone."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from wxpay_local.domain.model import LIVE
from wxpay_local.store import SqlStore, open_store

pytestmark = pytest.mark.store


def _insert(store: SqlStore, mch_id: str, fail: bool = False) -> str:
    with store.begin() as tx:
        tx.insert_merchant(mch_id, LIVE, mch_id, "k" * 32, 6000, "pw")
        if fail:
            raise RuntimeError(f"{mch_id} fails after writing")
    return mch_id


def test_a_failing_write_rolls_back_alone_and_the_others_commit(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "db.sqlite3"))

    async def scenario() -> list[object]:
        return await asyncio.gather(
            store.run(lambda: _insert(store, "1900000001")),
            store.run(lambda: _insert(store, "1900000002", fail=True)),
            store.run(lambda: _insert(store, "1900000003")),
            return_exceptions=True,
        )

    results = asyncio.run(scenario())
    assert results[0] == "1900000001" and results[2] == "1900000003"
    assert isinstance(results[1], RuntimeError)
    with store.begin(write=False) as tx:
        assert [m.mch_id for m in tx.merchants()] == ["1900000001", "1900000003"]
    store.close()


def test_answers_come_only_after_the_batch_is_durable(tmp_path: Path) -> None:
    """Every caller of one batch sees its change committed in the file when it resumes."""
    path = tmp_path / "db.sqlite3"
    store = open_store(str(path))
    seen_by_other_connection: list[int] = []

    async def one(mch_id: str) -> None:
        await store.run(lambda: _insert(store, mch_id))
        other = sqlite3.connect(path)
        seen_by_other_connection.append(
            other.execute("SELECT COUNT(*) FROM merchants WHERE mch_id = ?", (mch_id,)).fetchone()[
                0
            ]
        )
        other.close()

    async def scenario() -> None:
        await asyncio.gather(*(one(f"19000000{n:02d}") for n in range(20)))

    asyncio.run(scenario())
    assert seen_by_other_connection == [1] * 20
    with store.begin(write=False) as tx:
        assert len(tx.merchants()) == 20
    store.close()


def test_sqlite_runs_with_full_synchronous_by_default(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "db.sqlite3"))
    with store.begin(write=False) as tx:
        level = tx._cur.execute("PRAGMA synchronous").fetchone()[0]
    assert level == 2  # FULL
    store.close()


def test_a_batch_waits_for_the_commit_lock_another_process_holds(tmp_path: Path) -> None:
    """``serve --workers N``: the processes' batches take turns through ``<db>-commit.lock``.

    The test holds that lock as another worker does during its commit (SQLite itself is free):
    the write must wait for it, not slip in beside it, and commit as soon as it is let go.
    """
    import fcntl
    import os

    path = tmp_path / "db.sqlite3"
    store = open_store(str(path))
    other_worker = os.open(f"{path}-commit.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(other_worker, fcntl.LOCK_EX)
    waited: list[bool] = []

    async def scenario() -> str:
        write = asyncio.ensure_future(store.run(lambda: _insert(store, "1900000001")))
        await asyncio.sleep(0.3)  # time enough to commit, were it not waiting
        waited.append(not write.done())
        fcntl.flock(other_worker, fcntl.LOCK_UN)
        return await asyncio.wait_for(write, 10)

    try:
        assert asyncio.run(scenario()) == "1900000001"
        assert waited == [True]
        with store.begin(write=False) as tx:
            assert [m.mch_id for m in tx.merchants()] == ["1900000001"]
    finally:
        os.close(other_worker)
        store.close()
