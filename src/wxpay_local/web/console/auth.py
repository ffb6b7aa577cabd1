"""Who is looking at the console: a merchant (mch_id + console password) or the operator.

Sessions are a signed cookie (HMAC-SHA256 under a secret kept in the platform settings), so
any server process sharing the database accepts them and nothing is stored per login. Every
form carries a CSRF token derived from the session; the cookie is HttpOnly and SameSite=Lax.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wxpay_local import secure
from wxpay_local.domain.model import LIVE
from wxpay_local.domain.ports import Tx

if TYPE_CHECKING:
    from wxpay_local.web.app import AsgiApp

COOKIE = "wxpay_console"
SESSION_SECONDS = 12 * 3600
#: Settings rows named ``pki.*`` survive a reset: sessions and the operator password with them.
SECRET_SETTING = "pki.console_secret"
OPERATOR_SETTING = "pki.console_operator_password"
OPERATOR = "operator"


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in person: the operator sees every merchant, a merchant only itself."""

    kind: str  # "merchant" or "operator"
    mch_id: str = ""

    @property
    def is_operator(self) -> bool:
        return self.kind == OPERATOR

    def can_see(self, mch_id: str) -> bool:
        return self.is_operator or mch_id == self.mch_id

    def scope(self, requested: str = "") -> str | None:
        """The merchant a list shows: a merchant's own, or the operator's choice (None: all)."""
        if not self.is_operator:
            return self.mch_id
        return requested or None

    @property
    def label(self) -> str:
        return "平台运营 operator" if self.is_operator else f"商户号 {self.mch_id}"


def secret(app: AsgiApp) -> bytes:
    """The session key; made on first use, so call it from a write run (``ready``)."""
    cached: bytes | None = getattr(app, "_console_secret", None)
    if cached is None:
        with app.store.begin() as tx:
            saved = tx.get_setting(SECRET_SETTING)
            if saved is None:
                saved = secrets.token_hex(32)
                tx.put_setting(SECRET_SETTING, saved)
        cached = bytes.fromhex(saved)
        app._console_secret = cached  # type: ignore[attr-defined]
    return cached


async def ready(app: AsgiApp) -> None:
    """Make sure the session key is loaded, creating it in a write run the first time (never
    inside a read, where SQLite could not start the write)."""
    if getattr(app, "_console_secret", None) is None:
        await app.store.run(lambda: secret(app))


def operator_password(store: Any, configured: str) -> str:
    """The operator's password: ``--operator-password`` / WXPAY_OPERATOR_PASSWORD, else one
    generated on first use and kept in the database (``serve`` prints it)."""
    if configured:
        return configured
    with store.begin(write=True) as tx:
        saved = tx.get_setting(OPERATOR_SETTING)
        if saved is None:
            saved = secrets.token_urlsafe(9)
            tx.put_setting(OPERATOR_SETTING, saved)
    return str(saved)


def check_login(app: AsgiApp, tx: Tx, account: str, password: str) -> Viewer | None:
    """The viewer these credentials name, or None (the same answer for any wrong part)."""
    if account == OPERATOR:
        expected = operator_password(app.store, app.settings.operator_password)
        ok = secure.equal(password, expected)
        return Viewer(OPERATOR) if ok else None
    merchant = tx.merchant(account, LIVE) if account.isdigit() else None
    expected = merchant.console_password if merchant is not None else secrets.token_hex(8)
    if secure.equal(password, expected) and merchant is not None:
        return Viewer("merchant", merchant.mch_id)
    return None


def _sign(key: bytes, payload: bytes) -> str:
    return hmac.new(key, payload, hashlib.sha256).hexdigest()


def issue(app: AsgiApp, viewer: Viewer) -> str:
    """A cookie value for viewer, valid SESSION_SECONDS."""
    body = {"k": viewer.kind, "m": viewer.mch_id, "e": int(time.time()) + SESSION_SECONDS}
    body["n"] = secrets.token_hex(8)
    payload = base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode())
    return payload.decode() + "." + _sign(secret(app), payload)


def read(app: AsgiApp, cookie: str) -> Viewer | None:
    payload, _, signature = cookie.partition(".")
    if not payload or len(cookie) > 512:
        return None
    if not secure.equal(signature, _sign(secret(app), payload.encode())):
        return None
    try:
        body = json.loads(base64.urlsafe_b64decode(payload.encode()))
        kind, mch_id, expires = str(body["k"]), str(body["m"]), int(body["e"])
    except (ValueError, KeyError, TypeError):
        return None
    if expires < time.time() or kind not in ("merchant", OPERATOR):
        return None
    return Viewer(kind, mch_id)


def csrf_token(app: AsgiApp, cookie: str) -> str:
    return _sign(secret(app), b"csrf:" + cookie.encode())[:32]
