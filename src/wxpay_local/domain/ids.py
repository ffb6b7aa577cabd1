"""Identifiers the platform issues, from one (optionally seeded) random source.

Imports: stdlib.
"""

from __future__ import annotations

import random
import secrets
import string
from datetime import datetime

from wxpay_local.timefmt import SHANGHAI

_ALNUM = string.ascii_letters + string.digits


class Ids:
    """Makes transaction_ids, prepay_ids, code_url codes, nonces, keys and openids."""

    def __init__(self, seed: int | None = None) -> None:
        self._rng: random.Random = (
            random.Random(seed) if seed is not None else secrets.SystemRandom()
        )

    def seed(self, seed: int | None) -> None:
        self._rng = random.Random(seed) if seed is not None else secrets.SystemRandom()

    def _digits(self, n: int) -> str:
        return "".join(self._rng.choice(string.digits) for _ in range(n))

    def _alnum(self, n: int) -> str:
        return "".join(self._rng.choice(_ALNUM) for _ in range(n))

    def transaction_id(self, at: datetime) -> str:
        """28 digits: ``42000`` + 5 digits + ``yyyyMMdd`` + 10 digits, as real ids look."""
        return (
            "42000"
            + self._digits(5)
            + at.astimezone(SHANGHAI).strftime("%Y%m%d")
            + self._digits(10)
        )

    def prepay_id(self, at: datetime) -> str:
        """``wx`` + ``yyyyMMddHHmmss`` + 20 hex characters (36 in all)."""
        tail = "".join(self._rng.choice("0123456789abcdef") for _ in range(20))
        return "wx" + at.astimezone(SHANGHAI).strftime("%Y%m%d%H%M%S") + tail

    def qr_code(self) -> str:
        """The ``pr=`` part of a Native code_url."""
        return self._alnum(7)

    def auth_code(self) -> str:
        """A WeChat payment code: 18 digits starting 10 to 15."""
        return "1" + self._rng.choice("012345") + self._digits(16)

    def nonce(self, n: int = 16) -> str:
        return self._alnum(n)

    def api_key(self) -> str:
        return self._alnum(32)

    def app_secret(self) -> str:
        return "".join(self._rng.choice("0123456789abcdef") for _ in range(32))

    def appid(self) -> str:
        return "wx" + "".join(self._rng.choice("0123456789abcdef") for _ in range(16))

    def mch_id(self) -> str:
        return "19" + self._digits(8)

    def openid(self) -> str:
        """28 characters of ``[A-Za-z0-9_-]``, starting ``o``, like real openids."""
        return "o" + "".join(self._rng.choice(_ALNUM + "_-") for _ in range(27))

    def password(self, n: int = 6) -> str:
        return self._digits(n)
