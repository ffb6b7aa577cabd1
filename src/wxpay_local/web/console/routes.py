"""The console's routes: one module per section, each adding its own ``routes(app)``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from wxpay_local.web.console import (
    acceptance,
    bills,
    clock,
    faults,
    journal,
    keys,
    notifications,
    orders,
    overview,
    probe,
    refunds,
    session,
    settings_page,
)
from wxpay_local.web.console.common import STATIC, console_page
from wxpay_local.web.pages.common import page

if TYPE_CHECKING:
    from wxpay_local.web.app import AsgiApp


def routes(app: AsgiApp) -> list[Route | Mount]:
    return [
        Route("/console", console_page(app, overview.overview), methods=["GET"]),
        Route("/console/login", page(app, session.login_form), methods=["GET"]),
        Route("/console/login", page(app, session.login), methods=["POST"]),
        Route("/console/logout", console_page(app, session.logout), methods=["POST"]),
        *orders.routes(app),
        *refunds.routes(app),
        *notifications.routes(app),
        *journal.routes(app),
        *bills.routes(app),
        *keys.routes(app),
        *settings_page.routes(app),
        *clock.routes(app),
        *faults.routes(app),
        *probe.routes(app),
        *acceptance.routes(app),
        Mount("/static/console", StaticFiles(directory=str(STATIC)), name="console-static"),
    ]
