"""Control-plane operations for payment codes, the password prompt, certificates and reports.

Imports: domain, web.control, web.certs, web.tls, web.pages.native_mode1, starlette.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from wxpay_local.domain import merchant_config, micropay, paycodes, refunds
from wxpay_local.domain.model import LIVE, MerchantCert
from wxpay_local.domain.payer import PayOutcome
from wxpay_local.web import certs, views
from wxpay_local.web.control import _B, _I, _S, ControlError, Op, _int, _payer_id
from wxpay_local.web.pages import native_mode1
from wxpay_local.web.pages.native_mode1 import ScanError

if TYPE_CHECKING:
    from wxpay_local.web.app import App


# payment codes and the password prompt ------------------------------------------------------
async def new_code(app: App, request: Request, data: dict[str, Any]) -> Any:
    payer_id = _payer_id(request)

    def work() -> Any:
        with app.store.begin() as tx:
            if tx.payer(payer_id) is None:
                raise ControlError(404, "NOT_FOUND", f"no payer {payer_id}")
            code = paycodes.issue_code(tx, app.clock, app.ids, payer_id)
        return {"auth_code": code.auth_code, "expires_at": views.iso(code.expires_at)}

    return await app.store.run(work)


async def pending(app: App, request: Request, data: dict[str, Any]) -> Any:
    payer_id = _payer_id(request)

    def work() -> Any:
        with app.store.begin(write=False) as tx:
            return [
                views.order_view(o)
                | {"order_id": o.id, "password_deadline": views.iso(o.password_deadline)}
                for o in micropay.waiting_orders(tx, app.clock, payer_id)
            ]

    return {"orders": await app.store.run(work, write=False)}


async def confirm(app: App, request: Request, data: dict[str, Any]) -> Any:
    """Answer the password prompt of a micropay waiting for this payer (newest by default)."""
    payer_id = _payer_id(request)
    if not data.get("cancel") and "password" not in data:
        raise ControlError(400, "MISSING_FIELD", "give password, or cancel: true")

    def work() -> Any:
        with app.store.begin() as tx:
            waiting = micropay.waiting_orders(tx, app.clock, payer_id)
            wanted = data.get("out_trade_no")
            chosen = next((o for o in waiting if not wanted or o.out_trade_no == wanted), None)
            if chosen is None and wanted:  # no longer waiting: say what became of it
                chosen = tx.payer_micropay_order(payer_id, wanted)
            if chosen is None:
                return {
                    "outcome": str(PayOutcome.ORDER_NOT_FOUND),
                    "message": "没有等待输入密码的订单",
                    "order": None,
                }
            outcome, order = micropay.confirm_payment(
                tx,
                app.clock,
                app.ids,
                chosen.id,
                payer_id,
                password=data.get("password"),
                cancel=bool(data.get("cancel")),
                card_id=data.get("card_id"),
            )
        return {
            "outcome": str(outcome),
            "message": outcome.message,
            "order": None if order is None else views.order_view(order),
        }

    return await app.store.run(work)


async def set_policy(app: App, request: Request, data: dict[str, Any]) -> Any:
    payer_id = _payer_id(request)
    policy = data["password_policy"]

    def work() -> Any:
        with app.store.begin() as tx:
            if tx.payer(payer_id) is None:
                raise ControlError(404, "NOT_FOUND", f"no payer {payer_id}")
            tx.set_password_policy(payer_id, policy)
        return {"payer_id": payer_id, "password_policy": policy}

    return await app.store.run(work)


# certificates ---------------------------------------------------------------------------------
def _cert_view(cert: MerchantCert, ca_pem: str, app: App) -> dict[str, Any]:
    return {
        "mch_id": cert.mch_id,
        "serial": cert.serial,
        "not_before": views.iso(cert.not_before),
        "not_after": views.iso(cert.not_after),
        "apiclient_cert.pem": cert.cert_pem,
        "apiclient_key.pem": cert.key_pem,
        "apiclient_cert.p12": base64.b64encode(certs.p12(cert, ca_pem)).decode(),
        "p12_password": cert.mch_id,
        "rootca.pem": ca_pem,
        "https_url": app.settings.tls_base_url,
    }


async def get_cert(app: App, request: Request, data: dict[str, Any]) -> Any:
    mch_id = request.path_params["mch_id"]
    ca = await app.store.run(app.certificate_authority)

    def work() -> Any:
        with app.store.begin() as tx:
            merchant = tx.merchant(mch_id, LIVE)
            if merchant is None:
                raise ControlError(404, "NOT_FOUND", f"no merchant {mch_id}")
            return certs.current_cert(tx, ca, mch_id, merchant.name, app.clock.now())

    cert = await app.store.run(work)
    return _cert_view(cert, ca.cert_pem, app)


async def rotate_cert(app: App, request: Request, data: dict[str, Any]) -> Any:
    from datetime import timedelta

    mch_id = request.path_params["mch_id"]
    days = data.get("valid_days")
    if days is not None and not 1 <= days <= 3650:
        raise ControlError(400, "BAD_FIELD", "valid_days is between 1 and 3650")
    ca = await app.store.run(app.certificate_authority)

    def work() -> Any:
        with app.store.begin() as tx:
            merchant = tx.merchant(mch_id, LIVE)
            if merchant is None:
                raise ControlError(404, "NOT_FOUND", f"no merchant {mch_id}")
            valid = None if days is None else timedelta(days=days)
            return certs.rotate(tx, ca, mch_id, merchant.name, app.clock.now(), valid)

    cert = await app.store.run(work)
    return _cert_view(cert, ca.cert_pem, app)


async def get_ca(app: App, request: Request, data: dict[str, Any]) -> Any:
    ca = await app.store.run(app.certificate_authority)
    return {"ca.pem": ca.cert_pem, "https_url": app.settings.tls_base_url}


# reports and short URLs ----------------------------------------------------------------------
async def list_reports(app: App, request: Request, data: dict[str, Any]) -> Any:
    mch_id = request.query_params.get("mch_id", "")
    limit = _int(request.query_params.get("limit"), "limit", 50, 500)

    def work() -> Any:
        with app.store.begin(write=False) as tx:
            return tx.reports(mch_id, limit)

    return {"reports": await app.store.run(work, write=False)}


async def resolve_short(app: App, request: Request, data: dict[str, Any]) -> Any:
    code = request.path_params["code"]

    def work() -> Any:
        with app.store.begin(write=False) as tx:
            return tx.long_url_of(code)

    long_url = await app.store.run(work, write=False)
    if long_url is None:
        raise ControlError(404, "NOT_FOUND", f"no short URL {code}")
    return {"short_url": f"weixin://wxpay/s/{code}", "long_url": long_url}


async def whose_openid(app: App, request: Request, data: dict[str, Any]) -> Any:
    openid = request.path_params["openid"]

    def work() -> Any:
        with app.store.begin(write=False) as tx:
            return tx.payer_by_openid(openid)

    found = await app.store.run(work, write=False)
    if found is None:
        raise ControlError(404, "NOT_FOUND", f"no payer has openid {openid}")
    return {"payer_id": found[0].id, "name": found[0].name, "appid": found[1]}


# refunds --------------------------------------------------------------------------------------
async def order_refunds(app: App, request: Request, data: dict[str, Any]) -> Any:
    mch_id, out_trade_no = request.path_params["mch_id"], request.path_params["out_trade_no"]

    def work() -> Any:
        with app.store.begin() as tx:
            merchant = tx.merchant(mch_id, LIVE)
            order = (
                None if merchant is None else tx.order_by_out_trade_no(merchant.id, out_trade_no)
            )
            if order is None:
                raise ControlError(404, "NOT_FOUND", f"no order {out_trade_no} at {mch_id}")
            refunds.settle_order(tx, app.clock, app.ids, order.id)
            return [views.refund_view(r) for r in tx.refunds_of(order.id)]

    return {"refunds": await app.store.run(work)}


async def force_refund(app: App, request: Request, data: dict[str, Any]) -> Any:
    """Decide a PROCESSING refund's outcome now (CHANGE → SUCCESS: handled by hand)."""
    refund_id = request.path_params["refund_id"]

    def work() -> Any:
        with app.store.begin() as tx:
            refund = tx.refund_by_any_id(refund_id)
            if refund is None:
                raise ControlError(404, "NOT_FOUND", f"no refund {refund_id}")
            done = refunds.finish(tx, app.ids, refund, data["refund_status"], app.clock.now())
            return views.refund_view(done)

    answer = await app.store.run(work)
    app.dispatcher.wake()
    return answer


