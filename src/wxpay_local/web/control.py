"""The ``/_local`` JSON control plane: paying, the clock, reset; its routes and its document.

Every operation is one ``Op`` row (``web.control_base``); the routes and
``/_local/openapi.json`` are both derived from the tables here and in ``control_parties``,
``control_records``, ``control_merchant``, ``control_payer_phone``, ``control_lookups`` and
``control_bills`` (one module per resource; ``all_ops`` is the one list of them).
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match, Route

from wxpay_local.domain.payer import PayOutcome, PayRequest, pay_order
from wxpay_local.web import control_openapi as schemas
from wxpay_local.web import views
from wxpay_local.web.control_base import (
    ID,
    B,
    Call,
    Handler,
    Op,
    bad,
    check_body,
    endpoint,
    error,
    integer,
    not_found,
    one_of,
    text,
)

SHORT_PREFIX = "weixin://wxpay/s/"
MAX_ADVANCE_SECONDS = 10 * 366 * 86400
#: The years the platform clock may show: far dates would overflow datetime arithmetic in
#: every later clock reading (the console's clock page keeps to the same years).
MIN_YEAR, MAX_YEAR = 2000, 2099

if TYPE_CHECKING:
    from wxpay_local.web.app import AsgiApp


# paying --------------------------------------------------------------------------------------
def _qr_code(code_url: str) -> str:
    parts = urlsplit(code_url)
    codes = parse_qs(parts.query).get("pr")
    if parts.scheme != "weixin" or not codes:
        raise bad("code_url must look like weixin://wxpay/bizpayurl?pr=…")
    return codes[0]


async def pay(app: AsgiApp, call: Call) -> Any:
    data = call.body

    def work() -> Any:
        with app.store.begin() as tx:
            payer_id = data.get("payer_id")
            if payer_id is None:
                found = tx.payer_by_openid(data["openid"])
                if found is None:
                    raise not_found(f"no payer has openid {data['openid']}")
                payer_id = found[0].id
            code_url = data.get("code_url", "")
            if code_url.startswith(SHORT_PREFIX):  # a /tools/shorturl link: resolve it first
                code_url = tx.long_url_of(code_url.removeprefix(SHORT_PREFIX)) or ""
                if not code_url:
                    raise not_found("no such short URL")
            req = PayRequest(
                payer_id=payer_id,
                prepay_id=data.get("prepay_id", ""),
                qr_code=_qr_code(code_url) if "code_url" in data else "",
                card_id=data.get("card_id"),
                password=data.get("password"),
                cancel=data.get("action") == "cancel",
            )
            result = pay_order(tx, app.clock, app.ids, req)
        return {
            "outcome": str(result.outcome),
            "message": result.outcome.message,
            "order": None if result.order is None else views.order_view(result.order),
        }

    answer = await app.store.run(work)
    if answer["outcome"] == PayOutcome.SUCCESS:
        app.dispatcher.wake()
    return answer


# the clock and reset -------------------------------------------------------------------------
def _clock_view(app: AsgiApp) -> dict[str, Any]:
    return {
        "now": app.clock.now().isoformat(),
        "frozen": app.clock.frozen is not None,
        "offset_seconds": app.clock.offset.total_seconds(),
    }


def _check_year(moment: datetime) -> None:
    if not MIN_YEAR <= moment.year <= MAX_YEAR:
        raise bad(f"the clock shows years {MIN_YEAR} to {MAX_YEAR} only")


async def get_clock(app: AsgiApp, call: Call) -> Any:
    return _clock_view(app)


async def advance_clock(app: AsgiApp, call: Call) -> Any:
    delta = timedelta(seconds=call.body["seconds"])
    _check_year(app.clock.now() + delta)
    app.clock.advance(delta)
    await app.store.run(app.save_clock)
    app.dispatcher.wake()
    return _clock_view(app)


async def set_clock(app: AsgiApp, call: Call) -> Any:
    data = call.body
    if data.get("now"):
        try:
            moment = datetime.fromisoformat(data["now"])
        except ValueError:
            raise bad("now must be an ISO 8601 date-time") from None
        if moment.tzinfo is None:
            raise bad("now needs a UTC offset, e.g. +08:00")
        _check_year(moment)
        app.clock.set(moment, freeze=data.get("freeze", False))
    elif data.get("freeze") is not None:
        app.clock.set(app.clock.now(), freeze=data["freeze"])
    if data.get("real"):
        app.clock.offset, app.clock.frozen = timedelta(0), None
    await app.store.run(app.save_clock)
    app.dispatcher.wake()
    return _clock_view(app)


async def reset(app: AsgiApp, call: Call) -> Any:
    await app.journal.flush()
    await app.store.run(app.store.reset)
    app.forget_clock()
    app.faults.invalidate()
    if "seed" in call.body:
        app.ids.seed(call.body["seed"])
    return {"reset": True}


async def health(app: AsgiApp, call: Call) -> Any:
    from wxpay_local import __version__

    return {
        "status": "ok",
        "version": __version__,
        "database": "postgresql" if app.store.is_postgres else "sqlite",
        "now": app.clock.now().isoformat(),
    }


_PASSWORD = text(64)

OPS: tuple[Op, ...] = (
    Op(
        "GET",
        "/_local/health",
        "Liveness, version and database kind",
        health,
        response=schemas.HEALTH,
    ),
    Op(
        "POST",
        "/_local/reset",
        "Delete all data and put the clock back to real time (seed: repeatable ids)",
        reset,
        {"seed": integer()},
        response=schemas.obj(reset=B),
    ),
    Op(
        "POST",
        "/_local/pay",
        "Pay (or cancel) a prepay_id or a Native code_url (exactly one) as a payer (payer_id,"
        " or the openid the payer has under the order's app)",
        pay,
        {
            "prepay_id": text(64, 1),
            "code_url": text(256, 1),
            "payer_id": ID,
            "openid": text(128, 1),
            "card_id": ID,
            "password": _PASSWORD,
            "action": one_of("pay", "cancel"),
        },
        exactly_one=(("prepay_id", "code_url"),),
        at_least_one=(("payer_id", "openid"),),
        errors=(404,),
        response=schemas.PAY_RESULT,
    ),
    Op("GET", "/_local/clock", "The platform clock", get_clock, response=schemas.CLOCK),
    Op(
        "POST",
        "/_local/clock/advance",
        f"Move the platform clock forward (years {MIN_YEAR} to {MAX_YEAR})",
        advance_clock,
        {"seconds": integer(0, MAX_ADVANCE_SECONDS)},
        ("seconds",),
        response=schemas.CLOCK,
    ),
    Op(
        "POST",
        "/_local/clock",
        "Set the clock (ISO 8601 now with an offset, freeze) or back to real time",
        set_clock,
        {"now": text(64), "freeze": B, "real": B},
        response=schemas.CLOCK,
    ),
)


async def invoke(app: AsgiApp, request: Request, handler: Handler, body: dict[str, Any]) -> Any:
    """Run one of the operations above with a body checked against its declaration (the
    console's clock form moves the clock through these)."""
    op = next(op for op in OPS if op.handler is handler)
    return await handler(app, Call(request, check_body(op, body), {}))


def all_ops() -> tuple[Op, ...]:
    from wxpay_local.web.control_acceptance import ACCEPTANCE_OPS
    from wxpay_local.web.control_bills import BILL_OPS
    from wxpay_local.web.control_faults import FAULT_OPS
    from wxpay_local.web.control_lookups import LOOKUP_OPS
    from wxpay_local.web.control_merchant import MERCHANT_OPS
    from wxpay_local.web.control_namespaces import NAMESPACE_OPS
    from wxpay_local.web.control_parties import PARTY_OPS
    from wxpay_local.web.control_payer_outcomes import PAYER_OUTCOME_OPS
    from wxpay_local.web.control_payer_phone import PAYER_PHONE_OPS
    from wxpay_local.web.control_probe import PROBE_OPS
    from wxpay_local.web.control_records import RECORD_OPS

    return (
        OPS
        + PARTY_OPS
        + RECORD_OPS
        + MERCHANT_OPS
        + PAYER_PHONE_OPS
        + LOOKUP_OPS
        + BILL_OPS
        + FAULT_OPS
        + PROBE_OPS
        + NAMESPACE_OPS
        + PAYER_OUTCOME_OPS
        + ACCEPTANCE_OPS
    )


def openapi() -> dict[str, Any]:
    from wxpay_local import __version__

    return schemas.document(all_ops(), __version__)


@functools.cache
def _openapi_json() -> bytes:
    """The document as served, made once per process (every namespace serves it too)."""
    return bytes(JSONResponse(openapi()).body)


def routes(app: AsgiApp) -> list[Route]:
    from wxpay_local.web.control_probe import canary_routes
    from wxpay_local.web.control_tail import tail_routes

    table = [Route(op.path, endpoint(app, op), methods=[op.method]) for op in all_ops()]

    async def openapi_json(request: Request) -> Response:
        return Response(_openapi_json(), media_type="application/json")

    table.append(Route("/_local/openapi.json", openapi_json, methods=["GET"]))
    table += canary_routes(app) + tail_routes(app)
    known = list(table)

    async def unknown(request: Request) -> Response:
        # JSON answers, not Starlette's text ones, under /_local/: a path no operation has
        # (also a path parameter with "/" in it, once decoded), or a method the path lacks.
        allowed = sorted(
            method
            for route in known
            if route.matches({**request.scope, "method": "GET"})[0] is not Match.NONE
            for method in route.methods or ()
            if method != "HEAD"
        )
        if allowed:
            return error(
                405,
                "METHOD_NOT_ALLOWED",
                f"{request.url.path} takes {', '.join(allowed)}",
                headers={"Allow": ", ".join(allowed)},
            )
        return error(404, "NOT_FOUND", "no such control-plane operation")

    table.append(Route("/_local/{rest:path}", unknown, methods=list(_ALL_METHODS)))
    return table


_ALL_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE")
