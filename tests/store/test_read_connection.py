"""SQLite: the group commit's COMMIT in a thread of its own, reads on a separate read-only
connection, and the per-process cache of merchants and app bindings."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from wxpay_local.api.pipeline import build_routes, process
from wxpay_local.codes import AppKind
from wxpay_local.domain.model import LIVE, App
from wxpay_local.store import SqlStore, open_store
from wxpay_local.store.group_commit import GroupCommit
from wxpay_local.wire import signing
from wxpay_local.wire.xml import decode, encode

pytestmark = pytest.mark.store

KEY = "k" * 32


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "db.sqlite3"


@pytest.fixture
def store(path: Path) -> Iterator[SqlStore]:
    s = open_store(str(path))
    yield s
    s.close()


def _insert(store: SqlStore, mch_id: str, fail: bool = False) -> str:
    with store.begin() as tx:
        tx.insert_merchant(mch_id, LIVE, mch_id, KEY, 6000, "pw")
        if fail:
            raise RuntimeError(f"{mch_id} fails after writing")
    return mch_id


def _count(path: Path, mch_id: str | None = None) -> int:
    """What a fresh connection (another process, say) sees."""
    other = sqlite3.connect(path)
    try:
        if mch_id is None:
            return int(other.execute("SELECT COUNT(*) FROM merchants").fetchone()[0])
        return int(
            other.execute("SELECT COUNT(*) FROM merchants WHERE mch_id = ?", (mch_id,)).fetchone()[
                0
            ]
        )
    finally:
        other.close()


def _read_count(store: SqlStore) -> int:
    with store.begin(write=False) as tx:
        return len(tx.merchants())


class SlowCommits:
    """Make every COMMIT take ``delay`` seconds (before it happens) and record its thread.

    With ``delay=None`` each COMMIT waits until the test calls ``release()`` instead: the test
    knows the commit is in flight for as long as it needs, whatever the machine's load."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, delay: float | None) -> None:
        self.threads: list[int] = []
        self.started = threading.Event()
        self.released = threading.Event()
        real = GroupCommit._commit

        def slow(conn: sqlite3.Connection) -> BaseException | None:
            self.threads.append(threading.get_ident())
            self.started.set()
            if delay is None:
                assert self.released.wait(30), "the test never released the commit"
            else:
                time.sleep(delay)
            return real(conn)

        monkeypatch.setattr(GroupCommit, "_commit", staticmethod(slow))

    def release(self) -> None:
        self.released.set()


