"""The acceptance checker on the console (支付验收, issue 14 part 2).

Start a run (arms the cases for the merchant), then read its report card: the same two
control-plane operations as ``wxpay-local acceptance`` (web/control_acceptance.py). The run's
mark travels in the URL (``?mch_id=…&since_id=…``), so a report card is a link to share.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from wxpay_local.web import control_acceptance
from wxpay_local.web.console.auth import Viewer
from wxpay_local.web.console.common import console_page, form, render
from wxpay_local.web.control_base import Call, ControlError
from wxpay_local.web.pages.common import PageError, param

if TYPE_CHECKING:
    from wxpay_local.web.app import AsgiApp


def _mch_id(viewer: Viewer, values: Any) -> str:
    mch_id = param(values, "mch_id").strip() if viewer.is_operator else viewer.mch_id
    if mch_id and not (mch_id.isascii() and mch_id.isdigit() and len(mch_id) <= 32):
        raise PageError(400, "mch_id is a number")
    return mch_id


async def acceptance_page(app: AsgiApp, request: Request, viewer: Viewer) -> Response:
    q = request.query_params
    mch_id = _mch_id(viewer, q)
    since = param(q, "since_id")
    card: dict[str, Any] | None = None
    error = ""
    if mch_id and since:
        if not (since.isascii() and since.isdigit() and len(since) <= 12):
            raise PageError(400, "since_id is a whole number")
        call = Call(request, {}, {"mch_id": mch_id, "since_id": int(since)})
        try:
            card = await control_acceptance.report(app, call)
        except ControlError as exc:
            error = exc.message
    return render(
        request, "acceptance.html", 400 if error else 200, error=error, card=card,
        mch_id=mch_id, since_id=since, cases=control_acceptance.HOW_TO,
    )  # fmt: skip


async def start_run(app: AsgiApp, request: Request, viewer: Viewer) -> Response:
    values = form(request)
    mch_id = _mch_id(viewer, values)
    try:
        if not mch_id:
            raise ControlError(400, "MISSING_FIELD", "mch_id is required")
        run = await control_acceptance.start(app, Call(request, {}, {"mch_id": mch_id}))
    except ControlError as exc:
        return render(request, "acceptance.html", 400, error=exc.message, card=None,
                      mch_id=mch_id, since_id="", cases=control_acceptance.HOW_TO)  # fmt: skip
    target = f"/console/acceptance?mch_id={mch_id}&since_id={run['since_id']}"
    return RedirectResponse(target, 303)


def routes(app: AsgiApp) -> list[Route]:
    return [
        Route("/console/acceptance", console_page(app, acceptance_page)),
        Route("/console/acceptance", console_page(app, start_run), methods=["POST"]),
    ]
