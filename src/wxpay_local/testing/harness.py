"""Run the platform inside a test: in-process over ASGI or live on a loopback port.

``Harness`` wraps one running app with the control plane calls tests make all the time (create a
merchant, a payer, pay, move the clock) and an SDK client per merchant. The loopback endpoints
the platform calls (``MerchantSink``, ``xml_endpoint``) live in testing/endpoints.py.
"""

from __future__ import annotations

import asyncio
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from wxpay_local.codes import SignType
from wxpay_local.sdk import Client
from wxpay_local.settings import Settings
from wxpay_local.store import SqlStore
from wxpay_local.testing.endpoints import MerchantSink, Received, wait_for, xml_endpoint
from wxpay_local.timefmt import SHANGHAI
from wxpay_local.web import AsgiApp, create_app
from wxpay_local.web.serve import Listeners, serve, servers
from wxpay_local.web.tls import TlsFiles, ensure_files

__all__ = [
    "Harness",
    "MerchantInfo",
    "MerchantSink",
    "Received",
    "free_port",
    "listening_socket",
    "live_server",
    "wait_for",
    "xml_endpoint",
]


@dataclass(frozen=True)
class MerchantInfo:
    mch_id: str
    api_key: str
    apps: dict[str, str]  # kind -> appid
    secrets: dict[str, str]  # appid -> secret


def free_port() -> int:
    """A port free right now (another process may take it before it is used: for servers of
    our own, bind with ``listening_socket`` instead)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def listening_socket() -> socket.socket:
    """A socket bound to a free loopback port and kept: no other test can take the port
    between choosing it and serving on it (parallel test workers start many servers)."""
    # proto IPPROTO_TCP, not 0: asyncio turns Nagle off (TCP_NODELAY) only on accepted sockets
    # whose proto says TCP; without it small answers wait ~40 ms for delayed ACKs.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def live_server(
    app: Any,
    port: int | None = None,
    *,
    tls_port: int = 0,
    tls_files: TlsFiles | None = None,
    sockets: list[socket.socket] | None = None,
) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on 127.0.0.1 (and HTTPS on tls_port) in a thread;
    ``sockets`` (HTTP, then HTTPS) are already bound to those ports."""
    port = port or free_port()
    found = servers(app, Listeners("127.0.0.1", port, tls_port, tls_files), "warning")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(
        target=loop.run_until_complete,
        args=(serve(found, sockets, signals=False),),
        daemon=True,
    )
    thread.start()
    deadline = time.monotonic() + 15
    while not all(server.started for server in found):
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        found[0].should_exit = True
        thread.join(15)
        loop.close()


