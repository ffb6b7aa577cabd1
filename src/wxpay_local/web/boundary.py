"""The security boundary around everything that is not the merchant API: one ASGI wrapper.

``AsgiApp.__call__`` sends merchant API paths straight to ``web.merchant`` (any ``Host``: SDKs that
hard-code ``api.mch.weixin.qq.com`` reach us through a hosts file, and the hot path stays free
of checks). Every other request — control plane, console, payer pages, static files, the 404 —
passes through ``Boundary`` first, which, in this order:

1. answers only allowed ``Host`` names (DNS rebinding): loopback names and addresses, the
   address it listens on (any IP literal when it listens on all interfaces: a rebinding
   page's Host is always its own *name*), the ``--public-url`` host and ``--allowed-host``
   names; the WeChat open-platform server APIs (``/sns/…``) answer any Host,
   like the merchant API;
2. on ``/_local/``: refuses cross-site requests (``Origin`` not this origin, or
   ``Sec-Fetch-Site`` other than ``same-origin``/``none``), bodies that are not
   ``application/json`` (an HTML form cannot send JSON), and, when the platform is exposed
   (``Settings.exposed``), requests without ``Authorization: Bearer <admin token>``;
3. elsewhere, refuses cross-site unsafe methods (form posts from another site), except the two
   JSAPI endpoints that allow any origin by design (they need the merchant's signature);
4. gives payer pages a session cookie and the CSRF token bound to it (``csrf_token()``), which
   ``pages.common.form_of`` checks on every form POST.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import os
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from wxpay_local import secure
from wxpay_local.settings import Settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CONTROL = "/_local"
#: Server-to-server APIs of api.weixin.qq.com (OAuth tokens, jscode2session): any Host.
ANY_HOST_PREFIXES = ("/sns/",)
#: Called cross-origin by merchants' pages and scripts by design (CORS ``*``); each needs a
#: paySign under the merchant's API key, and a payment also the payer's password.
CROSS_ORIGIN_OPEN = frozenset({"/jsapi/verify", "/jsapi/pay"})
#: Surfaces with their own session (the console) or none (static files, the control plane).
NO_PAYER_SESSION = ("/console", "/static/", CONTROL)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Names that are this machine. ``testserver`` is what in-process ASGI test clients (Starlette's
#: TestClient, schemathesis) send: a single-label name no public page can be served under.
LOCAL_NAMES = frozenset({"localhost", "testserver"})
PAYER_COOKIE = "wxpay_payer"
PAYER_COOKIE_SECONDS = 7 * 24 * 3600
TOKEN_FILE = "admin-token"

_csrf: ContextVar[str] = ContextVar("wxpay_payer_csrf", default="")
_reveal: ContextVar[bool] = ContextVar("wxpay_reveal_secrets", default=False)
#: What a page says instead of the expected signature when the platform is exposed.
HIDDEN_SIGNATURE = (
    "the expected signature is shown only when wxpay-local listens on loopback "
    "(it would let anyone sign requests with the merchant's key)"
)


def csrf_token() -> str:
    """The CSRF token of the payer session of the request being served ('' outside one)."""
    return _csrf.get()


def reveals_secrets() -> bool:
    """Whether a page may show what only the merchant's key can make (the expected signature of
    a request that failed its check): on loopback, where the person is the developer; never
    when the platform is exposed, where anyone could use it as a signing oracle."""
    return _reveal.get()


def ensure_admin_token(settings: Settings) -> Settings:
    """Settings with an admin token when the platform is exposed: the given one, else the one
    kept in the data directory (made on first use, mode 0600). On loopback: unchanged."""
    if settings.admin_token or not settings.exposed:
        return settings
    path = Path(settings.data_dir) / TOKEN_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first: read that one
        else:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_urlsafe(24) + "\n")
    return replace(settings, admin_token=path.read_text().strip())


def _host_name(host: str) -> str:
    """The name in a Host header, without port, brackets or a trailing dot, lower case."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    name, colon, port = host.rpartition(":")
    if colon and port.isdigit():
        host = name
    return host.rstrip(".")


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _is_loopback_ip(name: str) -> bool:
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


WILDCARD_ADDRESSES = frozenset({"", "0.0.0.0", "::"})


