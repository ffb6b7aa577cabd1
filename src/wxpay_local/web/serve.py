"""Running the app on its two listeners: HTTP, and HTTPS with client certificates (/secapi/);
and ``serve --workers N``: N such processes on shared sockets, stopped together.

Stopping (SIGINT or SIGTERM, or ``should_exit`` on the first server): every listener stops
accepting, requests in flight finish (up to ``GRACEFUL_SECONDS``), and only then the app's
lifespan shutdown runs, which flushes the journal. So an answer the client received is in the
journal, whichever listener carried it.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import wait
from types import FrameType
from typing import Any

import uvicorn
from uvicorn.lifespan.on import LifespanOn

from wxpay_local.web.tls import TlsAwareProtocol, TlsFiles, server_context

#: How long a stopping server waits for requests in flight before cancelling them.
GRACEFUL_SECONDS = 5
#: How long ``run_workers`` waits for stopping workers before killing them: their own grace,
#: the lifespan shutdown (journal flush, dispatcher stop) and some slack.
WORKER_STOP_SECONDS = GRACEFUL_SECONDS + 10
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass(frozen=True)
class Listeners:
    host: str
    port: int
    tls_port: int  # 0: no HTTPS listener
    tls_files: TlsFiles | None


def _config(app: Any, host: str, port: int, *, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        # the listeners share one app: ``serve`` runs its lifespan once, around both of them
        lifespan="off",
        log_level=log_level,
        access_log=False,
        http=TlsAwareProtocol,
        loop="none",
        timeout_graceful_shutdown=GRACEFUL_SECONDS,
    )


def servers(app: Any, listeners: Listeners, log_level: str = "info") -> list[uvicorn.Server]:
    """The HTTP server and, if configured, the HTTPS server, for ``serve``."""
    found = [uvicorn.Server(_config(app, listeners.host, listeners.port, log_level=log_level))]
    if listeners.tls_port and listeners.tls_files is not None:
        config = _config(app, listeners.host, listeners.tls_port, log_level=log_level)
        config.load()
        config.ssl = server_context(listeners.tls_files)  # ours: expired client certs get XML
        found.append(uvicorn.Server(config))
    return found


@contextmanager
def _stop_on_signals(found: list[uvicorn.Server]) -> Iterator[None]:
    """SIGINT and SIGTERM stop every server gracefully; a second SIGINT (Ctrl-C twice) stops
    them at once, as uvicorn does. Our own handler rather than uvicorn's: uvicorn's re-raises
    the signal when its server is done, which would kill the process before the HTTPS
    listener's requests finish and before the journal is flushed."""
    loop = asyncio.get_running_loop()

    def stop(sig: int) -> None:
        if sig == signal.SIGINT and found[0].should_exit:
            for server in found:
                server.force_exit = True
        for server in found:
            server.should_exit = True

    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop, sig)
    try:
        yield
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)


async def serve(
    found: list[uvicorn.Server],
    sockets: list[socket.socket] | None = None,
    *,
    signals: bool = True,
) -> None:
    """Serve until SIGINT/SIGTERM (when ``signals``; only in the main thread) or until the
    first server's ``should_exit``; ``sockets`` (HTTP, then HTTPS) are already bound."""
    main = found[0]
    lifespan = LifespanOn(main.config)
    await lifespan.startup()
    if lifespan.should_exit:
        raise RuntimeError("the app did not start (see the log above)")

    async def follow_main() -> None:
        while not main.should_exit:
            await asyncio.sleep(0.1)
        for server in found:
            server.should_exit = True

    follower = asyncio.create_task(follow_main())
    try:
        with _stop_on_signals(found) if signals else _nothing():
            await asyncio.gather(
                *(
                    server._serve(None if sockets is None else [sockets[i]])
                    for i, server in enumerate(found)
                )
            )
    finally:
        main.should_exit = True
        await follower
        # every listener has finished its requests: only now stop the app (journal flush)
        await lifespan.shutdown()


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def _worker(target: Callable[..., None], args: tuple[Any, ...]) -> None:
    """A worker stops by itself (as on SIGTERM) when its parent is gone, even by ``kill -9``,
    rather than serve on, orphaned, on the shared port."""
    parent = multiprocessing.parent_process()
    if parent is not None:

        def stop_when_orphaned() -> None:
            parent.join()  # returns when the parent's end of the pipe closes: it has exited
            os.kill(os.getpid(), signal.SIGTERM)

        threading.Thread(target=stop_when_orphaned, daemon=True).start()
    target(*args)


def run_workers(target: Callable[..., None], args: tuple[Any, ...], count: int) -> int:
    """Run ``count`` processes of ``target(*args)`` (spawned) until all have ended.

    SIGINT or SIGTERM here is passed on to every worker as SIGTERM: each stops gracefully
    (see ``serve``). A worker still running ``WORKER_STOP_SECONDS`` later is killed, so the
    command never leaves a process behind. (Ctrl-C in a terminal also reaches the workers
    directly, as they are in its process group; SIGTERM, never SIGINT, is forwarded so that
    one Ctrl-C does not count as two.) 0 when every worker ended cleanly or by the stop
    signal, else 1.
    """
    spawn = multiprocessing.get_context("spawn")
    workers = [spawn.Process(target=_worker, args=(target, args)) for _ in range(count)]
    deadline: float | None = None

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal deadline
        if deadline is None:
            deadline = time.monotonic() + WORKER_STOP_SECONDS
        for worker in workers:
            if worker.pid is not None and worker.exitcode is None:
                try:
                    os.kill(worker.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass

    previous = {sig: signal.signal(sig, stop) for sig in STOP_SIGNALS}
    try:
        for worker in workers:
            if deadline is None:  # a signal during start-up: start no more
                worker.start()
        if deadline is not None:  # a worker started while the signal was handled: tell it too
            stop(signal.SIGTERM, None)
        while running := [w for w in workers if w.is_alive()]:
            if deadline is not None and time.monotonic() > deadline:
                for worker in running:
                    worker.kill()
            wait([w.sentinel for w in running], timeout=0.5)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    # a worker the signal reached before it had set up its handlers died of it: that is a stop
    clean = {0, None} | ({-signal.SIGTERM, -signal.SIGINT} if deadline is not None else set())
    return 0 if all(w.exitcode in clean for w in workers) else 1
