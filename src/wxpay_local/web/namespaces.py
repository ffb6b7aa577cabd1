"""Namespaces: isolated worlds on one server, each under the path prefix ``/ns/<name>``.

A namespace is a whole ``AsgiApp`` of its own — store (its own SQLite file or PostgreSQL schema,
``store.namespaced``), clock, ids, notification dispatcher, journal, control plane, payer pages
and console — built by the same composition root as the server's. ``AsgiApp.__call__`` hands any
``/ns/<name>/…`` request to ``Namespaces.serve``, which strips the prefix and calls that app,
so the merchant API, ``/_local``, ``/pay``, ``/console`` all work unchanged below the prefix
and nothing in the request path knows of namespaces (docs/namespaces.md says why this, and
not a namespace column in every table).

The namespace's own ``Boundary`` (same settings as the server's) checks every non-merchant
request, so the admin token and the same-origin rules hold under the prefix too.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any, TypeVar

from wxpay_local.domain.clock import TestClock
from wxpay_local.domain.ids import Ids
from wxpay_local.store import PostgresStore, SqlStore
from wxpay_local.store import namespaced as db

if TYPE_CHECKING:
    from wxpay_local.web.app import AsgiApp

log = logging.getLogger("wxpay_local")
T = TypeVar("T")

PREFIX = "/ns/"
#: Lower-case letters, digits and ``_``: a file name and a PostgreSQL identifier as it is.
NAME = re.compile(r"^[a-z0-9][a-z0-9_]{0,31}$")
LABEL = NAME

Scope = MutableMapping[str, Any]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]


class Namespaces:
    """The namespaces of one server process: the open ones, opened on first use.

    Another process of the same server (``serve --workers``) learns of a namespace on its
    first request for it: the database is the registry (a file, a schema), nothing else is.
    """

    def __init__(self, root: AsgiApp) -> None:
        self.root = root
        self.open: dict[str, AsgiApp] = {}
        #: One create, drop, open, snapshot or restore at a time (they are milliseconds).
        self._lock = asyncio.Lock()

    def prefix(self, name: str) -> str:
        return f"{PREFIX}{name}"

    def base_url(self, name: str) -> str:
        return self.root.settings.base_url + self.prefix(name)

    # lifecycle ---------------------------------------------------------------------------------
    async def create(self, name: str, seed: int | None = None) -> AsgiApp | None:
        """The new namespace's app, or None if one of that name exists."""
        async with self._lock:
            if name in self.open or await self._open(name) is not None:
                return None
            store = await self._store_call(
                lambda: db.open_namespace(self._root_store, name, create=True)
            )
            return await self._start(name, store, seed)

    async def get(self, name: str) -> AsgiApp | None:
        app = self.open.get(name)
        if app is not None:
            return app
        async with self._lock:
            return self.open.get(name) or await self._open(name)

    async def _open(self, name: str) -> AsgiApp | None:
        try:
            store = await self._store_call(
                lambda: db.open_namespace(self._root_store, name, create=False)
            )
        except (LookupError, db.Unavailable):
            return None
        return await self._start(name, store, None)

    async def _start(self, name: str, store: SqlStore, seed: int | None) -> AsgiApp:
        from wxpay_local.web.app import AsgiApp

        ids = Ids(self.root.settings.seed if seed is None else seed)
        app = AsgiApp(self.root.settings, store, TestClock(), ids, prefix=self.prefix(name))
        await app.startup()
        self.open[name] = app
        return app

    async def drop(self, name: str) -> bool:
        async with self._lock:
            app = self.open.pop(name, None)
            if app is not None:
                await app.shutdown()
            store = None if app is None else app.store
            return await self._store_call(lambda: db.drop_namespace(self._root_store, name, store))

    async def close(self) -> None:
        """At the server's shutdown: stop every open namespace (their data stays)."""
        for name in list(self.open):
            app = self.open.pop(name)
            await app.shutdown()
            app.store.close()

    def names(self) -> list[str]:
        root = self._root_store
        if isinstance(root, PostgresStore):
            return db.list_postgres(root)
        try:
            return sorted(set(db.list_sqlite(root)) | set(self.open))
        except db.Unavailable:
            return []

    # snapshots ---------------------------------------------------------------------------------
    async def snapshot(self, name: str, label: str) -> bool:
        """False when there is no such namespace."""
        app = await self.get(name)
        if app is None:
            return False
        async with self._lock:
            await app.journal.flush()  # the journal so far belongs to the fixture state
            await self._store_call(lambda: db.snapshot(app.store, name, label))
        return True

    async def restore(self, name: str, label: str) -> bool:
        """False when there is no such namespace; ``LookupError`` when no such snapshot."""
        app = await self.get(name)
        if app is None:
            return False
        async with self._lock:
            await app.journal.flush()  # entries of before the restore must not land after it
            await self._store_call(lambda: db.restore(app.store, name, label))
            # The clock is a row like any other: the namespace's clock is the snapshot's again.
            app.forget_clock()
            await app.store.run(app.load_clock, write=False)
            app.dispatcher.wake()
        return True

    @property
    def _root_store(self) -> SqlStore:
        return self.root.store

    async def _store_call(self, fn: Callable[[], T]) -> T:
        """Whole-database work: on SQLite inline on the event loop, so that no group commit of
        this process is half done around it; on PostgreSQL in a worker thread."""
        if self.root.store.inline:
            return fn()
        return await asyncio.to_thread(fn)

    # serving -----------------------------------------------------------------------------------
    async def serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        name, slash, rest = path[len(PREFIX) :].partition("/")
        app = await self.get(name) if NAME.match(name) else None
        if app is None:
            await _not_found(send, name)
            return
        prefix = self.prefix(name)
        inner = dict(scope)
        inner["path"] = slash + rest or "/"
        inner["raw_path"] = inner["path"].encode()
        # Not ``root_path``: the namespace's own app (its boundary included) sees the paths
        # it would see as a server of its own; ``wxpay.namespace`` says where it is mounted.
        inner["wxpay.namespace"] = prefix
        await app(inner, receive, send)


async def _not_found(send: Send, name: str) -> None:
    body = json.dumps(
        {"error": "NO_NAMESPACE", "message": f"no namespace {name!r} on this server"},
        ensure_ascii=True,
    ).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 404, "headers": headers})
    await send({"type": "http.response.body", "body": body})