class Boundary:
    """Wraps the Starlette app that serves everything but the merchant API (module docstring)."""

    def __init__(
        self, inner: ASGIApp, settings: Settings, secret: Callable[[], Awaitable[bytes]]
    ) -> None:
        self.inner = inner
        self.settings = settings
        self._secret = secret
        self._key: bytes | None = None
        names = {_host_name(h) for h in settings.allowed_hosts if h}
        public = urlsplit(settings.public_url) if settings.public_url else None
        if public is not None and public.hostname:
            names.add(public.hostname.lower())
        listen = _host_name(settings.host)
        #: Listening on every interface, a teammate may open any of this machine's addresses.
        self.any_ip = listen in WILDCARD_ADDRESSES
        if _is_ip(listen):
            names.add(listen)
        self.allowed = frozenset(names)
        self.public_origin = f"{public.scheme}://{public.netloc}".lower() if public else ""

    # the checks ----------------------------------------------------------------------------
    def host_allowed(self, host: str) -> bool:
        if not host:
            return True  # HTTP/1.0 without Host: not a browser, so not a rebinding page
        name = _host_name(host)
        return (
            name in LOCAL_NAMES
            or name.endswith(".localhost")
            or _is_loopback_ip(name)
            or (self.any_ip and _is_ip(name))
            or name in self.allowed
        )

    def cross_site(self, headers: dict[bytes, bytes]) -> bool:
        site = headers.get(b"sec-fetch-site", b"").decode("latin-1").lower()
        if site and site not in ("same-origin", "none"):
            return True
        origin = headers.get(b"origin", b"").decode("latin-1").strip().lower()
        if not origin:
            return False  # not a browser (curl, SDKs, the CLI), or a same-origin GET
        host = headers.get(b"host", b"").decode("latin-1").strip().lower()
        if origin == self.public_origin:
            return False
        return origin == "null" or urlsplit(origin).netloc != host

    def authorized(self, headers: dict[bytes, bytes]) -> bool:
        """Off loopback a bearer token is required; on loopback one is optional, but a token
        that is sent must be right (a wrong one is a mistake worth telling)."""
        given = headers.get(b"authorization", b"")
        token = self.settings.admin_token
        if not given:
            return not self.settings.exposed
        scheme, _, value = given.partition(b" ")
        if scheme.lower() != b"bearer" or not token:
            return not self.settings.exposed
        return secure.equal(value.strip(), token)

    # the wrapper ---------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.inner(scope, receive, send)
            return
        reveal = _reveal.set(not self.settings.exposed)
        try:
            await self._serve(scope, receive, send)
        finally:
            _reveal.reset(reveal)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        headers = dict(scope["headers"])
        host = headers.get(b"host", b"").decode("latin-1")
        if not path.startswith(ANY_HOST_PREFIXES) and not self.host_allowed(host):
            await _refuse(send, path, 400, "HOST_NOT_ALLOWED", _host_message(host))
            return
        method: str = scope["method"]
        if path == CONTROL or path.startswith(CONTROL + "/"):
            refusal = self._control_refusal(method, headers)
            if refusal is not None:
                await _refuse(send, path, *refusal)
                return
            await self.inner(scope, receive, send)
            return
        if (
            method not in SAFE_METHODS
            and path not in CROSS_ORIGIN_OPEN
            and self.cross_site(headers)
        ):
            await _refuse(send, path, 403, "CROSS_SITE", "a form on another site cannot post here")
            return
        if path.startswith(NO_PAYER_SESSION) or path.startswith(ANY_HOST_PREFIXES):
            await self.inner(scope, receive, send)
            return
        await self._with_payer_session(scope, receive, send, headers)

    def _control_refusal(
        self, method: str, headers: dict[bytes, bytes]
    ) -> tuple[int, str, str] | None:
        if self.cross_site(headers):
            return 403, "CROSS_SITE", "the control plane does not answer other sites' pages"
        if method in BODY_METHODS:
            kind = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
            has_body = headers.get(b"content-length", b"0") not in (b"", b"0") or (
                b"transfer-encoding" in headers
            )
            if (kind or has_body) and kind != b"application/json":
                return 415, "UNSUPPORTED_MEDIA_TYPE", "the control plane takes application/json"
        if not self.authorized(headers):
            return (
                401,
                "UNAUTHORIZED",
                (
                    "this platform is reachable from the network: send Authorization: Bearer "
                    "<admin token> (serve --admin-token / WXPAY_ADMIN_TOKEN; printed at start)"
                ),
            )
        return None

    async def _with_payer_session(
        self, scope: Scope, receive: Receive, send: Send, headers: dict[bytes, bytes]
    ) -> None:
        key = self._key
        if key is None:
            base = await self._secret()
            key = self._key = hmac.new(base, b"payer-session", hashlib.sha256).digest()
        session = _cookie(headers.get(b"cookie", b""), PAYER_COOKIE)
        fresh = not (
            16 <= len(session) <= 64 and session.replace("-", "").replace("_", "").isalnum()
        )
        if fresh:
            session = secrets.token_urlsafe(24)
        reset = _csrf.set(hmac.new(key, session.encode(), hashlib.sha256).hexdigest()[:32])
        secure_flag = "; Secure" if scope.get("scheme") == "https" else ""
        cookie = (
            f"{PAYER_COOKIE}={session}; Path=/; Max-Age={PAYER_COOKIE_SECONDS}; HttpOnly; "
            f"SameSite=Lax{secure_flag}"
        ).encode()

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"set-cookie", cookie)]
            await send(message)

        try:
            await self.inner(scope, receive, send_with_cookie if fresh else send)
        finally:
            _csrf.reset(reset)


def _cookie(header: bytes, name: str) -> str:
    for part in header.decode("latin-1").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return ""


def _host_message(host: str) -> str:
    return (
        f"this wxpay-local does not answer for the host {host!r}: open it by a loopback "
        "address or IP, or start it with --public-url / --allowed-host naming this host"
    )


async def _refuse(send: Send, path: str, status: int, error: str, message: str) -> None:
    """JSON for the control plane (its callers are programs), a short page elsewhere."""
    if path == CONTROL or path.startswith(CONTROL + "/"):
        body = json.dumps({"error": error, "message": message}).encode()
        kind = b"application/json"
    else:
        page = f"<!doctype html><meta charset=utf-8><title>{status}</title><p>{_escape(message)}"
        body, kind = page.encode(), b"text/html; charset=utf-8"
    headers = [(b"content-type", kind), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="wxpay-local"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
