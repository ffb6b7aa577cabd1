"""``serve`` (the platform: HTTP, HTTPS for /secapi/, the dispatcher) and ``worker`` (only the
notification dispatcher, against the same database). ``serve --workers N`` forks N processes
on shared sockets; ``web.serve.run_workers`` owns their start and their SIGTERM handling."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import click

from wxpay_local import demo
from wxpay_local.cli.output import Output
from wxpay_local.cli.remote import json_option
from wxpay_local.settings import Settings

NOTIFY_SCHEDULES = ("wechat", "legacy", "fast")


def _storage_options(f: Callable[..., None]) -> Callable[..., None]:
    f = click.option(
        "--notify-schedule",
        type=click.Choice(NOTIFY_SCHEDULES),
        help="Notification retry schedule: the platform's (wechat, the default), the older "
        "legacy one, or fast for tests (env WXPAY_NOTIFY_SCHEDULE).",
    )(f)
    f = click.option(
        "--database-url",
        metavar="URL",
        help="postgresql://… (env WXPAY_DATABASE_URL; default: SQLite in the data directory).",
    )(f)
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        help="Data directory (env WXPAY_DATA_DIR; default ./wxpay-data).",
    )(f)


def settings_from(options: dict[str, Any]) -> Settings:
    """Settings from the environment, overridden by the options given (None: not given)."""
    return Settings.from_env(
        data_dir=options.get("data_dir"),
        database_url=options.get("database_url"),
        host=options.get("host"),
        port=options.get("port"),
        notify_schedule=options.get("notify_schedule"),
        dispatcher=False if options.get("no_dispatcher") else None,
        closeorder_min_age_seconds=options.get("closeorder_min_age"),
        durability=options.get("durability"),
        tls_port=options.get("tls_port"),
        refund_settle_seconds=options.get("refund_settle_seconds"),
        require_client_cert=False if options.get("no_client_cert") else None,
        bills_available_immediately=options.get("bills_available_immediately") or None,
        bill_generation_hour=options.get("bill_generation_hour"),
        operator_password=options.get("operator_password"),
        admin_token=options.get("admin_token"),
        public_url=options.get("public_url"),
        allowed_hosts=tuple(options.get("allowed_host") or ()) or None,
        probe_hosts=tuple(options.get("allow_probe_host") or ()) or None,
    )


def _run_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine on uvloop when installed (the measured-fastest loop), else asyncio."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)


def _serve_process(
    settings: Settings, listeners: Any, sockets: list[socket.socket] | None, log_level: str
) -> None:
    """One server process: the app on the HTTP and HTTPS listeners."""
    import gc

    from wxpay_local.web import create_app
    from wxpay_local.web.serve import serve, servers

    app = create_app(settings)
    gc.freeze()  # start-up objects never need collecting again
    _run_loop(serve(servers(app, listeners, log_level), sockets))


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto IPPROTO_TCP: asyncio sets TCP_NODELAY only on accepted sockets that say TCP
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise click.ClickException(
            f"cannot listen on {host}:{port}: {(exc.strerror or str(exc)).lower()}"
        ) from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


@click.command(help="Run the platform (creates demo data on first run).")
@_storage_options
@click.option(
    "--host",
    help="Listen address (default 127.0.0.1; 0.0.0.0 exposes it: see docs/security.md).",
)
@click.option(
    "--public-url",
    metavar="URL",
    help="The URL others reach this server by (pages, code_urls); its host is allowed and "
    "the control plane then needs the admin token (env WXPAY_PUBLIC_URL).",
)
@click.option(
    "--allowed-host",
    multiple=True,
    metavar="NAME",
    help="Another Host name the console, pages and control plane answer (repeatable; env "
    "WXPAY_ALLOWED_HOSTS=a,b; loopback names and IP addresses are always allowed).",
)
@click.option(
    "--allow-probe-host",
    multiple=True,
    metavar="NAME",
    help="A host besides loopback that `wxpay-local probe` may send notifications to "
    "(repeatable; env WXPAY_PROBE_HOSTS=a,b).",
)
@click.option(
    "--admin-token",
    metavar="TOKEN",
    help="Bearer token for /_local/ (env WXPAY_ADMIN_TOKEN); off loopback it is required, "
    "and one is generated into the data dir and printed when not given.",
)
@click.option("--port", type=int, help="HTTP port (default 8700).")
@click.option(
    "--tls-port",
    type=int,
    help="HTTPS port for /secapi/ with client certificates (default port+1; 0: no HTTPS).",
)
@click.option(
    "--no-client-cert",
    is_flag=True,
    help="Let /secapi/ calls through without a client certificate (the journal warns; "
    "the real platform refuses them).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Server processes sharing the ports (SQLite or PostgreSQL).",
)
@click.option("--no-demo", is_flag=True, help="Do not seed demo data.")
@click.option(
    "--no-dispatcher",
    is_flag=True,
    help="Do not deliver notifications here (run `wxpay-local worker`).",
)
@click.option(
    "--closeorder-min-age",
    type=int,
    metavar="SECONDS",
    help="Seconds an order must exist before closeorder (platform: 300).",
)
@click.option(
    "--refund-settle-seconds",
    type=float,
    help="Platform seconds before an accepted refund succeeds (default 5).",
)
@click.option(
    "--durability",
    type=click.Choice(["full", "normal"]),
    help="SQLite: full = fsync before answering (default), normal = faster.",
)
@click.option(
    "--bills-available-immediately",
    is_flag=True,
    help="Bills: today's (and yesterday's before the generation hour) download at once.",
)
@click.option(
    "--bill-generation-hour",
    type=click.IntRange(0, 23),
    metavar="HOUR",
    help="Bills: yesterday's bill exists from this hour, platform time (default 9).",
)
@click.option(
    "--operator-password",
    help="The console's operator password (default: generated once, printed at start).",
)
@click.option(
    "--log-level",
    type=click.Choice(["critical", "error", "warning", "info", "debug", "trace"]),
    default="info",
    show_default=True,
    help="uvicorn's log level.",
)
@json_option
def serve(as_json: bool, workers: int, log_level: str, no_demo: bool, **options: Any) -> None:
    from datetime import datetime

    from wxpay_local.store import open_store
    from wxpay_local.timefmt import SHANGHAI
    from wxpay_local.web.boundary import ensure_admin_token
    from wxpay_local.web.serve import Listeners, run_workers
    from wxpay_local.web.tls import ensure_files

    settings = settings_from(options)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings = ensure_admin_token(settings)  # before the workers start: they share it
    store = open_store(settings.effective_database_url, durability=settings.durability)
    try:
        seeded = None if no_demo else demo.seed_if_empty(store, settings)
        tls = None
        if settings.effective_tls_port:
            tls = ensure_files(store, settings.data_dir, datetime.now(SHANGHAI))
        if as_json:
            Output(True).json(_facts(settings, seeded, None if tls is None else tls.ca))
        else:
            click.echo(demo.banner(store, settings, seeded, tls))
        sys.stdout.flush()
    finally:
        store.close()
    listeners = Listeners(settings.host, settings.port, settings.effective_tls_port, tls)
    if workers <= 1:
        _serve_process(settings, listeners, None, log_level)
        return
    sockets = [_bind(settings.host, settings.port)]
    if settings.effective_tls_port:
        sockets.append(_bind(settings.host, settings.effective_tls_port))
    sys.exit(run_workers(_serve_process, (settings, listeners, sockets, log_level), workers))


def _facts(settings: Settings, seeded: demo.Seeded | None, ca: Path | None) -> dict[str, Any]:
    """``serve --json``: where things are, as one JSON object (secrets: ``merchant list``)."""
    return {
        "url": settings.local_url,
        "public_url": settings.public_url or None,
        "https_url": settings.tls_base_url if ca is not None else None,
        "ca": None if ca is None else str(ca),
        "database": settings.effective_database_url,
        "data_dir": str(settings.data_dir),
        "first_run": bool(seeded and seeded.created),
        "exposed": settings.exposed,
        "admin_token": settings.admin_token if settings.exposed else None,
        "openapi": settings.local_url + "/_local/openapi.json",
    }


@click.command(help="Deliver notifications (a separate process, same database as the servers).")
@_storage_options
@json_option
def worker(as_json: bool, **options: Any) -> None:
    from wxpay_local.web import create_app

    settings = settings_from(options)
    app = create_app(settings)

    async def main() -> None:
        await asyncio.to_thread(app.load_clock) if not app.store.inline else app.load_clock()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        refresher = loop.create_task(app._refresh_clock())
        runner = loop.create_task(app.dispatcher.run())
        database = settings.effective_database_url
        if as_json:
            Output(True).json({"worker": "started", "database": database})
        else:
            click.echo(f"wxpay-local worker delivering notifications from {database}")
        sys.stdout.flush()
        await stop.wait()
        app.dispatcher.stop()
        refresher.cancel()
        await asyncio.gather(runner, refresher, return_exceptions=True)

    asyncio.run(main())
    app.store.close()
