"""The ASGI edge and composition root: the merchant API, the control plane, later the pages."""

from __future__ import annotations

from wxpay_local.web.app import AsgiApp, create_app

__all__ = ["AsgiApp", "create_app"]