class _LoopTransport(httpx.BaseTransport):
    """A synchronous httpx transport into an ASGI app running on a loop in another thread."""

    def __init__(self, app: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._asgi = httpx.ASGITransport(app=app)
        self._loop = loop

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        content = request.read()

        async def roundtrip() -> httpx.Response:
            inner = httpx.Request(
                request.method, request.url, headers=request.headers, content=content
            )
            response = await self._asgi.handle_async_request(inner)
            body = await response.aread()
            return httpx.Response(response.status_code, headers=response.headers, content=body)

        return asyncio.run_coroutine_threadsafe(roundtrip(), self._loop).result(60)


@contextmanager
def in_process(app: AsgiApp) -> Iterator[httpx.BaseTransport]:
    """Run the app's lifespan on an event loop in a thread; requests go straight into it."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(app.startup(), loop).result(30)
    try:
        yield _LoopTransport(app, loop)
    finally:
        asyncio.run_coroutine_threadsafe(app.shutdown(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


class Harness:
    def __init__(self, app: AsgiApp | None, http: httpx.Client, base_url: str) -> None:
        self.app = app
        self.http = http
        self.base_url = base_url
        #: The HTTPS listener (live harnesses only) and the CA file that signs its certificate.
        self.tls_url = ""
        self.ca_file: Path | None = None

    @classmethod
    @contextmanager
    def start(
        cls, store: SqlStore, *, live: bool = False, settings: Settings | None = None
    ) -> Iterator[Harness]:
        settings = settings or Settings(notify_timeout_seconds=2.0)
        if live:
            sockets = [listening_socket(), listening_socket()]
            port, tls_port = (int(s.getsockname()[1]) for s in sockets)
            with (
                tempfile.TemporaryDirectory(prefix="wxpay-tls-") as folder,
                sockets[0],
                sockets[1],
            ):
                settings = _with(settings, port=port, tls_port=tls_port, data_dir=Path(folder))
                tls = ensure_files(store, settings.data_dir, datetime.now(SHANGHAI))
                app = create_app(settings, store=store)
                with (
                    live_server(
                        app, port, tls_port=tls_port, tls_files=tls, sockets=sockets
                    ) as base,
                    httpx.Client(
                        base_url=base, timeout=30, trust_env=False, headers=_auth(settings)
                    ) as http,
                ):
                    harness = cls(app, http, base)
                    harness.tls_url = settings.tls_base_url
                    harness.ca_file = tls.ca
                    yield harness
        else:
            app = create_app(settings, store=store)
            with (
                in_process(app) as transport,
                httpx.Client(
                    transport=transport,
                    base_url="http://127.0.0.1",
                    timeout=30,
                    headers=_auth(settings),
                ) as http,
            ):
                yield cls(app, http, "http://127.0.0.1")

    # the control plane ---------------------------------------------------------------------
    def control(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        expect: int = 200,
        **params: Any,
    ) -> Any:
        response = self.http.request(method, path, json=body, params=params or None)
        assert response.status_code == expect, (response.status_code, response.text)
        return response.json()

    def merchant(self, **fields: Any) -> MerchantInfo:
        data = self.control("POST", "/_local/merchants", {"name": "Test shop", **fields})
        return MerchantInfo(
            mch_id=data["mch_id"],
            api_key=data["api_key"],
            apps={a["kind"]: a["appid"] for a in data["apps"]},
            secrets={a["appid"]: a["secret"] for a in data["apps"]},
        )

    def payer(self, balance: int = 100_000, **fields: Any) -> dict[str, Any]:
        result: dict[str, Any] = self.control(
            "POST", "/_local/payers", {"name": "Payer", "balance": balance, **fields}
        )
        return result

    def openid(self, payer_id: int, appid: str) -> str:
        issued = self.control("POST", f"/_local/payers/{payer_id}/openids", {"appid": appid})
        return str(issued["openid"])

    def client(
        self,
        merchant: MerchantInfo,
        kind: str = "official_account",
        sign_type: SignType = SignType.MD5,
    ) -> Client:
        return Client(
            self.base_url,
            mch_id=merchant.mch_id,
            api_key=merchant.api_key,
            appid=merchant.apps[kind],
            sign_type=sign_type,
            http=self.http,
        )

    def pay(
        self, payer_id: int, *, prepay_id: str = "", code_url: str = "", **fields: Any
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"payer_id": payer_id, **fields}
        if prepay_id:
            body["prepay_id"] = prepay_id
        if code_url:
            body["code_url"] = code_url
        result: dict[str, Any] = self.control("POST", "/_local/pay", body)
        return result

    def operator_password(self) -> str:
        """The console's operator password, fixed for this harness (as ``--operator-password``
        would) so a test never has to read it from the store behind the server's back."""
        if self.app is None:
            raise RuntimeError("the server runs elsewhere: ask its operator for the password")
        if not self.app.settings.operator_password:
            self.app.settings = _with(self.app.settings, operator_password="operator-test-pw")
        return str(self.app.settings.operator_password)

    def fault(self, action: str, **fields: Any) -> dict[str, Any]:
        """Create a fault rule (docs/testing.md), e.g. ``fault("err_code", err_code="SYSTEMERROR",
        when="after", endpoint="micropay", times=1)``; returns the rule, with its ``id``."""
        rule: dict[str, Any] = self.control("POST", "/_local/faults", {"action": action, **fields})
        return rule

    def payer_outcome(self, outcome: str, **fields: Any) -> dict[str, Any]:
        """Script what the payer does at the next matching micropay (docs/testing.md), e.g.
        ``payer_outcome("pays", at_seconds=20, out_trade_no="T-1")``; returns the rule."""
        body = {"outcome": outcome, **fields}
        rule: dict[str, Any] = self.control("POST", "/_local/payer-outcomes", body)
        return rule

    def fault_rule(self, rule_id: int) -> dict[str, Any]:
        """One rule as it is now (``fired``: how often it applied)."""
        rule: dict[str, Any] = self.control("GET", f"/_local/faults/{rule_id}")
        return rule

    def clear_faults(self) -> int:
        return int(self.control("DELETE", "/_local/faults")["removed"])

    def reset(self) -> None:
        """Delete every merchant, payer, order and notification; the clock back to real time."""
        self.control("POST", "/_local/reset", {})

    def advance(self, seconds: int) -> None:
        self.control("POST", "/_local/clock/advance", {"seconds": seconds})

    def dispatch(self) -> int:
        return int(self.control("POST", "/_local/dispatch")["attempted"])

    def notifications(self, mch_id: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.control("GET", "/_local/notifications", mch_id=mch_id)[
            "notifications"
        ]
        return result

    def journal(self, **params: Any) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.control("GET", "/_local/journal", **params)["entries"]
        return result

    def ledger(self) -> dict[str, Any]:
        result: dict[str, Any] = self.control("GET", "/_local/ledger")
        return result

    def assert_ledger_balanced(self) -> None:
        """The platform's money invariant: all balances sum to zero, no internal overdraft."""
        ledger = self.ledger()
        assert ledger["total"] == 0, ledger
        overdrawn = {
            k: v for k, v in ledger["accounts"].items() if v < 0 and not k.startswith("external:")
        }
        assert not overdrawn, overdrawn


def _auth(settings: Settings) -> dict[str, str]:
    """The control plane's bearer token, when one is configured (needed off loopback)."""
    return {"authorization": f"Bearer {settings.admin_token}"} if settings.admin_token else {}


def _with(settings: Settings, **changes: Any) -> Settings:
    from dataclasses import replace

    return replace(settings, **changes)
