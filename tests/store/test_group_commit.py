"""SQLite group commit: writes in one event-loop turn share a COMMIT, but fail alone."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path
from typing import Any

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


def _hold_commit_lock(path: Path) -> int:
    """Take ``<db>-commit.lock`` as another worker does while its batch runs and commits."""
    import fcntl
    import os

    fd = os.open(f"{path}-commit.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def _release_commit_lock(fd: int) -> None:
    import fcntl
    import os

    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


def _count(path: Path) -> int:
    """What another connection (another process, say) sees committed."""
    other = sqlite3.connect(path)
    try:
        return int(other.execute("SELECT COUNT(*) FROM merchants").fetchone()[0])
    finally:
        other.close()


def test_a_callers_work_around_its_write_block_runs_outside_the_commit_lock(
    tmp_path: Path,
) -> None:
    """Parsing a request before its transaction does not wait for the other workers' commits,
    and what a caller does after its ``with store.begin()`` block runs once that is durable."""
    path = tmp_path / "db.sqlite3"
    store = open_store(str(path))
    steps: list[object] = []

    def request() -> str:
        steps.append("before")
        with store.begin() as tx:
            tx.insert_merchant("1900000001", LIVE, "x", "k" * 32, 6000, "pw")
            steps.append("inside")
        steps.append(("after, committed rows:", _count(path)))
        return "answered"

    async def scenario() -> str:
        write = asyncio.ensure_future(store.run(request))
        await asyncio.sleep(0)  # run() has started the request
        assert steps == ["before"]  # while another worker holds the lock
        _release_commit_lock(held)
        return await asyncio.wait_for(write, 10)

    held = _hold_commit_lock(path)
    try:
        assert asyncio.run(scenario()) == "answered"
    finally:
        store.close()
    assert steps == ["before", "inside", ("after, committed rows:", 1)]


def test_writes_queued_while_a_batch_waits_for_the_lock_share_its_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wxpay_local.store.group_commit import GroupCommit

    path = tmp_path / "db.sqlite3"
    store = open_store(str(path))
    batches: list[int] = []
    real_run_calls = GroupCommit._run_calls
    real_begin = GroupCommit._begin_immediate
    waiting = threading.Event()

    def counting(self: GroupCommit, loop: Any, conn: Any, batch: Any) -> None:
        batches.append(len(batch.calls))
        real_run_calls(self, loop, conn, batch)

    def begin_when_free(self: GroupCommit, conn: sqlite3.Connection) -> BaseException | None:
        waiting.set()
        return real_begin(self, conn)

    monkeypatch.setattr(GroupCommit, "_run_calls", counting)
    monkeypatch.setattr(GroupCommit, "_begin_immediate", begin_when_free)

    async def scenario() -> list[str]:
        first = asyncio.ensure_future(store.run(lambda: _insert(store, "1900000001")))
        while not waiting.is_set():  # its batch now waits for the other worker's lock
            await asyncio.sleep(0.005)
        later = [
            asyncio.ensure_future(store.run(lambda n=n: _insert(store, f"19000001{n:02d}")))
            for n in range(5)
        ]
        await asyncio.sleep(0)  # each has queued its write
        _release_commit_lock(held)
        return [await first, *await asyncio.gather(*later)]

    held = _hold_commit_lock(path)
    try:
        assert len(asyncio.run(scenario())) == 6
    finally:
        store.close()
    assert batches == [6]  # one transaction, one fsync
    assert _count(path) == 6


def test_a_batch_that_cannot_begin_fails_each_write_at_its_begin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wxpay_local.store.group_commit import GroupCommit

    path = tmp_path / "db.sqlite3"
    store = open_store(str(path))
    reached: list[str] = []

    def cannot_begin(self: GroupCommit, conn: sqlite3.Connection) -> bool:
        raise sqlite3.OperationalError("disk I/O error")

    def request(mch_id: str) -> str:
        reached.append("before")
        with store.begin() as tx:
            reached.append("inside")
            tx.insert_merchant(mch_id, LIVE, "x", "k" * 32, 6000, "pw")
        return mch_id

    monkeypatch.setattr(GroupCommit, "_try_begin_immediate", cannot_begin)

    async def scenario() -> list[object]:
        return await asyncio.gather(
            *(store.run(lambda n=n: request(f"19000000{n:02d}")) for n in range(3)),
            return_exceptions=True,
        )

    results = asyncio.run(scenario())
    assert [str(r) for r in results] == ["disk I/O error"] * 3
    assert reached == ["before"] * 3
    monkeypatch.undo()
    assert asyncio.run(store.run(lambda: request("1900000009"))) == "1900000009"
    store.close()
    assert _count(path) == 1


def test_a_write_to_another_store_inside_a_batch_is_that_stores_own(tmp_path: Path) -> None:
    """A namespace's store written from a request of the server's store: its own transaction."""
    server = open_store(str(tmp_path / "server.sqlite3"))
    namespace = open_store(str(tmp_path / "namespace.sqlite3"))

    def request() -> str:
        _insert(namespace, "1900000002")
        return _insert(server, "1900000001")

    try:
        assert asyncio.run(server.run(request)) == "1900000001"
    finally:
        server.close()
        namespace.close()
    assert _count(tmp_path / "server.sqlite3") == 1
    assert _count(tmp_path / "namespace.sqlite3") == 1


def test_a_commit_that_fails_fails_every_write_of_its_batch(tmp_path: Path) -> None:
    """A COMMIT refused by SQLite (a deferred foreign key left dangling by one write) answers
    each caller of that batch with the error, keeps none of their changes, and the next batch
    commits as usual."""
    path = tmp_path / "db.sqlite3"
    store = open_store(str(path))
    setup = sqlite3.connect(path)
    setup.executescript(
        """
        CREATE TABLE dangling (merchant_id INTEGER
            REFERENCES merchants (id) DEFERRABLE INITIALLY DEFERRED);
        CREATE TRIGGER dangle AFTER INSERT ON merchants WHEN NEW.mch_id = '1900000099'
        BEGIN INSERT INTO dangling VALUES (-1); END;
        """
    )
    setup.close()

    async def scenario() -> list[object]:
        return await asyncio.gather(
            store.run(lambda: _insert(store, "1900000001")),
            store.run(lambda: _insert(store, "1900000099")),
            store.run(lambda: _insert(store, "1900000003")),
            return_exceptions=True,
        )

    results = asyncio.run(scenario())
    assert [str(r) for r in results] == ["FOREIGN KEY constraint failed"] * 3
    assert _count(path) == 0
    assert asyncio.run(store.run(lambda: _insert(store, "1900000004"))) == "1900000004"
    store.close()
    assert _count(path) == 1
