"""Running the app on its two listeners: HTTP, and HTTPS with client certificates (/secapi/).

Imports: web.app, web.tls, settings, uvicorn.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from typing import Any, Literal

import uvicorn

from wxpay_local.web.tls import TlsAwareProtocol, TlsFiles, server_context


@dataclass(frozen=True)
class Listeners:
    host: str
    port: int
    tls_port: int  # 0: no HTTPS listener
    tls_files: TlsFiles | None


def _config(
    app: Any, host: str, port: int, *, lifespan: Literal["on", "off"], log_level: str
) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        lifespan=lifespan,
        log_level=log_level,
        access_log=False,
        http=TlsAwareProtocol,
        loop="none",
        timeout_graceful_shutdown=5,
    )


def servers(app: Any, listeners: Listeners, log_level: str = "info") -> list[uvicorn.Server]:
    """The HTTP server (runs the app's lifespan) and, if configured, the HTTPS server."""
    main = uvicorn.Server(
        _config(app, listeners.host, listeners.port, lifespan="on", log_level=log_level)
    )
    found = [main]
    if listeners.tls_port and listeners.tls_files is not None:
        config = _config(
            app, listeners.host, listeners.tls_port, lifespan="off", log_level=log_level
        )
        config.load()
        config.ssl = server_context(listeners.tls_files)  # ours: expired client certs get XML
        found.append(uvicorn.Server(config))
    return found


async def serve(
    found: list[uvicorn.Server],
    sockets: list[socket.socket] | None = None,
    *,
    signals: bool = True,
) -> None:
    """Serve until the main server is told to exit (signal or ``should_exit``)."""
    main, others = found[0], found[1:]
    main_sockets = None if sockets is None else [sockets[0]]
    tasks = [
        asyncio.create_task(
            other._serve(None if sockets is None else [sockets[i + 1]])  # no signal capture
        )
        for i, other in enumerate(others)
    ]

    async def follow_main() -> None:
        while not main.should_exit:
            await asyncio.sleep(0.1)
        for other in others:
            other.should_exit = True

    follower = asyncio.create_task(follow_main())
    try:
        if signals:
            await main.serve(main_sockets)
        else:
            await main._serve(main_sockets)
    finally:
        main.should_exit = True
        await follower
        await asyncio.gather(*tasks, return_exceptions=True)
