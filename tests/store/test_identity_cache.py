"""The per-process cache of merchants and app bindings, on each database."""

from __future__ import annotations

import asyncio

import pytest

from wxpay_local.domain.model import LIVE
from wxpay_local.store import SqlStore

pytestmark = pytest.mark.store

KEY = "k" * 32


def _insert(store: SqlStore, mch_id: str) -> None:
    with store.begin() as tx:
        tx.insert_merchant(mch_id, LIVE, mch_id, KEY, 6000, "pw")


def _key(store: SqlStore, mch_id: str) -> str | None:
    with store.begin(write=False) as tx:
        merchant = tx.merchant(mch_id, LIVE)
    return None if merchant is None else merchant.api_key


def _rotate(store: SqlStore, mch_id: str, key: str, fail: bool = False) -> None:
    with store.begin() as tx:
        merchant = tx.merchant(mch_id, LIVE)
        assert merchant is not None
        tx.update_merchant_key(merchant.id, key)
        changed = tx.merchant(mch_id, LIVE)
        assert changed is not None and changed.api_key == key  # its own change, uncached
        if fail:
            raise RuntimeError("rolled back")


def test_a_change_in_this_process_applies_at_once(store: SqlStore) -> None:
    _insert(store, "1900000001")
    assert _key(store, "1900000001") == KEY
    assert store.cache.merchant(("1900000001", LIVE)) is not None
    _rotate(store, "1900000001", "n" * 32)
    assert _key(store, "1900000001") == "n" * 32
    with pytest.raises(RuntimeError):
        _rotate(store, "1900000001", "x" * 32, fail=True)
    assert _key(store, "1900000001") == "n" * 32  # the rolled-back key was never cached


def test_reads_racing_a_change_never_keep_the_old_key(store: SqlStore) -> None:
    _insert(store, "1900000001")
    assert _key(store, "1900000001") == KEY

    async def concurrently() -> list[str | None]:
        found = await asyncio.gather(
            store.run(lambda: _rotate(store, "1900000001", "m" * 32)),
            *(store.run(lambda: _key(store, "1900000001"), write=False) for _ in range(8)),
        )
        return list(found[1:])

    seen = asyncio.run(concurrently())
    assert all(key in (KEY, "m" * 32) for key in seen)
    assert _key(store, "1900000001") == "m" * 32
    assert _key(store, "1900000001") == "m" * 32  # and from the cache


def test_statements_on_merchants_or_bindings_turn_the_cache_off(store: SqlStore) -> None:
    _insert(store, "1900000001")
    assert _key(store, "1900000001") == KEY
    with store.begin() as tx:
        tx._exec("UPDATE merchants SET name = ? WHERE mch_id = ?", ("renamed", "1900000001"))
        assert store.cache.token() is None  # off until this transaction has ended
        assert store.cache.merchant(("1900000001", LIVE)) is None
    assert store.cache.token() is not None
    with store.begin(write=False) as tx:
        merchant = tx.merchant("1900000001", LIVE)
    assert merchant is not None and merchant.name == "renamed"
