"""What every console page shares: templates, the signed-in viewer, CSRF, errors as pages.

A handler is ``async def handler(app, request, viewer) -> Response``; ``console_page`` binds it,
sends a visitor without a session to the login page, checks the CSRF token of every POST and
turns a ``PageError`` into the console's error page with its status.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from wxpay_local.web.console import auth
from wxpay_local.web.console.auth import Viewer
from wxpay_local.web.pages.common import PageError, read_form, yuan

if TYPE_CHECKING:
    from wxpay_local.web.app import AsgiApp

HERE = Path(__file__).parent
STATIC = HERE / "static"

ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(HERE / "templates")),
    autoescape=jinja2.select_autoescape(("html",)),
    undefined=jinja2.StrictUndefined,
)
ENV.filters["yuan"] = yuan

ConsoleHandler = Callable[["AsgiApp", Request, Viewer], Awaitable[Response]]


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """Render a console template with the viewer, the CSRF token and the current section."""
    viewer: Viewer | None = getattr(request.state, "viewer", None)
    html = ENV.get_template(name).render(
        viewer=viewer,
        csrf=getattr(request.state, "csrf", ""),
        path=request.url.path,
        **context,
    )
    return HTMLResponse(html, status_code=status, headers={"cache-control": "no-store"})


def console_page(app: AsgiApp, handler: ConsoleHandler, *, operator_only: bool = False) -> Any:
    async def endpoint(request: Request) -> Response:
        cookie = request.cookies.get(auth.COOKIE, "")
        await auth.ready(app)
        viewer = auth.read(app, cookie)
        if viewer is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse("/console/login?" + urlencode({"next": target}), 303)
        request.state.viewer = viewer
        request.state.csrf = auth.csrf_token(app, cookie)
        try:
            if operator_only and not viewer.is_operator:
                raise PageError(403, "only the operator login sees this page", "没有权限")
            if request.method == "POST":
                request.state.form = await read_form(request)
                if request.state.form.get("csrf") != request.state.csrf:
                    raise PageError(403, "the form is stale or came from another site", "请求无效")
            return await handler(app, request, viewer)
        except PageError as exc:
            return render(request, "error.html", exc.status, title=exc.title, message=exc.message)

    return endpoint


def form(request: Request) -> dict[str, str]:
    """The POSTed form, already parsed and CSRF-checked by ``console_page``."""
    value: dict[str, str] = request.state.form
    return value


def require_visible(viewer: Viewer, mch_id: str) -> None:
    """A 404 (not a 403: do not confirm the merchant exists) for another merchant's data."""
    if not viewer.can_see(mch_id):
        raise PageError(404, f"no merchant {mch_id} here", "找不到")
