"""Server-rendered pages people use: the payer's phone, the QR code, OAuth2 and the JSAPI script.

``routes(app)`` gives the Starlette routes; the templates and static files ship in the package.
"""

from __future__ import annotations

from wxpay_local.web.pages.routes import not_found, routes

__all__ = ["not_found", "routes"]
