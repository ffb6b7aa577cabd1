"""``wxpay-local``: run the platform (serve, worker) and drive a running one (the control plane).

Imports: everything.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import httpx

from wxpay_local import cli_bill, demo
from wxpay_local.settings import Settings

DEFAULT_URL = "http://127.0.0.1:8700"


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(
        data_dir=Path(args.data_dir) if args.data_dir else None,
        database_url=args.database_url,
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
        notify_schedule=getattr(args, "notify_schedule", None),
        dispatcher=False if getattr(args, "no_dispatcher", False) else None,
        closeorder_min_age_seconds=getattr(args, "closeorder_min_age", None),
        durability=getattr(args, "durability", None),
        tls_port=getattr(args, "tls_port", None),
        refund_settle_seconds=getattr(args, "refund_settle_seconds", None),
        require_client_cert=False if getattr(args, "no_client_cert", False) else None,
        bills_available_immediately=getattr(args, "bills_available_immediately", None) or None,
        bill_generation_hour=getattr(args, "bill_generation_hour", None),
        operator_password=getattr(args, "operator_password", None),
        admin_token=getattr(args, "admin_token", None),
        public_url=getattr(args, "public_url", None),
        allowed_hosts=tuple(getattr(args, "allowed_host", None) or ()) or None,
    )


def _run_loop(main: Any) -> None:
    """Run a coroutine on uvloop when installed (the measured-fastest loop), else asyncio."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)


def _serve_process(
    settings: Settings, listeners: Any, sockets: list[Any] | None, log_level: str
) -> None:
    """One server process: the app on the HTTP and HTTPS listeners."""
    import gc

    from wxpay_local.web import create_app
    from wxpay_local.web.serve import serve, servers

    app = create_app(settings)
    gc.freeze()  # start-up objects never need collecting again
    _run_loop(serve(servers(app, listeners, log_level), sockets))


def _bind(host: str, port: int) -> Any:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto IPPROTO_TCP: asyncio sets TCP_NODELAY only on accepted sockets that say TCP
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def cmd_serve(args: argparse.Namespace) -> int:
    from datetime import datetime

    from wxpay_local.store import open_store
    from wxpay_local.timefmt import SHANGHAI
    from wxpay_local.web.boundary import ensure_admin_token
    from wxpay_local.web.serve import Listeners, run_workers
    from wxpay_local.web.tls import ensure_files

    settings = _settings(args)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings = ensure_admin_token(settings)  # before the workers start: they share it
    store = open_store(settings.effective_database_url, durability=settings.durability)
    try:
        seeded = None if args.no_demo else demo.seed_if_empty(store, settings)
        tls = None
        if settings.effective_tls_port:
            tls = ensure_files(store, settings.data_dir, datetime.now(SHANGHAI))
        print(demo.banner(store, settings, seeded, tls), flush=True)
    finally:
        store.close()
    listeners = Listeners(settings.host, settings.port, settings.effective_tls_port, tls)
    if args.workers <= 1:
        _serve_process(settings, listeners, None, args.log_level)
        return 0
    sockets = [_bind(settings.host, settings.port)]
    if settings.effective_tls_port:
        sockets.append(_bind(settings.host, settings.effective_tls_port))
    return run_workers(_serve_process, (settings, listeners, sockets, args.log_level), args.workers)


def cmd_worker(args: argparse.Namespace) -> int:
    """Run only the notification dispatcher, against the same database as the servers."""
    from wxpay_local.web import create_app

    settings = _settings(args)
    app = create_app(settings)

    async def main() -> None:
        await asyncio.to_thread(app.load_clock) if not app.store.inline else app.load_clock()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        refresher = loop.create_task(app._refresh_clock())
        runner = loop.create_task(app.dispatcher.run())
        print(
            f"wxpay-local worker delivering notifications from {settings.effective_database_url}",
            flush=True,
        )
        await stop.wait()
        app.dispatcher.stop()
        refresher.cancel()
        await asyncio.gather(runner, refresher, return_exceptions=True)

    asyncio.run(main())
    app.store.close()
    return 0


# control-plane commands ----------------------------------------------------------------------
def _call(
    args: argparse.Namespace,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
) -> Any:
    try:
        response = httpx.request(
            method,
            args.url.rstrip("/") + path,
            json=body,
            params=params,
            headers=auth_headers(args),
            timeout=30,
            trust_env=False,
        )
    except httpx.HTTPError as exc:
        sys.exit(f"cannot reach wxpay-local at {args.url}: {exc} (is `wxpay-local serve` running?)")
    try:
        data = response.json()
    except ValueError:
        sys.exit(f"{args.url} answered {response.status_code} without JSON: is it wxpay-local?")
    if response.status_code == 401:
        sys.exit(
            f"error {data.get('error')}: {data.get('message')}\n"
            "give the token the server printed: --admin-token T or WXPAY_ADMIN_TOKEN=T"
        )
    if response.status_code >= 400:
        sys.exit(f"error {data.get('error')}: {data.get('message')}")
    return data


