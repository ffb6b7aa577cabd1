"""The base of every statement family: one open transaction on one connection.

``Statements`` runs a template through the dialect (``store.dialect``) and keeps the identity
cache out of a transaction that changes merchants or bindings. Each family (``sql_*.py``)
subclasses it, so ``_one``/``_all``/``_exec`` are inherited, not assumed by convention.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from wxpay_local.store.dialect import Dialect
from wxpay_local.store.identity import (
    BUMP_IDENTITY_VERSION,
    IdentityCache,
    Session,
    new_identity_version,
)


class Cursor(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ...) -> Any: ...
    def executemany(self, sql: str, params_seq: Any) -> Any: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    @property
    def rowcount(self) -> int: ...


#: Observers of every statement a transaction runs (its SQL, before it runs). Process-wide on
#: purpose: a request's statements run on a worker thread the caller cannot name, and the
#: only user is the test that counts the statements of one request.
_observers: list[Callable[[str], None]] = []


@contextmanager
def watch_statements(observer: Callable[[str], None]) -> Iterator[None]:
    """Call ``observer`` with each statement's SQL while the block runs."""
    _observers.append(observer)
    try:
        yield
    finally:
        _observers.remove(observer)


class Statements:
    """One open transaction on one connection."""

    def __init__(
        self,
        cursor: Cursor,
        dialect: Dialect,
        cache: IdentityCache | None = None,
        session: Session | None = None,
    ) -> None:
        self._cur = cursor
        self._dialect = dialect
        self._cache = cache
        self._session = session

    def _exec(self, template: str, params: Sequence[Any] = ()) -> Cursor:
        sql, changes_identity = self._dialect.plan(template)
        if changes_identity:
            self.changes_identity()
        for observe in _observers:
            observe(sql)
        self._cur.execute(sql, params)
        return self._cur

    def changes_identity(self) -> None:
        """This transaction changes merchants or app bindings: keep this process's cache out
        of it, and bump the identity version so every other process empties its own."""
        if self._cache is None:
            first = True
        elif self._session is not None:
            first = self._session.change(self._cache)
        else:
            self._cache.clear()
            first = True
        if first:
            sql, _ = self._dialect.plan(BUMP_IDENTITY_VERSION)
            for observe in _observers:
                observe(sql)
            self._cur.execute(sql, (new_identity_version(),))

    def _one(self, template: str, params: Sequence[Any] = ()) -> Any:
        return self._exec(template, params).fetchone()

    def _all(self, template: str, params: Sequence[Any] = ()) -> list[Any]:
        return self._exec(template, params).fetchall()