async def set_refund_notify_url(app: App, request: Request, data: dict[str, Any]) -> Any:
    mch_id = request.path_params["mch_id"]
    url = data["refund_notify_url"]
    if url and not url.startswith(("http://", "https://")):
        raise ControlError(400, "BAD_FIELD", "refund_notify_url is an http(s) URL or empty")

    def work() -> Any:
        with app.store.begin() as tx:
            merchant = tx.merchant(mch_id, LIVE)
            if merchant is None:
                raise ControlError(404, "NOT_FOUND", f"no merchant {mch_id}")
            tx.set_refund_notify_url(merchant.id, url)
        return {"mch_id": mch_id, "refund_notify_url": url}

    return await app.store.run(work)


async def get_config(app: App, request: Request, data: dict[str, Any]) -> Any:
    mch_id = request.path_params["mch_id"]

    def work() -> Any:
        with app.store.begin(write=False) as tx:
            if tx.merchant(mch_id, LIVE) is None:
                raise ControlError(404, "NOT_FOUND", f"no merchant {mch_id}")
            return merchant_config.load(tx, mch_id).as_json()

    return await app.store.run(work, write=False)


async def update_config(app: App, request: Request, data: dict[str, Any]) -> Any:
    mch_id = request.path_params["mch_id"]

    def work() -> Any:
        with app.store.begin() as tx:
            if tx.merchant(mch_id, LIVE) is None:
                raise ControlError(404, "NOT_FOUND", f"no merchant {mch_id}")
            return merchant_config.update(tx, mch_id, data).as_json()

    return await app.store.run(work)


