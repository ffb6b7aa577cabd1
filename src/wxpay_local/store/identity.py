"""The per-process cache of merchants and app bindings, and the transaction session that keeps
it honest.
"""

from __future__ import annotations

import threading
import time

from wxpay_local.domain.model import Merchant


class IdentityCache:
    """Merchants by (mch_id, env) and app bindings (mch_id, appid), read on every merchant API
    request, kept per process for at most ``ttl`` seconds.

    Only what exists is cached (an unknown merchant or an unbound appid is always looked up), so
    a merchant or binding created anywhere is seen at once. A change made in this process
    (any statement on ``merchants`` or ``app_bindings``) empties the cache and turns it off
    until its transaction has ended, then empties it again, before the caller is answered. A
    change made by another process (another worker, the CLI) applies here within ``ttl``;
    a request signed with a key this process has not seen yet is checked again against the
    database (see ``api.pipeline``), so a new key works everywhere at once.
    """

    def __init__(self, ttl: float = 1.0) -> None:
        self.ttl = ttl
        self._merchants: dict[tuple[str, str], tuple[float, Merchant]] = {}
        self._bound: dict[tuple[str, str], float] = {}
        #: Bumped by every change: a lookup that began before one must not fill the cache.
        self._generation = 0
        #: Transactions that changed identity rows and have not ended yet (cache off).
        self._changing = 0
        self._lock = threading.Lock()

    def token(self) -> int | None:
        """Taken before a database lookup, handed to ``put_*`` after it; None: do not cache."""
        return None if self._changing else self._generation

    def merchant(self, key: tuple[str, str]) -> Merchant | None:
        if self._changing:
            return None
        hit = self._merchants.get(key)
        if hit is None:
            return None
        if hit[0] < time.monotonic():
            self._merchants.pop(key, None)
            return None
        return hit[1]

    def put_merchant(self, key: tuple[str, str], merchant: Merchant, token: int | None) -> None:
        with self._lock:
            if token is not None and token == self._generation and not self._changing:
                self._merchants[key] = (time.monotonic() + self.ttl, merchant)

    def bound(self, key: tuple[str, str]) -> bool:
        if self._changing:
            return False
        until = self._bound.get(key)
        if until is None:
            return False
        if until < time.monotonic():
            self._bound.pop(key, None)
            return False
        return True

    def put_bound(self, key: tuple[str, str], token: int | None) -> None:
        with self._lock:
            if token is not None and token == self._generation and not self._changing:
                self._bound[key] = time.monotonic() + self.ttl

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._merchants.clear()
            self._bound.clear()

    def change_begins(self) -> None:
        with self._lock:
            self._changing += 1
            self._generation += 1
            self._merchants.clear()
            self._bound.clear()

    def change_ends(self) -> None:
        with self._lock:
            self._changing -= 1
            self._generation += 1
            self._merchants.clear()
            self._bound.clear()


class Session:
    """One database transaction (shared by the requests of a group commit): whether it changed
    cached identity rows, so that the cache stays off until it has ended."""

    __slots__ = ("changed",)

    def __init__(self) -> None:
        self.changed = False

    def change(self, cache: IdentityCache) -> None:
        if not self.changed:
            self.changed = True
            cache.change_begins()

    def end(self, cache: IdentityCache) -> None:
        """Called once the transaction committed or rolled back."""
        if self.changed:
            self.changed = False
            cache.change_ends()
