"""Identifiers the platform issues, from one (optionally seeded) random source.

Identifiers (transaction_ids, prepay_ids, code_url codes, nonces, openids, …) come from a fast
PRNG seeded from ``os.urandom`` (re-seeded in a forked child), one or two calls per identifier;
credentials (API keys, app secrets, passwords, payment codes) always come from ``secrets``.
``Ids(seed)`` makes every value, credentials included, reproducible from the seed.
"""

from __future__ import annotations

import os
import random
import secrets
import string
import weakref
from datetime import datetime

from wxpay_local.timefmt import SHANGHAI

_ALNUM = string.ascii_letters + string.digits
_URL_SAFE = _ALNUM + "_-"


def _tables(alphabet: str) -> tuple[bytes, bytes]:
    """A ``bytes.translate`` table and delete set mapping random bytes onto ``alphabet``
    uniformly: the low 6 bits pick a character, bytes whose low 6 bits fall outside it are
    dropped (rejection sampling, so no character is more likely than another)."""
    if not 1 < len(alphabet) <= 64:
        raise ValueError("an alphabet of 2 to 64 characters")
    chars = alphabet.encode("ascii")
    table = bytes(chars[b & 63] if (b & 63) < len(chars) else 0 for b in range(256))
    delete = bytes(b for b in range(256) if (b & 63) >= len(chars))
    return table, delete


_ALNUM_TABLES = _tables(_ALNUM)
_URL_SAFE_TABLES = _tables(_URL_SAFE)

#: Unseeded instances, re-seeded in a forked child so that parent and child never share ids.
_LIVE: weakref.WeakSet[Ids] = weakref.WeakSet()


def _reseed_after_fork() -> None:
    for ids in list(_LIVE):
        ids._reseed_fast()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reseed_after_fork)


def _text(rng: random.Random, n: int, tables: tuple[bytes, bytes]) -> str:
    table, delete = tables
    out = rng.randbytes(n + 8).translate(table, delete)
    while len(out) < n:
        out += rng.randbytes(n).translate(table, delete)
    return out[:n].decode("ascii")


def _digits(rng: random.Random, n: int) -> str:
    return f"{rng.randrange(10**n):0{n}d}"


def _hex(rng: random.Random, n: int) -> str:
    return f"{rng.getrandbits(4 * n):0{n}x}"


def _stamp14(at: datetime) -> str:
    """``yyyyMMddHHmmss`` in Beijing time. %-formatting: a quarter of ``strftime``'s cost and
    half an f-string's with six format specs (measured on CPython 3.11)."""
    t = at.astimezone(SHANGHAI)
    return "%04d%02d%02d%02d%02d%02d" % (t.year, t.month, t.day, t.hour, t.minute, t.second)  # noqa: UP031


class Ids:
    """Makes transaction_ids, prepay_ids, code_url codes, nonces, keys and openids."""

    def __init__(self, seed: int | None = None) -> None:
        self._fast: random.Random
        self._strong: random.Random
        self.seed(seed)

    def seed(self, seed: int | None) -> None:
        if seed is not None:
            self._fast = self._strong = random.Random(seed)
            _LIVE.discard(self)
        else:
            self._reseed_fast()
            self._strong = secrets.SystemRandom()
            _LIVE.add(self)

    def _reseed_fast(self) -> None:
        self._fast = random.Random(int.from_bytes(os.urandom(32), "big"))

    def transaction_id(self, at: datetime) -> str:
        """28 digits: ``42000`` + 5 digits + ``yyyyMMdd`` + 10 digits, as real ids look."""
        rng = self._fast
        return (
            "42000"
            + _digits(rng, 5)
            + at.astimezone(SHANGHAI).strftime("%Y%m%d")
            + _digits(rng, 10)
        )

    def refund_id(self, at: datetime) -> str:
        """29 digits: ``503`` + 10 digits + ``yyyyMMdd`` + 8 digits, as real refund ids look."""
        day = at.astimezone(SHANGHAI).strftime("%Y%m%d")
        return "503" + _digits(self._fast, 10) + day + _digits(self._fast, 8)

    def prepay_id(self, at: datetime) -> str:
        """``wx`` + ``yyyyMMddHHmmss`` + 20 hex characters (36 in all)."""
        return "wx" + _stamp14(at) + _hex(self._fast, 20)

    def qr_code(self) -> str:
        """The ``pr=`` part of a Native code_url."""
        return _text(self._fast, 7, _ALNUM_TABLES)

    def auth_code(self) -> str:
        """A WeChat payment code: 18 digits starting 10 to 15 (a bearer credential: strong)."""
        rng = self._strong
        return "1" + str(rng.randrange(6)) + _digits(rng, 16)

    def nonce_hex(self) -> str:
        """32 lowercase hex characters (the refund notification's nonce_str)."""
        return _hex(self._fast, 32)

    def nonce(self, n: int = 16) -> str:
        return _text(self._fast, n, _ALNUM_TABLES)

    def api_key(self) -> str:
        return _text(self._strong, 32, _ALNUM_TABLES)

    def app_secret(self) -> str:
        return _hex(self._strong, 32)

    def appid(self) -> str:
        return "wx" + _hex(self._fast, 16)

    def mch_id(self) -> str:
        return "19" + _digits(self._fast, 8)

    def openid(self) -> str:
        """28 characters of ``[A-Za-z0-9_-]``, starting ``o``, like real openids."""
        return "o" + _text(self._fast, 27, _URL_SAFE_TABLES)

    def password(self, n: int = 6) -> str:
        return _digits(self._strong, n)