async def scan(app: App, request: Request, data: dict[str, Any]) -> Any:
    """A payer scans a code_url: mode 1 runs the merchant's scan callback (spec §6.3)."""
    try:
        scanned = await native_mode1.scan(app, data["payer_id"], data["code_url"])
    except ScanError as exc:
        return JSONResponse(exc.as_json(), exc.status)
    return {
        "mode": scanned.mode,
        "merchant": scanned.merchant_name,
        "prepay_id": scanned.order.prepay_id,
        "order": views.order_view(scanned.order),
    }


_LIST = {"type": "array", "items": _S}
_NOTIFY_SIGN_TYPE = {"type": "string", "enum": list(merchant_config.NOTIFY_SIGN_TYPES)}

EXTRA_OPS: tuple[Op, ...] = (
    Op(
        "GET",
        "/_local/merchants/{mch_id}/config",
        "The merchant platform settings: Native callback, H5 domains, JSAPI directories, OAuth,"
        " how payment notifications are signed",
        get_config,
    ),
    Op(
        "POST",
        "/_local/merchants/{mch_id}/config",
        "Change merchant platform settings (only the fields given); empty lists skip a check",
        update_config,
        {
            "native_callback_url": _S,
            "h5_domains": _LIST,
            "jsapi_directories": _LIST,
            "oauth_domains": _LIST,
            "h5_ip_check": _B,
            "notify_sign_type": _NOTIFY_SIGN_TYPE,
            "h5_wechat_check": _B,
            "h5_one_account_check": _B,
        },
    ),
    Op(
        "GET", "/_local/orders/{mch_id}/{out_trade_no}/refunds", "An order's refunds", order_refunds
    ),
    Op(
        "POST",
        "/_local/scan",
        "A payer scans a code_url: Native mode 1 runs the merchant's scan callback and returns"
        " the prepay_id it answered; mode 2 resolves the order (then pay with /_local/pay)",
        scan,
        {"payer_id": _I, "code_url": _S},
        ("payer_id", "code_url"),
    ),
    Op(
        "POST",
        "/_local/refunds/{refund_id}/outcome",
        "Force a PROCESSING refund to SUCCESS, CHANGE or REFUNDCLOSE (CHANGE → SUCCESS too)",
        force_refund,
        {"refund_status": {"type": "string", "enum": ["SUCCESS", "CHANGE", "REFUNDCLOSE"]}},
        ("refund_status",),
    ),
    Op(
        "POST",
        "/_local/merchants/{mch_id}/refund-notify-url",
        "The merchant platform's refund notification URL (used when a refund names none)",
        set_refund_notify_url,
        {"refund_notify_url": _S},
        ("refund_notify_url",),
    ),
    Op(
        "GET",
        "/_local/openids/{openid}",
        "Which payer (and app) an openid belongs to",
        whose_openid,
    ),
    Op(
        "POST",
        "/_local/payers/{payer_id}/codes",
        "A fresh payment code (auth_code, 18 digits, valid one minute, single use)",
        new_code,
    ),
    Op(
        "GET",
        "/_local/payers/{payer_id}/pending",
        "The payer's micropay orders waiting for the password",
        pending,
    ),
    Op(
        "POST",
        "/_local/payers/{payer_id}/confirm",
        "Answer the password prompt: password (right or wrong), or cancel",
        confirm,
        {"password": _S, "cancel": _B, "card_id": _I, "out_trade_no": _S},
    ),
    Op(
        "POST",
        "/_local/payers/{payer_id}/policy",
        "When micropay asks this payer for the password: platform, always, never",
        set_policy,
        {"password_policy": {"type": "string", "enum": list(micropay.POLICIES)}},
        ("password_policy",),
    ),
    Op(
        "GET",
        "/_local/merchants/{mch_id}/cert",
        "The merchant's API certificate: PEM cert and key, PKCS#12 (base64, password mch_id)",
        get_cert,
    ),
    Op(
        "POST",
        "/_local/merchants/{mch_id}/cert/rotate",
        "Issue a new API certificate; the old one stops working",
        rotate_cert,
        {"valid_days": _I},
    ),
    Op("GET", "/_local/tls/ca", "The platform CA to trust for the HTTPS port", get_ca),
    Op(
        "GET",
        "/_local/reports",
        "交易保障 reports a merchant sent",
        list_reports,
        query=("mch_id", "limit"),
    ),
    Op("GET", "/_local/shorturl/{code}", "Resolve a weixin://wxpay/s/… short URL", resolve_short),
)
