"""The fast identifier source: uniform alphabets, credentials from ``secrets``, fork safety."""

from __future__ import annotations

import os
import random
import re
import secrets
from collections import Counter
from datetime import datetime

import pytest

from wxpay_local.domain import ids as ids_module
from wxpay_local.domain.ids import Ids
from wxpay_local.timefmt import SHANGHAI

pytestmark = pytest.mark.unit

AT = datetime(2024, 5, 1, 9, 30, 15, tzinfo=SHANGHAI)


def test_credentials_come_from_the_system_source_when_unseeded() -> None:
    ids = Ids()
    assert isinstance(ids._strong, secrets.SystemRandom)
    assert not isinstance(ids._fast, secrets.SystemRandom)
    assert type(ids._fast) is random.Random


def test_credentials_use_the_strong_source(monkeypatch: pytest.MonkeyPatch) -> None:
    ids = Ids()
    calls: list[str] = []

    class Spy(secrets.SystemRandom):
        def randbytes(self, n: int) -> bytes:
            calls.append("randbytes")
            return super().randbytes(n)

        def getrandbits(self, k: int) -> int:
            calls.append("getrandbits")
            return super().getrandbits(k)

    ids._strong = Spy()
    fast_state = ids._fast.getstate()
    assert re.fullmatch(r"[A-Za-z0-9]{32}", ids.api_key())
    assert re.fullmatch(r"[0-9a-f]{32}", ids.app_secret())
    assert re.fullmatch(r"\d{6}", ids.password())
    assert re.fullmatch(r"1[0-5]\d{16}", ids.auth_code())
    assert len(calls) >= 4
    assert ids._fast.getstate() == fast_state  # no credential drew from the fast source


def test_seeded_credentials_are_reproducible_too() -> None:
    a, b = Ids(seed=3), Ids(seed=3)
    assert [a.api_key(), a.app_secret(), a.password(), a.auth_code()] == [
        b.api_key(),
        b.app_secret(),
        b.password(),
        b.auth_code(),
    ]


def test_alphabets_are_uniform() -> None:
    """Rejection sampling: every character about equally often (no modulo bias)."""
    ids = Ids(seed=11)
    counts = Counter("".join(ids.nonce(32) for _ in range(4000)))
    assert set(counts) == set(ids_module._ALNUM)
    expected = 4000 * 32 / 62
    assert all(abs(n - expected) < 0.12 * expected for n in counts.values()), counts
    counts = Counter("".join(ids.openid()[1:] for _ in range(4000)))
    assert set(counts) == set(ids_module._URL_SAFE)


def test_digits_and_hex_keep_leading_zeros() -> None:
    ids = Ids(seed=5)
    for _ in range(2000):
        assert re.fullmatch(r"42000\d{5}20240501\d{10}", ids.transaction_id(AT))
        assert re.fullmatch(r"wx20240501093015[0-9a-f]{20}", ids.prepay_id(AT))
        assert re.fullmatch(r"[A-Za-z0-9]{7}", ids.qr_code())


def test_unseeded_ids_do_not_repeat() -> None:
    ids = Ids()
    assert len({ids.prepay_id(AT) for _ in range(10000)}) == 10000
    assert Ids().nonce() != Ids().nonce()


def test_reseeding_to_none_goes_back_to_random() -> None:
    ids = Ids(seed=1)
    ids.seed(None)
    assert isinstance(ids._strong, secrets.SystemRandom)
    assert ids.nonce() != Ids(seed=1).nonce()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_draws_other_ids_than_its_parent() -> None:
    ids = Ids()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        try:
            os.write(write, ids.nonce(32).encode())
        finally:
            os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert len(child) == 32
    assert child != ids.nonce(32)
