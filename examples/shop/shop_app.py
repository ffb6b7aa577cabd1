"""The demo shop: a Starlette app on wxpay_sdk (``create_app(config)``).

Checkout by Native QR, JSAPI (OAuth for the openid, then the platform's JS bridge), H5; a
cashier for micropay running the SDK's best practice live; a notification endpoint that
verifies and is idempotent; order pages that query when no notification came; refunds; a
daily reconciliation against the downloaded bill.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from html import escape
from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx
import shop_pages as pages
from shop_config import ShopConfig
from shop_db import ShopDb
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from wxpay_sdk import ReturnError, WxPayError, notify, params
from wxpay_sdk.models import UnifiedOrderArgs

FINAL = {"PAID", "FAILED", "REVERSED", "REFUNDED", "UNRESOLVED"}


async def form(request: Request) -> dict[str, str]:
    """An urlencoded form (Starlette's parser would need python-multipart for one line)."""
    fields = parse_qs((await request.body()).decode("utf-8", "replace"))
    return {name: values[0] for name, values in fields.items()}


def new_trade_no(prefix: str) -> str:
    return f"{prefix}{time.strftime('%Y%m%d%H%M%S')}{secrets.randbelow(10_000):04d}"


def create_app(config: ShopConfig) -> Starlette:
    db = ShopDb(config.database)
    client = config.client()
    tasks: set[asyncio.Task[None]] = set()

    def order_or_404(no: str) -> dict[str, Any]:
        order = db.order(no)
        if order is None:
            raise LookupError(no)
        return order

    async def unifiedorder(order: dict[str, Any], **extra: str) -> dict[str, object]:
        args: UnifiedOrderArgs = {
            "body": order["body"],
            "out_trade_no": order["out_trade_no"],
            "total_fee": order["total_fee"],
            "spbill_create_ip": "127.0.0.1",
            "notify_url": config.public_url + "/notify",
            "trade_type": order["method"],
        }
        args.update(extra)  # type: ignore[typeddict-item]
        return dict(await client.unifiedorder(**args))

    def create_order(product: str, method: str, prefix: str) -> dict[str, Any]:
        name, fee = pages.PRODUCTS[product]
        no = new_trade_no(prefix)
        db.run(
            "INSERT INTO orders (out_trade_no, product, body, total_fee, method, state) "
            "VALUES (?, ?, ?, ?, ?, 'NOTPAY')",
            no,
            product,
            f"蓝鲸咖啡-{name}",
            fee,
            method,
        )
        return order_or_404(no)

    # --- pages ------------------------------------------------------------------------------
    async def home(request: Request) -> Response:
        return HTMLResponse(pages.home())

    async def buy(request: Request) -> Response:
        fields = await form(request)
        product, method = fields.get("product", ""), fields.get("method", "")
        if product not in pages.PRODUCTS or method not in ("NATIVE", "JSAPI", "MWEB"):
            return HTMLResponse(pages.layout("错误", "<p>no such product</p>"), 400)
        if method == "JSAPI":  # the payer's openid first: OAuth2 snsapi_base (spec §6.5)
            back = f"{config.public_url}/oauth?" + urlencode({"product": product})
            query = {"appid": config.appid, "redirect_uri": back, "response_type": "code"}
            query |= {"scope": "snsapi_base", "state": "jsapi"}
            authorize = f"{config.platform}/connect/oauth2/authorize?{urlencode(query)}"
            return RedirectResponse(authorize + "#wechat_redirect", 303)
        order = create_order(product, method, "S")
        if method == "NATIVE":
            answer = await unifiedorder(order, product_id=product)
            db.run(
                "UPDATE orders SET code_url = ? WHERE out_trade_no = ?",
                str(answer["code_url"]),
                order["out_trade_no"],
            )
            return RedirectResponse(f"/orders/{order['out_trade_no']}", 303)
        scene = {"h5_info": {"type": "Wap", "wap_url": config.public_url, "wap_name": "shop"}}
        answer = await unifiedorder(order, scene_info=json.dumps(scene))
        back = f"{config.public_url}/orders/{order['out_trade_no']}"
        return RedirectResponse(f"{answer['mweb_url']}&" + urlencode({"redirect_url": back}), 303)

    async def oauth(request: Request) -> Response:
        product, code = request.query_params.get("product", ""), request.query_params.get("code")
        if product not in pages.PRODUCTS or not code:
            return HTMLResponse(pages.layout("错误", "<p>authorization refused</p>"), 400)
        async with httpx.AsyncClient(trust_env=False, timeout=10) as http:
            token = await http.get(
                f"{config.platform}/sns/oauth2/access_token",
                params={
                    "appid": config.appid,
                    "secret": config.secret,
                    "code": code,
                    "grant_type": "authorization_code",
                },
            )
        openid = str(token.json().get("openid", ""))
        order = create_order(product, "JSAPI", "S")
        answer = await unifiedorder(order, openid=openid)
        pay = params.jsapi(
            appid=config.appid, prepay_id=str(answer["prepay_id"]), api_key=config.api_key
        )
        return HTMLResponse(
            pages.jsapi_page(config.platform, order["out_trade_no"], pay, order["total_fee"])
        )

    async def refresh(order: dict[str, Any]) -> dict[str, Any]:
        """No notification yet: ask the platform (refunds file §9.1)."""
        if order["state"] != "NOTPAY" or order["method"] == "MICROPAY":
            return order
        try:
            answer = await client.orderquery(out_trade_no=order["out_trade_no"])
        except WxPayError:
            return order
        if answer.get("trade_state") == "SUCCESS":
            no = order["out_trade_no"]
            db.mark_paid(no, answer.get("transaction_id", ""), answer.get("time_end", ""))
        return order_or_404(order["out_trade_no"])

    async def order_page(request: Request) -> Response:
        no = request.path_params["no"]
        if db.order(no) is None:
            return HTMLResponse(pages.layout("没有这个订单", "<p>no such order</p>"), 404)
        order = await refresh(order_or_404(no))
        if request.path_params.get("json"):
            return JSONResponse({"state": order["state"]})
        return HTMLResponse(pages.order_page(order, config.platform))

    async def order_json(request: Request) -> Response:
        request.path_params["json"] = True
        return await order_page(request)

    async def orders(request: Request) -> Response:
        rows = db.all("SELECT * FROM orders ORDER BY rowid DESC LIMIT 100")
        return HTMLResponse(pages.orders_page(rows))

    async def refund(request: Request) -> Response:
        no = request.path_params["no"]
        order = db.order(no)
        if order is None or order["state"] != "PAID":
            return HTMLResponse(pages.layout("不能退款", "<p>not refundable</p>"), 409)
        answer = await client.refund(  # same out_refund_no on a retry: safe (refunds §2.6.2)
            out_trade_no=no,
            out_refund_no="R" + no,
            total_fee=order["total_fee"],
            refund_fee=order["total_fee"],
        )
        db.run(
            "UPDATE orders SET state = 'REFUNDED', refund_id = ?, refund_fee = ? "
            "WHERE out_trade_no = ?",
            answer.get("refund_id", ""),
            answer.get("refund_fee", 0),
            no,
        )
        return RedirectResponse(f"/orders/{no}", 303)

    async def notified(request: Request) -> Response:
        """The platform's payment notification: verify, record once, answer SUCCESS."""
        try:
            note = notify.payment_notification(await request.body(), config.api_key)
        except WxPayError as exc:
            return Response(notify.ack(False, str(exc)), media_type=notify.ACK_CONTENT_TYPE)
        no = str(note.get("out_trade_no", ""))
        db.run("UPDATE orders SET notifications = notifications + 1 WHERE out_trade_no = ?", no)
        if note.get("result_code") == "SUCCESS":
            db.mark_paid(no, str(note.get("transaction_id", "")), str(note.get("time_end", "")))
        return Response(notify.ack(), media_type=notify.ACK_CONTENT_TYPE)

    # --- the cashier ------------------------------------------------------------------------
    async def cashier(request: Request) -> Response:
        if request.method == "GET":
            return HTMLResponse(pages.cashier_page())
        fields = await form(request)
        product, auth_code = fields.get("product", ""), fields.get("auth_code", "").strip()
        if product not in pages.PRODUCTS or not auth_code.isdigit() or len(auth_code) != 18:
            return HTMLResponse(pages.cashier_page("付款码是 18 位数字"), 400)
        order = create_order(product, "MICROPAY", "M")
        task = asyncio.create_task(charge(order, auth_code))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        return RedirectResponse(f"/cashier/{order['out_trade_no']}", 303)

    async def charge(order: dict[str, Any], auth_code: str) -> None:
        no = order["out_trade_no"]

        def step(seconds: float, text: str) -> None:
            db.run("INSERT INTO till_steps VALUES (?, ?, ?)", no, seconds, text)

        outcome = await client.micropay_best_practice(
            timings=config.timings,
            on_step=step,
            body=order["body"],
            out_trade_no=no,
            total_fee=order["total_fee"],
            spbill_create_ip="127.0.0.1",
            auth_code=auth_code,
        )
        if outcome.paid:
            result = outcome.result
            db.mark_paid(no, str(result.get("transaction_id", "")), str(result.get("time_end", "")))
        else:
            db.run("UPDATE orders SET state = ? WHERE out_trade_no = ?", outcome.status, no)

    async def till(request: Request) -> Response:
        return HTMLResponse(pages.till_page(request.path_params["no"]))

    async def till_json(request: Request) -> Response:
        no = request.path_params["no"]
        order = db.order(no)
        steps = db.all("SELECT seconds, text FROM till_steps WHERE out_trade_no = ?", no)
        state = order["state"] if order else "NOTPAY"
        final = state in FINAL
        name = pages.STATE_NAMES.get(state, state) if final else "处理中…"
        return JSONResponse({"state": state, "state_name": name, "final": final, "steps": steps})

    # --- reconciliation ---------------------------------------------------------------------
    async def reconcile(request: Request) -> Response:
        date = request.query_params.get("date", "")
        if not date:
            yesterday = time.gmtime(time.time() + 8 * 3600 - 86400)
            return HTMLResponse(pages.reconcile_page(time.strftime("%Y%m%d", yesterday), [], ""))
        try:
            bill = await client.bill(bill_date=date)
        except ReturnError as exc:
            return HTMLResponse(pages.reconcile_page(date, [], f"账单: {exc.return_msg}"))
        except WxPayError as exc:
            return HTMLResponse(pages.reconcile_page(date, [], f"下载失败: {exc}"), 502)
        ours = {
            o["out_trade_no"]: o
            for o in db.all("SELECT * FROM orders WHERE substr(time_end, 1, 8) = ?", date)
        }
        lines = []
        for row in bill.rows:
            if row.trade_state == "REFUND":
                mine = db.order(row.out_trade_no)
                shop = pages.yuan(mine["refund_fee"]) if mine else "—"
                same = mine is not None and mine["refund_fee"] == row.refund_fee
                status = "matched" if same else "refund differs"
                lines.append((row.out_trade_no, shop, pages.yuan(row.refund_fee), status, "退款"))
                continue
            mine = ours.pop(row.out_trade_no, None)
            shop = pages.yuan(mine["total_fee"]) if mine else "—"
            status = "matched" if mine and mine["total_fee"] == row.total_fee else "not in shop"
            if mine and mine["total_fee"] != row.total_fee:
                status = "amount differs"
            lines.append(
                (row.out_trade_no, shop, pages.yuan(row.total_fee), status, row.trade_state)
            )
        for no, mine in ours.items():
            lines.append((no, pages.yuan(mine["total_fee"]), "—", "not in bill", "支付"))
        note = f"账单 {bill.totals.count} 笔, 订单总金额 ¥{pages.yuan(bill.totals.total_fee)}"
        return HTMLResponse(pages.reconcile_page(date, lines, note))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        for task in list(tasks):
            task.cancel()
        await client.aclose()
        db.close()

    routes = [
        Route("/", home),
        Route("/buy", buy, methods=["POST"]),
        Route("/oauth", oauth),
        Route("/orders", orders),
        Route("/orders/{no}.json", order_json),
        Route("/orders/{no}", order_page),
        Route("/orders/{no}/refund", refund, methods=["POST"]),
        Route("/notify", notified, methods=["POST"]),
        Route("/cashier", cashier, methods=["GET", "POST"]),
        Route("/cashier/{no}.json", till_json),
        Route("/cashier/{no}", till),
        Route("/reconcile", reconcile),
    ]

    async def platform_error(request: Request, exc: Exception) -> Response:
        """A refusal or an outage of the platform is the shop's message, not a 500."""
        text = f"微信支付: {exc}"
        return HTMLResponse(pages.layout("支付平台错误", f"<p id=error>{escape(text)}</p>"), 502)

    async def not_found(request: Request, exc: Exception) -> Response:
        return HTMLResponse(pages.layout("没有这个订单", "<p>no such order</p>"), 404)

    handlers = {WxPayError: platform_error, LookupError: not_found}
    return Starlette(routes=routes, lifespan=lifespan, exception_handlers=handlers)