def test_the_commit_runs_off_the_event_loop_and_answers_come_after_it(
    store: SqlStore, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow = SlowCommits(monkeypatch, 0.05)
    seen_when_answered: list[int] = []

    async def one(mch_id: str) -> None:
        await store.run(lambda: _insert(store, mch_id))
        seen_when_answered.append(_count(path, mch_id))

    async def scenario() -> int:
        await asyncio.gather(*(one(f"19000000{n:02d}") for n in range(10)))
        return threading.get_ident()

    loop_thread = asyncio.run(scenario())
    assert seen_when_answered == [1] * 10
    assert slow.threads and all(t != loop_thread for t in slow.threads)


def test_the_loop_keeps_running_and_reads_see_only_committed_data_during_a_commit(
    store: SqlStore, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _insert(store, "1900000001")
    slow = SlowCommits(monkeypatch, None)  # the COMMIT stays in flight until released
    during: list[int] = []

    async def scenario() -> None:
        write = asyncio.ensure_future(store.run(lambda: _insert(store, "1900000002")))
        while not slow.started.is_set():  # the batch ran; its COMMIT is now in the thread
            await asyncio.sleep(0.005)
        # Both reads finish while the COMMIT is held: they cannot have waited for it.
        during.append(await store.run(lambda: _read_count(store), write=False))
        during.append(_count(path))
        assert not write.done()
        slow.release()
        await write
        during.append(await store.run(lambda: _read_count(store), write=False))

    asyncio.run(scenario())
    assert during == [1, 1, 2]


def test_writes_arriving_during_a_commit_join_the_next_batch(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow = SlowCommits(monkeypatch, None)
    batches: list[int] = []
    real = GroupCommit._run_calls

    def counting(self: GroupCommit, loop: Any, conn: Any, batch: Any) -> None:
        batches.append(len(batch.calls))
        real(self, loop, conn, batch)

    monkeypatch.setattr(GroupCommit, "_run_calls", counting)

    async def scenario() -> list[str]:
        first = asyncio.ensure_future(store.run(lambda: _insert(store, "1900000001")))
        while not slow.started.is_set():  # the first batch is committing now (and held)
            await asyncio.sleep(0.005)
        later = [
            asyncio.ensure_future(store.run(lambda n=n: _insert(store, f"19000001{n:02d}")))
            for n in range(5)
        ]
        await asyncio.sleep(0)  # each has queued its write (run() queues before it awaits)
        slow.release()
        return [await first, *await asyncio.gather(*later)]

    answers = asyncio.run(scenario())
    assert answers[0] == "1900000001" and len(answers) == 6
    assert batches == [1, 5]


def test_a_failing_request_rolls_back_alone_with_the_commit_in_a_thread(
    store: SqlStore, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    SlowCommits(monkeypatch, 0.02)

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
    assert _count(path) == 2 and _read_count(store) == 2


def test_a_failed_commit_fails_every_caller_of_its_batch(
    store: SqlStore, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(conn: sqlite3.Connection) -> BaseException | None:
        conn.rollback()
        return sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(GroupCommit, "_commit", staticmethod(failing))

    async def scenario() -> list[object]:
        return await asyncio.gather(
            *(store.run(lambda n=n: _insert(store, f"19000000{n:02d}")) for n in range(3)),
            return_exceptions=True,
        )

    assert all(isinstance(r, sqlite3.OperationalError) for r in asyncio.run(scenario()))
    assert _count(path) == 0
    monkeypatch.undo()
    assert asyncio.run(store.run(lambda: _insert(store, "1900000009"))) == "1900000009"


def test_a_direct_write_on_the_loop_waits_for_the_commit_in_flight(
    store: SqlStore, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow = SlowCommits(monkeypatch, 0.1)

    async def scenario() -> None:
        write = asyncio.ensure_future(store.run(lambda: _insert(store, "1900000001")))
        while not slow.started.is_set():
            await asyncio.sleep(0.005)
        _insert(store, "1900000002")  # not through run(): blocks until the commit is done
        await write

    asyncio.run(scenario())
    assert _count(path) == 2


def test_a_batch_waits_for_another_writer_without_blocking_the_loop(
    store: SqlStore, path: Path
) -> None:
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    other.execute(
        "INSERT INTO merchants (mch_id, env, name, api_key, fee_rate_ppm, console_password,"
        " created_at) VALUES ('1900000099', 'live', 'x', ?, 0, 'pw', 0)",
        (KEY,),
    )
    ticks: list[float] = []

    async def ticker() -> None:
        for _ in range(20):
            ticks.append(time.monotonic())
            await asyncio.sleep(0.01)

    async def scenario() -> str:
        write = asyncio.ensure_future(store.run(lambda: _insert(store, "1900000001")))
        await ticker()  # the loop runs while the batch waits for the lock
        assert not write.done()
        other.execute("COMMIT")
        return await write

    assert asyncio.run(scenario()) == "1900000001"
    assert len(ticks) == 20  # the loop ran all 20 ticks while the batch waited
    other.close()
    assert _count(path) == 2


def test_reads_run_on_a_read_only_connection(store: SqlStore) -> None:
    with pytest.raises(sqlite3.OperationalError), store.begin(write=False) as tx:
        tx.insert_merchant("1900000001", LIVE, "x", KEY, 6000, "pw")
    assert _read_count(store) == 0
    # ... and hold no snapshot between calls: a commit elsewhere is seen by the next read
    _read_count(store)
    _insert(store, "1900000002")
    assert _read_count(store) == 1


def test_a_read_sees_one_snapshot_and_a_nested_read_joins_it(store: SqlStore, path: Path) -> None:
    _insert(store, "1900000001")
    other = open_store(str(path))  # another process, say
    with store.begin(write=False) as tx:
        assert len(tx.merchants()) == 1
        _insert(other, "1900000002")  # committed between two statements of the read
        assert len(tx.merchants()) == 1
        with store.begin(write=False) as inner:
            assert len(inner.merchants()) == 1
        assert len(tx.merchants()) == 1
    assert _read_count(store) == 2
    with pytest.raises(KeyError), store.begin(write=False) as tx:
        tx.merchants()
        raise KeyError("the read fails")
    assert _read_count(store) == 2  # and the snapshot ended with it
    other.close()


def test_in_memory_databases_keep_one_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    store = open_store(":memory:")
    _insert(store, "1900000001")
    assert asyncio.run(store.run(lambda: _insert(store, "1900000002"))) == "1900000002"
    assert asyncio.run(store.run(lambda: _read_count(store), write=False)) == 2
    store.close()


# the identity cache ---------------------------------------------------------------------------
def _bind(store: SqlStore, mch_id: str, appid: str) -> None:
    with store.begin() as tx:
        if tx.app(appid) is None:
            tx.insert_app(App(appid, AppKind.OFFICIAL_ACCOUNT, "s" * 32, "app"))
        tx.bind_app(mch_id, appid)


def _merchant_key(store: SqlStore, mch_id: str) -> str | None:
    with store.begin(write=False) as tx:
        merchant = tx.merchant(mch_id, LIVE)
    return None if merchant is None else merchant.api_key


def _rotate(store: SqlStore, mch_id: str, key: str, fail: bool = False) -> None:
    with store.begin() as tx:
        merchant = tx.merchant(mch_id, LIVE)
        assert merchant is not None
        tx.update_merchant_key(merchant.id, key)
        assert tx.merchant(mch_id, LIVE).api_key == key  # type: ignore[union-attr]
        if fail:
            raise RuntimeError("rolled back")


def test_merchants_are_cached_and_a_change_in_this_process_applies_at_once(
    store: SqlStore, path: Path
) -> None:
    _insert(store, "1900000001")
    assert _merchant_key(store, "1900000001") == KEY
    assert store.cache.merchant(("1900000001", LIVE)) is not None
    _rotate(store, "1900000001", "n" * 32)
    assert _merchant_key(store, "1900000001") == "n" * 32
    with pytest.raises(RuntimeError):
        _rotate(store, "1900000001", "x" * 32, fail=True)
    assert _merchant_key(store, "1900000001") == "n" * 32


def test_a_key_changed_in_a_group_commit_is_seen_by_the_next_request(store: SqlStore) -> None:
    _insert(store, "1900000001")
    assert _merchant_key(store, "1900000001") == KEY

    async def scenario() -> str | None:
        reader = asyncio.ensure_future(
            store.run(lambda: _merchant_key(store, "1900000001"), write=False)
        )
        await store.run(lambda: _rotate(store, "1900000001", "n" * 32))
        await reader
        return await store.run(lambda: _merchant_key(store, "1900000001"), write=False)

    assert asyncio.run(scenario()) == "n" * 32


class _Later:
    """``time`` as the cache's module sees it, moved forward on demand: the TTL expires
    without the test sleeping through it (or a loaded machine expiring it early)."""

    def __init__(self) -> None:
        self.ahead = 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self.ahead


def test_another_process_changes_apply_within_the_ttl(
    store: SqlStore, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    later = _Later()
    monkeypatch.setattr(sys.modules[type(store.cache).__module__], "time", later)
    store.cache.ttl = 1.0
    _insert(store, "1900000001")
    assert _merchant_key(store, "1900000001") == KEY
    other = open_store(str(path))  # another worker process, say
    _rotate(other, "1900000001", "n" * 32)
    assert _merchant_key(store, "1900000001") == KEY  # cached
    later.ahead = 1.5  # past the TTL
    assert _merchant_key(store, "1900000001") == "n" * 32
    # unknown merchants and bindings are never cached: created elsewhere, seen at once
    assert _merchant_key(store, "1900000002") is None
    _insert(other, "1900000002")
    assert _merchant_key(store, "1900000002") == KEY
    with store.begin(write=False) as tx:
        assert not tx.is_bound("1900000001", "wx0000000000000001")
    _bind(other, "1900000001", "wx0000000000000001")
    with store.begin(write=False) as tx:
        assert tx.is_bound("1900000001", "wx0000000000000001")
        assert tx.is_bound("1900000001", "wx0000000000000001")  # now from the cache
    assert store.cache.bound(("1900000001", "wx0000000000000001"))
    other.close()


def test_reset_forgets_cached_merchants(store: SqlStore) -> None:
    _insert(store, "1900000001")
    assert _merchant_key(store, "1900000001") == KEY
    store.reset()
    assert _merchant_key(store, "1900000001") is None


def _signed_orderquery(mch_id: str, appid: str, key: str) -> bytes:
    fields: dict[str, str | int] = {
        "appid": appid,
        "mch_id": mch_id,
        "nonce_str": "n1",
        "out_trade_no": "NO-SUCH-ORDER",
    }
    fields["sign"] = signing.sign(fields, key)
    return encode(fields)


def test_a_key_changed_by_another_process_works_at_once(store: SqlStore, path: Path) -> None:
    """The cache may hold the old key for up to its TTL; a request signed with the new one is
    checked again against the database instead of being refused."""
    from wxpay_local.settings import Settings
    from wxpay_local.web import create_app

    app = create_app(Settings(data_dir=path.parent, dispatcher=False), store=store)
    route = build_routes()["/pay/orderquery"]
    _insert(store, "1900000001")
    _bind(store, "1900000001", "wx0000000000000001")

    def ask(key: str) -> dict[str, str]:
        body = _signed_orderquery("1900000001", "wx0000000000000001", key)
        outcome = asyncio.run(
            store.run(lambda: process(store, app.platform, app.handlers, route, body), write=False)
        )
        return decode(outcome.body)

    assert ask(KEY)["err_code"] == "ORDERNOTEXIST"  # signature accepted; the key is cached
    other = open_store(str(path))
    _rotate(other, "1900000001", "n" * 32)
    answer = ask("n" * 32)
    assert answer["return_code"] == "SUCCESS" and answer["err_code"] == "ORDERNOTEXIST"
    assert signing.verify(answer, "n" * 32)
    assert ask("z" * 32)["return_code"] == "FAIL"  # a wrong key is still refused
    other.close()


def test_a_key_rotated_after_the_early_signature_check_decides_in_the_transaction(
    store: SqlStore, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The signature is checked before the transaction against the key this process had cached;
    when the transaction finds another key (rotated in between), that key decides: the old one
    is refused, the new one accepted."""
    from dataclasses import replace

    from wxpay_local.settings import Settings
    from wxpay_local.web import create_app

    app = create_app(Settings(data_dir=path.parent, dispatcher=False), store=store)
    route = build_routes()["/pay/orderquery"]
    _insert(store, "1900000002")
    _bind(store, "1900000002", "wx0000000000000002")
    before = _cached(store, "1900000002")
    _rotate(store, "1900000002", "r" * 32)
    # What the early check saw: the merchant as cached just before the rotation.
    monkeypatch.setattr(store, "cached_merchant", lambda mch_id, env: replace(before))

    def ask(key: str) -> dict[str, str]:
        body = _signed_orderquery("1900000002", "wx0000000000000002", key)
        outcome = asyncio.run(
            store.run(lambda: process(store, app.platform, app.handlers, route, body), write=False)
        )
        return decode(outcome.body)

    refused = ask(KEY)
    assert refused["return_code"] == "FAIL" and refused["return_msg"] == "签名错误"
    accepted = ask("r" * 32)
    assert accepted["return_code"] == "SUCCESS" and accepted["err_code"] == "ORDERNOTEXIST"


def _cached(store: SqlStore, mch_id: str) -> Any:
    """The merchant, read once so that this process caches it."""
    with store.begin(write=False) as tx:
        tx.merchant(mch_id, LIVE)
    cached = store.cached_merchant(mch_id, LIVE)
    assert cached is not None and cached.api_key == KEY
    return cached
