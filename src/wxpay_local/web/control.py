"""The ``/_local`` JSON control plane: merchants, payers, paying, the clock, reset, inspection.

Every operation is one ``Op`` row (method, path, summary, body schema, handler); the routes and
``/_local/openapi.json`` are both derived from the table. Imports: domain, web.views, starlette.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from wxpay_local.codes import AppKind, Rejected
from wxpay_local.domain import setup
from wxpay_local.domain.model import LIVE
from wxpay_local.domain.payer import PayOutcome, PayRequest, pay_order
from wxpay_local.web import views

SHORT_PREFIX = "weixin://wxpay/s/"

if TYPE_CHECKING:
    from wxpay_local.web.app import App

Handler = Callable[["App", Request, dict[str, Any]], Awaitable[Any]]


class ControlError(Exception):
    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error, self.message = status, error, message


@dataclass(frozen=True)
class Op:
    method: str
    path: str
    summary: str
    handler: Handler
    body: dict[str, Any] = field(default_factory=dict)  # JSON Schema properties
    required: tuple[str, ...] = ()
    query: tuple[str, ...] = ()


MAX_ADVANCE_SECONDS = 10 * 366 * 86400
#: The largest amount the control plane takes (10^11 fen = 1 billion yuan): far below BIGINT.
MAX_AMOUNT = 10**11

_TYPES = {"string": str, "integer": int, "boolean": bool, "array": list, "object": dict}


def _check_body(op: Op, data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ControlError(400, "BAD_JSON", "the body must be a JSON object")
    for name in op.required:
        if name not in data:
            raise ControlError(400, "MISSING_FIELD", f"{name} is required")
    for name, value in data.items():
        schema = op.body.get(name)
        if schema is None:
            raise ControlError(400, "UNKNOWN_FIELD", f"unknown field {name}")
        expected = _TYPES[schema["type"]]
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise ControlError(400, "BAD_FIELD", f"{name} must be of type {schema['type']}")
        if isinstance(value, str) and ("\x00" in value or len(value) > 4096):
            raise ControlError(400, "BAD_FIELD", f"{name} must be text of at most 4096 characters")
        if isinstance(value, int) and not -MAX_AMOUNT <= value <= MAX_AMOUNT:
            raise ControlError(400, "BAD_FIELD", f"{name} is out of range")
        if "enum" in schema and value not in schema["enum"]:
            raise ControlError(400, "BAD_FIELD", f"{name} must be one of {schema['enum']}")
    return data


def _int(text: str | None, name: str, default: int, maximum: int | None = None) -> int:
    """A whole-number query or path parameter, or a 400 that says which one is wrong."""
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise ControlError(400, "BAD_FIELD", f"{name} must be a whole number") from None
    if value < 0:
        raise ControlError(400, "BAD_FIELD", f"{name} must not be negative")
    return value if maximum is None else min(value, maximum)


def _endpoint(app: App, op: Op) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            data: dict[str, Any] = {}
            if op.method in ("POST", "PUT"):
                raw = await request.body()
                if raw.strip():
                    try:
                        data = _check_body(op, json.loads(raw))
                    except ValueError:
                        raise ControlError(400, "BAD_JSON", "the body is not valid JSON") from None
            result = await op.handler(app, request, data)
        except ControlError as exc:
            return JSONResponse({"error": exc.error, "message": exc.message}, exc.status)
        except Rejected as exc:
            return JSONResponse({"error": str(exc.err_code), "message": exc.err_code_des}, 400)
        return result if isinstance(result, Response) else JSONResponse(result)

    return endpoint


# merchants -----------------------------------------------------------------------------------
async def create_merchant(app: App, request: Request, data: dict[str, Any]) -> Any:
    kinds = data.get("app_kinds")
    try:
        app_kinds = None if kinds is None else tuple(AppKind(k) for k in kinds)
    except ValueError:
        raise ControlError(400, "BAD_FIELD", f"app_kinds are {[str(k) for k in AppKind]}") from None
    spec = setup.NewMerchant(
        name=data.get("name", "Demo merchant"),
        mch_id=data.get("mch_id"),
        api_key=data.get("api_key"),
        fee_rate_ppm=data.get("fee_rate_ppm", 6000),
        console_password=data.get("console_password"),
        app_kinds=app_kinds,
        appids=tuple(data.get("appids", ())),
    )

    def work() -> Any:
        with app.store.begin() as tx:
            created = setup.create_merchant(tx, app.ids, spec)
            return views.merchant_view(created.merchant, created.apps)

    return await app.store.run(work)


async def list_merchants(app: App, request: Request, data: dict[str, Any]) -> Any:
    def work() -> Any:
        with app.store.begin(write=False) as tx:
            return [
                views.merchant_view(m, tx.apps_of(m.mch_id))
                for m in tx.merchants()
                if m.env == LIVE
            ]

    return {"merchants": await app.store.run(work, write=False)}


async def get_merchant(app: App, request: Request, data: dict[str, Any]) -> Any:
    mch_id = request.path_params["mch_id"]

    def work() -> Any:
        with app.store.begin(write=False) as tx:
            merchant = tx.merchant(mch_id, LIVE)
            if merchant is None:
                raise ControlError(404, "NOT_FOUND", f"no merchant {mch_id}")
            return views.merchant_view(merchant, tx.apps_of(mch_id))

    return await app.store.run(work, write=False)


# payers --------------------------------------------------------------------------------------
async def create_payer(app: App, request: Request, data: dict[str, Any]) -> Any:
    spec = setup.NewPayer(
        name=data.get("name", "Demo payer"),
        balance=data.get("balance", 0),
        pay_password=data.get("pay_password", "123456"),
        cards=tuple(data.get("cards", ())),
    )

    def work() -> Any:
        with app.store.begin() as tx:
            created = setup.create_payer(tx, app.clock, app.ids, spec)
            appid = data.get("appid")
            if appid:
                setup.openid_for(tx, app.ids, created.payer.id, appid)
            return views.payer_view(tx, created.payer.id)

    return await app.store.run(work)


def _payer_id(request: Request) -> int:
    return _int(request.path_params["payer_id"], "payer_id", 0)


async def get_payer(app: App, request: Request, data: dict[str, Any]) -> Any:
    payer_id = _payer_id(request)
    appid = request.query_params.get("appid")

    def work() -> Any:
        with app.store.begin(write=bool(appid)) as tx:
            if tx.payer(payer_id) is None:
                raise ControlError(404, "NOT_FOUND", f"no payer {payer_id}")
            if appid:
                if tx.app(appid) is None:
                    raise ControlError(404, "NOT_FOUND", f"no app {appid}")
                setup.openid_for(tx, app.ids, payer_id, appid)
            return views.payer_view(tx, payer_id)

    return await app.store.run(work)


async def list_payers(app: App, request: Request, data: dict[str, Any]) -> Any:
    def work() -> Any:
        with app.store.begin(write=False) as tx:
            return [views.payer_view(tx, p.id) for p in tx.payers()]

    return {"payers": await app.store.run(work, write=False)}


async def top_up(app: App, request: Request, data: dict[str, Any]) -> Any:
    payer_id = _payer_id(request)

    def work() -> Any:
        with app.store.begin() as tx:
            if tx.payer(payer_id) is None:
                raise ControlError(404, "NOT_FOUND", f"no payer {payer_id}")
            ref = "topup-" + app.ids.nonce(12)
            return {"balance": setup.top_up(tx, app.clock, payer_id, data["amount"], ref)}

    return await app.store.run(work)


# paying --------------------------------------------------------------------------------------
def _qr_code(code_url: str) -> str:
    parts = urlsplit(code_url)
    codes = parse_qs(parts.query).get("pr")
    if parts.scheme != "weixin" or not codes:
        raise ControlError(
            400, "BAD_FIELD", "code_url must look like weixin://wxpay/bizpayurl?pr=…"
        )
    return codes[0]


async def pay(app: App, request: Request, data: dict[str, Any]) -> Any:
    if bool(data.get("prepay_id")) == bool(data.get("code_url")):
        raise ControlError(400, "MISSING_FIELD", "give exactly one of prepay_id and code_url")
    action = data.get("action", "pay")
    if action not in ("pay", "cancel"):
        raise ControlError(400, "BAD_FIELD", "action is pay or cancel")

    def work() -> Any:
        with app.store.begin() as tx:
            payer_id = data.get("payer_id")
            if payer_id is None:
                found = tx.payer_by_openid(data.get("openid", ""))
                if found is None:
                    raise ControlError(404, "NOT_FOUND", "give payer_id or a known openid")
                payer_id = found[0].id
            code_url = data.get("code_url", "")
            if code_url.startswith(SHORT_PREFIX):  # a /tools/shorturl link: resolve it first
                code_url = tx.long_url_of(code_url.removeprefix(SHORT_PREFIX)) or ""
                if not code_url:
                    raise ControlError(404, "NOT_FOUND", "no such short URL")
            req = PayRequest(
                payer_id=payer_id,
                prepay_id=data.get("prepay_id", ""),
                qr_code=_qr_code(code_url) if code_url else "",
                card_id=data.get("card_id"),
                password=data.get("password"),
                cancel=action == "cancel",
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


# orders, ledger, notifications, journal -------------------------------------------------------
async def list_orders(app: App, request: Request, data: dict[str, Any]) -> Any:
    mch_id = request.query_params.get("mch_id")
    limit = _int(request.query_params.get("limit"), "limit", 50, 500)
    offset = _int(request.query_params.get("offset"), "offset", 0)

    def work() -> Any:
        with app.store.begin(write=False) as tx:
            merchant_id = None
            if mch_id:
                merchant = tx.merchant(mch_id, LIVE)
                if merchant is None:
                    raise ControlError(404, "NOT_FOUND", f"no merchant {mch_id}")
                merchant_id = merchant.id
            return [views.order_view(o) for o in tx.orders(merchant_id, limit, offset)]

    return {"orders": await app.store.run(work, write=False)}


async def get_order(app: App, request: Request, data: dict[str, Any]) -> Any:
    mch_id, out_trade_no = request.path_params["mch_id"], request.path_params["out_trade_no"]

    def work() -> Any:
        with app.store.begin(write=False) as tx:
            merchant = tx.merchant(mch_id, LIVE)
            order = (
                None if merchant is None else tx.order_by_out_trade_no(merchant.id, out_trade_no)
            )
            if order is None:
                raise ControlError(404, "NOT_FOUND", f"no order {out_trade_no} at {mch_id}")
            view = views.order_view(order)
            view["refunds"] = [views.refund_view(r) for r in tx.refunds_of(order.id)]
            view["notifications"] = [
                views.notification_view(n, tx.attempts(n.id))
                for n in tx.notifications(order_id=order.id)
            ]
            return view

    return await app.store.run(work, write=False)


async def get_ledger(app: App, request: Request, data: dict[str, Any]) -> Any:
    def work() -> Any:
        with app.store.begin(write=False) as tx:
            return tx.balances(request.query_params.get("prefix", ""))

    accounts = await app.store.run(work, write=False)
    return {"accounts": accounts, "total": sum(accounts.values())}


async def list_notifications(app: App, request: Request, data: dict[str, Any]) -> Any:
    mch_id = request.query_params.get("mch_id")
    kind = request.query_params.get("kind")

    def work() -> Any:
        with app.store.begin(write=False) as tx:
            merchant_id = None
            if mch_id:
                merchant = tx.merchant(mch_id, LIVE)
                merchant_id = -1 if merchant is None else merchant.id
            return [
                views.notification_view(n, tx.attempts(n.id))
                for n in tx.notifications(merchant_id=merchant_id)
                if kind is None or n.kind == kind
            ]

    return {"notifications": await app.store.run(work, write=False)}


async def redeliver(app: App, request: Request, data: dict[str, Any]) -> Any:
    notification_id = _int(request.path_params["notification_id"], "notification_id", 0)

    def work() -> Any:
        with app.store.begin() as tx:
            if tx.notification(notification_id) is None:
                raise ControlError(404, "NOT_FOUND", f"no notification {notification_id}")
            tx.requeue_notification(notification_id, app.clock.now())
        return {"requeued": notification_id}

    answer = await app.store.run(work)
    app.dispatcher.wake()
    return answer


async def dispatch_now(app: App, request: Request, data: dict[str, Any]) -> Any:
    """Deliver everything due now, in this request, and wait for deliveries under way."""
    return {"attempted": await app.dispatcher.drain()}


async def get_journal(app: App, request: Request, data: dict[str, Any]) -> Any:
    await app.journal.flush()
    q = request.query_params
    before = q.get("before_id")

    def work() -> Any:
        with app.store.begin(write=False) as tx:
            return tx.journal(
                q.get("mch_id"),
                min(int(q.get("limit", "50")), 500),
                int(before) if before else None,
                q.get("failures") == "1",
            )

    return {"entries": await app.store.run(work, write=False)}


# the clock and reset -------------------------------------------------------------------------
def _clock_view(app: App) -> dict[str, Any]:
    return {
        "now": app.clock.now().isoformat(),
        "frozen": app.clock.frozen is not None,
        "offset_seconds": app.clock.offset.total_seconds(),
    }


async def get_clock(app: App, request: Request, data: dict[str, Any]) -> Any:
    return _clock_view(app)


async def advance_clock(app: App, request: Request, data: dict[str, Any]) -> Any:
    seconds = data.get("seconds", 0)
    if not 0 <= seconds <= MAX_ADVANCE_SECONDS:
        raise ControlError(400, "BAD_FIELD", "the clock moves forward, by ten years at most")
    app.clock.advance(timedelta(seconds=seconds))
    await app.store.run(app.save_clock)
    app.dispatcher.wake()
    return _clock_view(app)


async def set_clock(app: App, request: Request, data: dict[str, Any]) -> Any:
    if data.get("now"):
        try:
            moment = datetime.fromisoformat(data["now"])
        except ValueError:
            raise ControlError(400, "BAD_FIELD", "now must be an ISO 8601 date-time") from None
        if moment.tzinfo is None:
            raise ControlError(400, "BAD_FIELD", "now needs a UTC offset, e.g. +08:00")
        app.clock.set(moment, freeze=data.get("freeze", False))
    elif data.get("freeze") is not None:
        app.clock.set(app.clock.now(), freeze=data["freeze"])
    if data.get("real"):
        app.clock.offset, app.clock.frozen = timedelta(0), None
    await app.store.run(app.save_clock)
    app.dispatcher.wake()
    return _clock_view(app)


async def reset(app: App, request: Request, data: dict[str, Any]) -> Any:
    await app.journal.flush()
    await app.store.run(app.store.reset)
    app.forget_clock()
    if "seed" in data:
        app.ids.seed(data["seed"])
    return {"reset": True}


async def health(app: App, request: Request, data: dict[str, Any]) -> Any:
    from wxpay_local import __version__

    return {
        "status": "ok",
        "version": __version__,
        "database": "postgresql" if app.store.is_postgres else "sqlite",
        "now": app.clock.now().isoformat(),
    }


_S = {"type": "string"}
_I = {"type": "integer"}
_B = {"type": "boolean"}

OPS: tuple[Op, ...] = (
    Op("GET", "/_local/health", "Liveness, version and database kind", health),
    Op(
        "POST",
        "/_local/reset",
        "Delete all data and put the clock back to real time",
        reset,
        {"seed": _I},
    ),
    Op(
        "POST",
        "/_local/merchants",
        "Create a merchant with one app of each kind (or app_kinds)",
        create_merchant,
        {
            "name": _S,
            "mch_id": _S,
            "api_key": _S,
            "fee_rate_ppm": _I,
            "console_password": _S,
            "app_kinds": {"type": "array", "items": _S},
            "appids": {"type": "array", "items": _S},
        },
    ),
    Op("GET", "/_local/merchants", "List merchants with their keys and apps", list_merchants),
    Op("GET", "/_local/merchants/{mch_id}", "One merchant", get_merchant),
    Op(
        "POST",
        "/_local/payers",
        "Create a payer: wallet balance (fen), password, cards",
        create_payer,
        {
            "name": _S,
            "balance": _I,
            "pay_password": _S,
            "appid": _S,
            "cards": {"type": "array", "items": _S},
        },
    ),
    Op("GET", "/_local/payers", "List payers", list_payers),
    Op(
        "GET",
        "/_local/payers/{payer_id}",
        "One payer; ?appid= issues its openid for that app",
        get_payer,
        query=("appid",),
    ),
    Op(
        "POST",
        "/_local/payers/{payer_id}/topup",
        "Add fen to the payer's wallet",
        top_up,
        {"amount": _I},
        ("amount",),
    ),
    Op(
        "POST",
        "/_local/pay",
        "Pay (or cancel) a prepay_id or a Native code_url as a payer",
        pay,
        {
            "prepay_id": _S,
            "code_url": _S,
            "payer_id": _I,
            "openid": _S,
            "card_id": _I,
            "password": _S,
            "action": {"type": "string", "enum": ["pay", "cancel"]},
        },
    ),
    Op(
        "GET",
        "/_local/orders",
        "Orders, newest first",
        list_orders,
        query=("mch_id", "limit", "offset"),
    ),
    Op(
        "GET",
        "/_local/orders/{mch_id}/{out_trade_no}",
        "One order with its notifications",
        get_order,
    ),
    Op(
        "GET",
        "/_local/ledger",
        "Every account balance (fen) and their total, always 0",
        get_ledger,
        query=("prefix",),
    ),
    Op(
        "GET",
        "/_local/notifications",
        "Notifications with every delivery attempt",
        list_notifications,
        query=("mch_id", "kind"),
    ),
    Op(
        "POST",
        "/_local/notifications/{notification_id}/redeliver",
        "Deliver a notification again now",
        redeliver,
    ),
    Op(
        "POST",
        "/_local/dispatch",
        "Deliver every notification due now and wait for it",
        dispatch_now,
    ),
    Op(
        "GET",
        "/_local/journal",
        "The request journal, newest first; failures=1 for failures",
        get_journal,
        query=("mch_id", "failures", "limit", "before_id"),
    ),
    Op("GET", "/_local/clock", "The platform clock", get_clock),
    Op(
        "POST",
        "/_local/clock/advance",
        "Move the platform clock forward",
        advance_clock,
        {"seconds": {"type": "integer"}},
        ("seconds",),
    ),
    Op(
        "POST",
        "/_local/clock",
        "Set the clock (ISO 8601 now, freeze) or back to real time",
        set_clock,
        {"now": _S, "freeze": _B, "real": _B},
    ),
)


def all_ops() -> tuple[Op, ...]:
    from wxpay_local.web.control_bills import BILL_OPS
    from wxpay_local.web.control_extra import EXTRA_OPS

    return OPS + EXTRA_OPS + BILL_OPS


def openapi() -> dict[str, Any]:
    from wxpay_local import __version__

    paths: dict[str, Any] = {}
    for op in all_ops():
        entry: dict[str, Any] = {
            "summary": op.summary,
            "operationId": op.handler.__name__,
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                "400": {"description": "Bad request"},
                "404": {"description": "Not found"},
            },
        }
        params = [
            {"name": p.strip("{}"), "in": "path", "required": True, "schema": _S}
            for p in op.path.split("/")
            if p.startswith("{")
        ]
        params += [{"name": q, "in": "query", "required": False, "schema": _S} for q in op.query]
        if params:
            entry["parameters"] = params
        if op.method == "POST":
            entry["requestBody"] = {
                "required": bool(op.required),
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": op.body,
                            "required": list(op.required),
                            "additionalProperties": False,
                        }
                    }
                },
            }
        paths.setdefault(op.path, {})[op.method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "wxpay-local control plane",
            "version": __version__,
            "description": "Drive the local WeChat Pay platform: parties, payments, clock.",
        },
        "paths": paths,
    }


def routes(app: App) -> list[Route]:
    table = [Route(op.path, _endpoint(app, op), methods=[op.method]) for op in all_ops()]

    async def openapi_json(request: Request) -> Response:
        return JSONResponse(openapi())

    table.append(Route("/_local/openapi.json", openapi_json, methods=["GET"]))
    return table
