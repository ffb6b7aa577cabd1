"""Fault rules on the console (operator only: a rule can hold every merchant's requests).

The page lists the rules (what each matches, does, and how often it fired) and the latest
applications from the journal ("rule #3 applied: SYSTEMERROR after commit"); its forms add and
remove rules through the control plane's own operations (web/control_faults.py), so the
console checks exactly what /_local/faults checks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from wxpay_local.codes import ErrCode
from wxpay_local.domain import faults as domain_faults
from wxpay_local.web import control_faults
from wxpay_local.web.console.auth import Viewer
from wxpay_local.web.console.common import console_page, form, render
from wxpay_local.web.control_base import Call, ControlError, check_body
from wxpay_local.web.pages.common import PageError, param

if TYPE_CHECKING:
    from wxpay_local.web.app import AsgiApp

TEXT_FIELDS = ("when", "mch_id", "endpoint", "host", "out_trade_no", "device_info", "err_code")
NUMBER_FIELDS = ("total_fee", "http_status", "delay_ms", "times")


async def _context(app: AsgiApp, request: Request) -> dict[str, Any]:
    listed = await control_faults.list_fault_rules(app, Call(request, {}, {}))

    def recent() -> list[dict[str, Any]]:
        with app.store.begin(write=False) as tx:
            rows = tx.journal(None, 200, None, False)
        found = []
        for row in rows:
            explanation = row.get("explanation")
            if isinstance(explanation, dict) and explanation.get("fault"):
                found.append({"id": row["id"], "note": explanation["fault"], "path": row["path"]})
        return found[:20]

    await app.journal.flush()
    applied = await app.store.run(recent, write=False)
    return {
        "rules": listed["rules"],
        "applied": applied,
        "actions": domain_faults.ACTIONS,
        "whens": domain_faults.WHEN,
        "err_codes": [str(code) for code in ErrCode],
    }


async def faults_page(app: AsgiApp, request: Request, viewer: Viewer) -> Response:
    context = await _context(app, request)
    return render(request, "faults.html", error="", **context)


def _body(values: dict[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = {"action": param(values, "action")}
    for name in TEXT_FIELDS:
        text = param(values, name).strip()
        if text:
            body[name] = text
    for name in NUMBER_FIELDS:
        text = param(values, name).strip()
        if text:
            if not (text.isascii() and text.isdigit()) or len(text) > 12:
                raise ControlError(400, "BAD_FIELD", f"{name} is a whole number")
            body[name] = int(text)
    return body


async def change(app: AsgiApp, request: Request, viewer: Viewer) -> Response:
    values = form(request)
    what = param(values, "do")
    try:
        if what == "add":
            op = next(
                op
                for op in control_faults.FAULT_OPS
                if op.handler is control_faults.create_fault_rule
            )
            await control_faults.create_fault_rule(
                app, Call(request, check_body(op, _body(values)), {})
            )
        elif what == "remove":
            text = param(values, "rule_id")
            if not (text.isascii() and text.isdigit()) or len(text) > 12:
                raise ControlError(400, "BAD_FIELD", "rule_id is a whole number")
            await control_faults.remove(app, Call(request, {}, {"rule_id": int(text)}))
        elif what == "clear":
            await control_faults.clear(app, Call(request, {}, {}))
        else:
            raise PageError(400, "do is add, remove or clear")
    except ControlError as exc:
        context = await _context(app, request)
        return render(request, "faults.html", 400, error=exc.message, **context)
    return RedirectResponse("/console/faults", 303)


def routes(app: AsgiApp) -> list[Route]:
    return [
        Route("/console/faults", console_page(app, faults_page, operator_only=True)),
        Route(
            "/console/faults",
            console_page(app, change, operator_only=True),
            methods=["POST"],
        ),
    ]
