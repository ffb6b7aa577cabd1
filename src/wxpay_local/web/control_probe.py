"""The probe, trigger and the XXE canary (issue 14; docs/verify-your-integration.md).

``POST /_local/probe`` sends a merchant's notification endpoint the battery (``probe``) built
from that merchant's real paid orders and answers the graded report; ``POST /_local/trigger``
makes a real paid order or refund. ``GET /probe-canary/{token}`` is the URL the XXE case's
external entity names: it sits outside ``/_local`` because a receiver's XML parser fetches it
without the admin token.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from wxpay_local.codes import SignType
from wxpay_local.domain import merchant_config, trigger
from wxpay_local.domain.model import LIVE, Merchant, Order
from wxpay_local.domain.orders import PAID_STATES
from wxpay_local.probe import battery, runner
from wxpay_local.web import control_openapi as schemas
from wxpay_local.web import views
from wxpay_local.web.control_base import (
    MCH_ID,
    Call,
    ControlError,
    Op,
    integer,
    not_found,
    one_of,
    text,
)

if TYPE_CHECKING:
    from wxpay_local.web.app import AsgiApp

CANARY_PATH = "/probe-canary/"
#: How many of the merchant's latest orders are searched for paid ones.
ORDER_WINDOW = 500
URL = text(512, 1, r"^https?://")


def _merchant(tx: Any, mch_id: str) -> Merchant:
    merchant: Merchant | None = tx.merchant(mch_id, LIVE)
    if merchant is None:
        raise not_found(f"no merchant {mch_id}")
    return merchant


def _orders_for_probe(
    app: AsgiApp, mch_id: str, url: str
) -> tuple[Merchant, Order, Order | None, str]:
    """The merchant, its latest paid order (one is made, notified to ``url``, when it has none),
    its latest paid HMAC-SHA256 order if any, and its notification signing setting."""
    with app.store.begin() as tx:
        merchant = _merchant(tx, mch_id)
        paid = [
            o
            for o in tx.orders(merchant.id, ORDER_WINDOW, 0)
            if o.trade_state in PAID_STATES and o.time_end is not None
        ]
        if not paid:
            paid = [trigger.paid_order(tx, app.clock, app.ids, merchant, url)]
        hmac = next((o for o in paid if o.sign_type is SignType.HMAC_SHA256), None)
        setting = merchant_config.load(tx, mch_id).notify_sign_type
        return merchant, paid[0], hmac, setting


async def probe(app: AsgiApp, call: Call) -> Any:
    url = call.body["url"]
    try:
        runner.check_target(url, app.settings.probe_hosts)
    except runner.HostRefused as exc:
        raise ControlError(403, "PROBE_HOST_REFUSED", str(exc)) from None
    merchant, order, hmac, setting = await app.store.run(
        lambda: _orders_for_probe(app, call.body["mch_id"], url)
    )
    app.dispatcher.wake()  # an order made just now has its own (genuine) notification
    token = secrets.token_urlsafe(16)
    base = str(call.request.base_url).rstrip("/")
    material = battery.Material(
        mch_id=merchant.mch_id,
        api_key=merchant.api_key,
        order=order,
        notify_sign_type=setting,
        canary_url=f"{base}{CANARY_PATH}{token}",
        canary_token=token,
        hmac_order=hmac,
    )
    results = await runner.run(url, battery.build(material), app.canaries)
    failed = [r.name for r in results if not r.passed]
    return {
        "mch_id": merchant.mch_id,
        "url": url,
        "out_trade_no": order.out_trade_no,
        "passed": not failed,
        "failed": failed,
        "checks": [r.as_json() for r in results],
    }


def _latest_notify_url(tx: Any, merchant: Merchant, kind: str) -> str:
    """Where the merchant's own checkout asked to be notified last (refunds: its setting)."""
    if kind == "refund" and merchant.refund_notify_url:
        return merchant.refund_notify_url
    latest = tx.orders(merchant.id, 1, 0)
    return str(latest[0].notify_url) if latest else ""


async def trigger_op(app: AsgiApp, call: Call) -> Any:
    data = call.body

    def work() -> Any:
        with app.store.begin() as tx:
            merchant = _merchant(tx, data["mch_id"])
            notify_url = data.get("notify_url") or _latest_notify_url(tx, merchant, data["kind"])
            if data["kind"] == "payment":
                order = trigger.paid_order(
                    tx,
                    app.clock,
                    app.ids,
                    merchant,
                    notify_url,
                    total_fee=data.get("total_fee", 1),
                    sign_type=SignType(data.get("sign_type", "MD5")),
                )
                return {"order": views.order_view(order), "refund": None}
            if data.get("out_trade_no"):
                found = tx.order_by_out_trade_no(merchant.id, data["out_trade_no"])
                if found is None:
                    raise not_found(f"no order {data['out_trade_no']} of {merchant.mch_id}")
                order = found
            else:  # refund a fresh payment: the whole story, payment then refund
                order = trigger.paid_order(
                    tx, app.clock, app.ids, merchant, "", total_fee=data.get("total_fee", 1)
                )
            made = trigger.refund(
                tx,
                app.clock,
                app.ids,
                merchant,
                order,
                notify_url,
                timedelta(seconds=app.settings.refund_settle_seconds),
            )
            return {"order": views.order_view(order), "refund": views.refund_view(made)}

    answer = await app.store.run(work)
    app.dispatcher.wake()
    return answer


def canary_routes(app: AsgiApp) -> list[Route]:
    async def canary(request: Request) -> Response:
        client = request.client
        app.canaries.hit(request.path_params["token"], client.host if client else "?")
        return PlainTextResponse("canary")

    return [Route(CANARY_PATH + "{token}", canary, methods=["GET"])]


_CHECK = schemas.obj(
    name={"type": "string"},
    title={"type": "string"},
    expect={"enum": ["accept", "refuse", "harmless"]},
    passed={"type": "boolean"},
    skipped={"type": "boolean"},
    detail={"type": "string"},
    http_status={"type": ["integer", "null"]},
    latency_ms={"type": "integer"},
    answer={"type": "string"},
    fix={"type": "string"},
)
_STR = {"type": "string"}

PROBE_OPS: tuple[Op, ...] = (
    Op(
        "POST",
        "/_local/probe",
        "Probe a merchant's notification endpoint with the battery of genuine, forged and"
        " hostile notifications (loopback or allowed hosts only); the graded report",
        probe,
        {"mch_id": MCH_ID, "url": URL},
        ("mch_id", "url"),
        errors=(403, 404),
        response=schemas.obj(
            mch_id=_STR,
            url=_STR,
            out_trade_no=_STR,
            passed={"type": "boolean"},
            failed={"type": "array", "items": _STR},
            checks={"type": "array", "items": _CHECK},
        ),
    ),
    Op(
        "POST",
        "/_local/trigger",
        "A real paid order (kind payment) or refund (kind refund: of out_trade_no, or of a"
        " fresh payment) for a merchant, with its ledger entries and its notification",
        trigger_op,
        {
            "mch_id": MCH_ID,
            "kind": one_of("payment", "refund"),
            "notify_url": text(256),
            "total_fee": integer(1, 10**9),
            "sign_type": one_of("MD5", "HMAC-SHA256"),
            "out_trade_no": text(32, 1),
        },
        ("mch_id", "kind"),
        errors=(404,),
        response={"type": "object"},
    ),
)
