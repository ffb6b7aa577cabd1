"""The per-process cache of merchants and app bindings, and the transaction session that keeps
it honest.
"""

from __future__ import annotations

import secrets
import threading
import time

from wxpay_local.domain.model import Merchant

#: The ``settings`` row every change of merchants or app bindings sets to a new random value,
#: in the changing transaction; each process watches it (``web.shared_state``) and empties its
#: cache when it moves, before serving its next request. Without it another process kept
#: verifying against a rotated-away key for up to ``ttl``. Random, not a counter: a reset
#: deletes the row, and a counter starting again could repeat the value a process last saw.
IDENTITY_VERSION_SETTING = "identity.version"
BUMP_IDENTITY_VERSION = (
    "INSERT INTO settings (key, value) VALUES ('identity.version', ?)"
    " ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)


def new_identity_version() -> str:
    return secrets.token_hex(8)


class IdentityCache:
    """Merchants by (mch_id, env) and app bindings (mch_id, appid), read on every merchant API
    request, kept per process for at most ``ttl`` seconds.

    Only what exists is cached (an unknown merchant or an unbound appid is always looked up), so
    a merchant or binding created anywhere is seen at once. A change made in this process
    (any statement on ``merchants`` or ``app_bindings``) empties the cache and turns it off
    until its transaction has ended, then empties it again, before the caller is answered. A
    change made by another process (another worker, the CLI) bumps ``IDENTITY_VERSION_SETTING``
    in its transaction, and this process empties the cache when its per-request check of the
    shared state sees that (``web.app``): the old key is refused everywhere on the very next
    request. ``ttl`` only bounds a process that serves no requests. A request signed with a key
    this process has not seen yet is also checked again against the database (see
    ``api.pipeline``).
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

    def change(self, cache: IdentityCache) -> bool:
        """True the first time in this transaction (then the identity version is bumped)."""
        if self.changed:
            return False
        self.changed = True
        cache.change_begins()
        return True

    def end(self, cache: IdentityCache) -> None:
        """Called once the transaction committed or rolled back."""
        if self.changed:
            self.changed = False
            cache.change_ends()
