"""The probe on the console (issue 14): run the notification-receiver probe, see the report.

Operator or merchant: a merchant probes only its own receiver (its orders and key are used).
The form posts (with the console's CSRF token) through the control plane's own operation
(web/control_probe.py), so the console checks exactly what ``POST /_local/probe`` checks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from wxpay_local.web import control_probe
from wxpay_local.web.console.auth import Viewer
from wxpay_local.web.console.common import console_page, form, render
from wxpay_local.web.control_base import Call, ControlError, check_body
from wxpay_local.web.pages.common import param

if TYPE_CHECKING:
    from wxpay_local.web.app import AsgiApp


async def probe_page(app: AsgiApp, request: Request, viewer: Viewer) -> Response:
    return render(request, "probe.html", error="", report=None, mch_id=viewer.mch_id, url="")


async def run_probe(app: AsgiApp, request: Request, viewer: Viewer) -> Response:
    values = form(request)
    mch_id = param(values, "mch_id").strip() if viewer.is_operator else viewer.mch_id
    url = param(values, "url").strip()
    report: dict[str, Any] | None = None
    try:
        op = next(op for op in control_probe.PROBE_OPS if op.handler is control_probe.probe)
        body = check_body(op, {"mch_id": mch_id, "url": url})
        report = await control_probe.probe(app, Call(request, body, {}))
    except ControlError as exc:
        return render(request, "probe.html", 400, error=exc.message, report=None,
                      mch_id=mch_id, url=url)  # fmt: skip
    return render(request, "probe.html", error="", report=report, mch_id=mch_id, url=url)


def routes(app: AsgiApp) -> list[Route]:
    return [
        Route("/console/probe", console_page(app, probe_page)),
        Route("/console/probe", console_page(app, run_probe), methods=["POST"]),
    ]