def auth_headers(args: argparse.Namespace) -> dict[str, str]:
    """The control plane's bearer token (needed when the server is not on loopback only)."""
    token = getattr(args, "admin_token", None)
    return {"authorization": f"Bearer {token}"} if token else {}


def _print(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


def cmd_merchant(args: argparse.Namespace) -> int:
    if args.action == "cert":
        return _merchant_cert(args)
    if args.action == "create":
        body = {"name": args.name}
        if args.mch_id:
            body["mch_id"] = args.mch_id
        _print(_call(args, "POST", "/_local/merchants", body))
    elif args.action == "list":
        for m in _call(args, "GET", "/_local/merchants")["merchants"]:
            apps = ", ".join(f"{a['appid']} ({a['kind']})" for a in m["apps"])
            print(f"{m['mch_id']}  {m['name']}  key={m['api_key']}  apps: {apps}")
    return 0


def _merchant_cert(args: argparse.Namespace) -> int:
    """Write the merchant's certificate files, as the platform's download gives them."""
    import base64

    if not args.mch_id_arg:
        sys.exit("usage: wxpay-local merchant cert MCH_ID [--out DIR] [--rotate]")
    mch_id = args.mch_id_arg
    path = f"/_local/merchants/{mch_id}/cert"
    data = _call(args, "POST", path + "/rotate", {}) if args.rotate else _call(args, "GET", path)
    folder = Path(args.out or f"./wxpay-certs/{mch_id}")
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("apiclient_cert.pem", "apiclient_key.pem", "rootca.pem"):
        (folder / name).write_text(data[name])
    (folder / "apiclient_key.pem").chmod(0o600)
    (folder / "apiclient_cert.p12").write_bytes(base64.b64decode(data["apiclient_cert.p12"]))
    print(
        f"certificate for merchant {mch_id}"
        + (" (rotated: the old one no longer works)" if args.rotate else "")
    )
    print(f"  serial       {data['serial']}")
    print(f"  valid        {data['not_before']}  to  {data['not_after']}")
    for name in ("apiclient_cert.pem", "apiclient_key.pem", "apiclient_cert.p12", "rootca.pem"):
        print(f"  {name:<18} {folder / name}")
    print(f"  p12 password {data['p12_password']}")
    print(f"  HTTPS        {data['https_url']}  (trust rootca.pem)")
    return 0


def _payer_id_of(args: argparse.Namespace, who: str) -> int:
    if who.isdigit():
        return int(who)
    return int(_call(args, "GET", f"/_local/openids/{who}")["payer_id"])


def cmd_payer(args: argparse.Namespace) -> int:
    if args.action == "code":
        payer_id = _payer_id_of(args, args.who or "")
        code = _call(args, "POST", f"/_local/payers/{payer_id}/codes", {})
        print(code["auth_code"])
        print(f"valid until {code['expires_at']}, single use", file=sys.stderr)
        return 0
    if args.action == "confirm":
        payer_id = _payer_id_of(args, args.who or "")
        prompt: dict[str, Any] = {"cancel": True} if args.cancel else {}
        if args.password is not None:  # neither: the platform says what is missing
            prompt["password"] = args.password
        answer = _call(args, "POST", f"/_local/payers/{payer_id}/confirm", prompt)
        print(f"{answer['outcome']}: {answer['message']}")
        return 0 if answer["outcome"] in ("SUCCESS", "CANCELLED") else 1
    if args.action == "create":
        body: dict[str, Any] = {"name": args.name, "balance": args.balance}
        if args.card:
            body["cards"] = args.card
        _print(_call(args, "POST", "/_local/payers", body))
    elif args.action == "list":
        for p in _call(args, "GET", "/_local/payers")["payers"]:
            cards = ", ".join(f"#{c['card_id']} {c['bank_type']}" for c in p["cards"]) or "none"
            print(
                f"{p['payer_id']:>4}  {p['name']:<12} balance {p['balance']:>10} fen  "
                f"cards: {cards}"
            )
    else:
        params = {"appid": args.appid} if args.appid else None
        payer_id = _payer_id_of(args, args.who or "")
        _print(_call(args, "GET", f"/_local/payers/{payer_id}", params=params))
    return 0


def cmd_pay(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"payer_id": args.payer, "action": "cancel" if args.cancel else "pay"}
    if args.target.startswith("weixin://"):
        body["code_url"] = args.target
    else:
        body["prepay_id"] = args.target
    if args.card is not None:
        body["card_id"] = args.card
    if args.password is not None:
        body["password"] = args.password
    answer = _call(args, "POST", "/_local/pay", body)
    print(f"{answer['outcome']}: {answer['message']}")
    if answer.get("order"):
        order = answer["order"]
        print(
            f"order {order['out_trade_no']} is {order['trade_state']}"
            + (f", transaction_id {order['transaction_id']}" if order["transaction_id"] else "")
        )
    return 0 if answer["outcome"] == "SUCCESS" else 1


def cmd_refund(args: argparse.Namespace) -> int:
    if args.action == "list":
        if len(args.ids) != 2:
            sys.exit("usage: wxpay-local refund list MCH_ID OUT_TRADE_NO")
        mch_id, out_trade_no = args.ids
        found = _call(args, "GET", f"/_local/orders/{mch_id}/{out_trade_no}/refunds")["refunds"]
        if not found:
            print("no refunds")
        for r in found:
            print(
                f"{r['refund_id']}  {r['out_refund_no']:<20} {r['refund_fee']:>8} fen  "
                f"{r['refund_status']:<11} {r['refund_recv_accout']}"
            )
        return 0
    if len(args.ids) != 2:
        sys.exit("usage: wxpay-local refund outcome REFUND_ID SUCCESS|CHANGE|REFUNDCLOSE")
    refund_id, status = args.ids
    _print(
        _call(
            args, "POST", f"/_local/refunds/{refund_id}/outcome", {"refund_status": status.upper()}
        )
    )
    return 0


def cmd_clock(args: argparse.Namespace) -> int:
    if args.action == "advance":
        seconds = _duration(args.amount)
        _print(_call(args, "POST", "/_local/clock/advance", {"seconds": seconds}))
    elif args.action == "real":
        _print(_call(args, "POST", "/_local/clock", {"real": True}))
    else:
        _print(_call(args, "GET", "/_local/clock"))
    return 0


def _duration(text: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if text[-1:] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def cmd_simple(args: argparse.Namespace) -> int:
    routes = {
        "reset": ("POST", "/_local/reset"),
        "ledger": ("GET", "/_local/ledger"),
        "notifications": ("GET", "/_local/notifications"),
        "journal": ("GET", "/_local/journal"),
    }
    method, path = routes[args.command]
    params: dict[str, str] = {}
    if getattr(args, "failures", False):
        params["failures"] = "1"
    if getattr(args, "kind", None):
        params["kind"] = args.kind
    _print(_call(args, method, path, {} if method == "POST" else None, params))
    return 0


def parser() -> argparse.ArgumentParser:
    from wxpay_local import __version__

    root = argparse.ArgumentParser(prog="wxpay-local", description=__doc__)
    root.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = root.add_subparsers(dest="command", required=True)

    def storage(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data-dir", help="data directory (default ./wxpay-data)")
        p.add_argument("--database-url", help="postgresql://… (default: SQLite in the data dir)")
        p.add_argument("--notify-schedule", choices=["wechat", "legacy", "fast"])

    serve = sub.add_parser("serve", help="run the platform (creates demo data on first run)")
    storage(serve)
    serve.add_argument(
        "--host",
        default=None,
        help="listen address (default 127.0.0.1; 0.0.0.0 exposes it: see docs/security.md)",
    )
    serve.add_argument(
        "--public-url",
        help="the URL others reach this server by (pages, code_urls); its host is allowed and "
        "the control plane then needs the admin token (env WXPAY_PUBLIC_URL)",
    )
    serve.add_argument(
        "--allowed-host",
        action="append",
        metavar="NAME",
        help="another Host name the console, pages and control plane answer (repeatable; env "
        "WXPAY_ALLOWED_HOSTS=a,b; loopback names and IP addresses are always allowed)",
    )
    serve.add_argument(
        "--admin-token",
        help="bearer token for /_local/ (env WXPAY_ADMIN_TOKEN); off loopback it is required, "
        "and one is generated into the data dir and printed when not given",
    )
    serve.add_argument("--port", type=int, default=None, help="HTTP port (default 8700)")
    serve.add_argument(
        "--tls-port",
        type=int,
        default=None,
        help="HTTPS port for /secapi/ with client certificates (default port+1; 0: no HTTPS)",
    )
    serve.add_argument(
        "--no-client-cert",
        action="store_true",
        help="let /secapi/ calls through without a client certificate (the journal warns; "
        "the real platform refuses them)",
    )
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--no-demo", action="store_true", help="do not seed demo data")
    serve.add_argument(
        "--no-dispatcher",
        action="store_true",
        help="do not deliver notifications here (run `wxpay-local worker`)",
    )
    serve.add_argument("--closeorder-min-age", type=int, help="seconds (platform: 300)")
    serve.add_argument(
        "--refund-settle-seconds",
        type=float,
        help="platform seconds before an accepted refund succeeds (default 5)",
    )
    serve.add_argument(
        "--durability",
        choices=["full", "normal"],
        help="SQLite: full = fsync before answering (default), normal = faster",
    )
    serve.add_argument(
        "--bills-available-immediately",
        action="store_true",
        help="bills: today's (and yesterday's before the generation hour) download at once",
    )
    serve.add_argument(
        "--bill-generation-hour",
        type=int,
        choices=range(24),
        metavar="HOUR",
        help="bills: yesterday's bill exists from this hour, platform time (default 9)",
    )
    serve.add_argument(
        "--operator-password",
        help="the console's operator password (default: generated once, printed at start)",
    )
    serve.add_argument("--log-level", default="info")
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser("worker", help="deliver notifications (a separate process)")
    storage(worker)
    worker.set_defaults(func=cmd_worker)

    def remote(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument(
            "--url",
            default=os.environ.get("WXPAY_URL", DEFAULT_URL),
            help=f"the running wxpay-local (env WXPAY_URL; default {DEFAULT_URL}; "
            "`serve` prints it)",
        )
        p.add_argument(
            "--admin-token",
            default=os.environ.get("WXPAY_ADMIN_TOKEN") or None,
            help="the server's admin token, when it is not on loopback only "
            "(env WXPAY_ADMIN_TOKEN; `serve` prints it)",
        )
        return p

    merchant = remote(sub.add_parser("merchant", help="create or list merchants"))
    merchant.add_argument("action", choices=["create", "list", "cert"])
    merchant.add_argument("mch_id_arg", nargs="?", metavar="MCH_ID", help="with cert")
    merchant.add_argument("--out", help="with cert: folder for the files")
    merchant.add_argument("--rotate", action="store_true", help="with cert: issue a new one")
    merchant.add_argument("--name", default="Merchant")
    merchant.add_argument("--mch-id")
    merchant.set_defaults(func=cmd_merchant)

    payer = remote(
        sub.add_parser(
            "payer",
            help="create, list, show payers; code: a payment code; "
            "confirm: answer a micropay password prompt",
        )
    )
    payer.add_argument("action", choices=["create", "list", "show", "code", "confirm"])
    payer.add_argument("who", nargs="?", metavar="PAYER", help="payer id or one of its openids")
    payer.add_argument("--password", help="with confirm: the payment password")
    payer.add_argument("--cancel", action="store_true", help="with confirm: close the prompt")
    payer.add_argument("--name", default="Payer")
    payer.add_argument("--balance", type=int, default=0, help="fen")
    payer.add_argument("--card", action="append", help="bank_type, e.g. CMB_CREDIT (repeatable)")
    payer.add_argument("--appid", help="with show: the payer's openid under this appid")
    payer.set_defaults(func=cmd_payer)

    pay = remote(sub.add_parser("pay", help="pay a prepay_id or code_url as a payer"))
    pay.add_argument("target", help="prepay_id or weixin://wxpay/bizpayurl?pr=… code_url")
    pay.add_argument("--payer", type=int, required=True, help="payer id")
    pay.add_argument("--card", type=int, help="card id (default: the wallet)")
    pay.add_argument("--password")
    pay.add_argument("--cancel", action="store_true", help="walk away instead of paying")
    pay.set_defaults(func=cmd_pay)

    refund = remote(sub.add_parser("refund", help="an order's refunds, or force an outcome"))
    refund.add_argument("action", choices=["list", "outcome"])
    refund.add_argument(
        "ids", nargs="*", help="list: MCH_ID OUT_TRADE_NO; outcome: REFUND_ID STATUS"
    )
    refund.set_defaults(func=cmd_refund)

    cli_bill.add_parser(sub, remote)

    clock = remote(sub.add_parser("clock", help="show, advance (30s, 5m, 2h, 1d) or reset"))
    clock.add_argument("action", choices=["show", "advance", "real"])
    clock.add_argument("amount", nargs="?", default="0")
    clock.set_defaults(func=cmd_clock)

    for name, text in (
        ("reset", "delete all data"),
        ("ledger", "account balances"),
        ("notifications", "notifications and attempts"),
        ("journal", "the request journal"),
    ):
        p = remote(sub.add_parser(name, help=text))
        if name == "journal":
            p.add_argument("--failures", action="store_true")
        if name == "notifications":
            p.add_argument("--kind", choices=["payment", "refund"])
        p.set_defaults(func=cmd_simple)
    return root


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    sys.exit(args.func(args))
