"""The merchant console (商户平台): orders, refunds, notifications, journal, bills, keys, clock.

Server-rendered (Jinja2, a little plain JS), behind a login per merchant or the operator.
``routes(app)`` gives the Starlette routes.
"""

from __future__ import annotations

from wxpay_local.web.console.routes import routes

__all__ = ["routes"]
