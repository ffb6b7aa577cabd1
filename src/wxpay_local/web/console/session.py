"""The login and logout pages."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from wxpay_local.web.console import auth
from wxpay_local.web.console.auth import Viewer
from wxpay_local.web.console.common import render
from wxpay_local.web.pages.common import param, read_form

if TYPE_CHECKING:
    from wxpay_local.web.app import AsgiApp


def _safe_next(target: str) -> str:
    """Only a path on this server (no scheme, no host, no ``//``): not an open redirect."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/console") or "//" in target:
        return "/console"
    return target


async def login_form(app: AsgiApp, request: Request) -> Response:
    next_url = _safe_next(param(request.query_params, "next"))
    return render(request, "login.html", next_url=next_url, error="", account="")


async def login(app: AsgiApp, request: Request) -> Response:
    values = await read_form(request)
    account = param(values, "account").strip()
    password = param(values, "password")
    next_url = _safe_next(param(values, "next"))

    def work() -> Viewer | None:
        with app.store.begin(write=False) as tx:
            return auth.check_login(app, tx, account, password)

    viewer = await app.store.run(work, write=False)
    if viewer is None:
        error = "商户号或密码错误 (wrong account or password)"
        return render(request, "login.html", 401, next_url=next_url, error=error, account=account)
    response = RedirectResponse(next_url, 303)
    await auth.ready(app)
    cookie = auth.issue(app, viewer)
    response.set_cookie(
        auth.COOKIE,
        cookie,
        max_age=auth.SESSION_SECONDS,
        httponly=True,
        samesite="lax",
        path="/console",
    )
    return response


async def logout(app: AsgiApp, request: Request, viewer: Viewer) -> Response:
    response = RedirectResponse("/console/login", 303)
    response.delete_cookie(auth.COOKIE, path="/console")
    return response
