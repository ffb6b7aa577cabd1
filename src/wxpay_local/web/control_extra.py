"""Control-plane operations for payment codes, the password prompt, certificates and reports.

Imports: domain, web.control, web.certs, web.tls, web.pages.native_mode1, starlette.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse

from wxpay_local.domain import merchant_config, micropay, paycodes, refunds
from wxpay_local.domain.model import LIVE, MerchantCert
from wxpay_local.domain.payer import PayOutcome
from wxpay_local.web import certs, views
from wxpay_local.web import control_openapi as schemas
from wxpay_local.web.control import MCH_ID_PATH, OUT_TRADE_NO_PATH, PAYER_ID
from wxpay_local.web.control_base import (
    ID,
    B,
    Call,
    ControlError,
    Op,
    Param,
    array,
    bad,
    integer,
    not_found,
    one_of,
    text,
)
from wxpay_local.web.pages import native_mode1
from wxpay_local.web.pages.native_mode1 import ScanError

if TYPE_CHECKING:
    from wxpay_local.web.app import App


# payment codes and the password prompt ------------------------------------------------------
async def new_code(app: App, call: Call) -> Any:
    payer_id = call.whole("payer_id")

    def work() -> Any:
        with app.store.begin() as tx:
            if tx.payer(payer_id) is None:
                raise not_found(f"no payer {payer_id}")
            code = paycodes.issue_code(tx, app.clock, app.ids, payer_id)
        return {"auth_code": code.auth_code, "expires_at": views.iso(code.expires_at)}

    return await app.store.run(work)


async def pending(app: App, call: Call) -> Any:
    payer_id = call.whole("payer_id")

    def work() -> Any:
        with app.store.begin(write=False) as tx:
            return [
                views.order_view(o)
                | {"order_id": o.id, "password_deadline": views.iso(o.password_deadline)}
                for o in micropay.waiting_orders(tx, app.clock, payer_id)
            ]

    return {"orders": await app.store.run(work, write=False)}


async def confirm(app: App, call: Call) -> Any:
    """Answer the password prompt of a micropay waiting for this payer (newest by default)."""
    payer_id = call.whole("payer_id")
    if not call.body.get("cancel") and "password" not in call.body:
        raise ControlError(400, "MISSING_FIELD", "give password, or cancel: true")

    def work() -> Any:
        with app.store.begin() as tx:
            waiting = micropay.waiting_orders(tx, app.clock, payer_id)
            wanted = call.body.get("out_trade_no")
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
                password=call.body.get("password"),
                cancel=bool(call.body.get("cancel")),
                card_id=call.body.get("card_id"),
            )
        return {
            "outcome": str(outcome),
            "message": outcome.message,
            "order": None if order is None else views.order_view(order),
        }

    return await app.store.run(work)


async def set_policy(app: App, call: Call) -> Any:
    payer_id = call.whole("payer_id")
    policy = call.body["password_policy"]

    def work() -> Any:
        with app.store.begin() as tx:
            if tx.payer(payer_id) is None:
                raise not_found(f"no payer {payer_id}")
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


async def get_cert(app: App, call: Call) -> Any:
    mch_id = call.text("mch_id")
    ca = await app.store.run(app.certificate_authority)

    def work() -> Any:
        with app.store.begin() as tx:
            merchant = tx.merchant(mch_id, LIVE)
            if merchant is None:
                raise not_found(f"no merchant {mch_id}")
            return certs.current_cert(tx, ca, mch_id, merchant.name, app.clock.now())

    cert = await app.store.run(work)
    return _cert_view(cert, ca.cert_pem, app)


async def rotate_cert(app: App, call: Call) -> Any:
    from datetime import timedelta

    mch_id = call.text("mch_id")
    days = call.body.get("valid_days")
    if days is not None and not 1 <= days <= 3650:
        raise bad("valid_days is between 1 and 3650")
    ca = await app.store.run(app.certificate_authority)

    def work() -> Any:
        with app.store.begin() as tx:
            merchant = tx.merchant(mch_id, LIVE)
            if merchant is None:
                raise not_found(f"no merchant {mch_id}")
            valid = None if days is None else timedelta(days=days)
            return certs.rotate(tx, ca, mch_id, merchant.name, app.clock.now(), valid)

    cert = await app.store.run(work)
    return _cert_view(cert, ca.cert_pem, app)


async def get_ca(app: App, call: Call) -> Any:
    ca = await app.store.run(app.certificate_authority)
    return {"ca.pem": ca.cert_pem, "https_url": app.settings.tls_base_url}


# reports and short URLs ----------------------------------------------------------------------
async def list_reports(app: App, call: Call) -> Any:
    mch_id, limit = call.text("mch_id"), min(call.whole("limit"), 500)

    def work() -> Any:
        with app.store.begin(write=False) as tx:
            return tx.reports(mch_id, limit)

    return {"reports": await app.store.run(work, write=False)}


async def resolve_short(app: App, call: Call) -> Any:
    code = call.text("code")

    def work() -> Any:
        with app.store.begin(write=False) as tx:
            return tx.long_url_of(code)

    long_url = await app.store.run(work, write=False)
    if long_url is None:
        raise not_found(f"no short URL {code}")
    return {"short_url": f"weixin://wxpay/s/{code}", "long_url": long_url}


async def whose_openid(app: App, call: Call) -> Any:
    openid = call.text("openid")

    def work() -> Any:
        with app.store.begin(write=False) as tx:
            return tx.payer_by_openid(openid)

    found = await app.store.run(work, write=False)
    if found is None:
        raise not_found(f"no payer has openid {openid}")
    return {"payer_id": found[0].id, "name": found[0].name, "appid": found[1]}


# refunds --------------------------------------------------------------------------------------
async def order_refunds(app: App, call: Call) -> Any:
    mch_id, out_trade_no = call.text("mch_id"), call.text("out_trade_no")

    def work() -> Any:
        with app.store.begin() as tx:
            merchant = tx.merchant(mch_id, LIVE)
            order = (
                None if merchant is None else tx.order_by_out_trade_no(merchant.id, out_trade_no)
            )
            if order is None:
                raise not_found(f"no order {out_trade_no} at {mch_id}")
            refunds.settle_order(tx, app.clock, app.ids, order.id)
            return [views.refund_view(r) for r in tx.refunds_of(order.id)]

    return {"refunds": await app.store.run(work)}


async def force_refund(app: App, call: Call) -> Any:
    """Decide a PROCESSING refund's outcome now (CHANGE → SUCCESS: handled by hand)."""
    refund_id = call.text("refund_id")

    def work() -> Any:
        with app.store.begin() as tx:
            refund = tx.refund_by_any_id(refund_id)
            if refund is None:
                raise not_found(f"no refund {refund_id}")
            done = refunds.finish(tx, app.ids, refund, call.body["refund_status"], app.clock.now())
            return views.refund_view(done)

    answer = await app.store.run(work)
    app.dispatcher.wake()
    return answer


async def set_refund_notify_url(app: App, call: Call) -> Any:
    mch_id = call.text("mch_id")
    url = call.body["refund_notify_url"]
    if url and not url.startswith(("http://", "https://")):
        raise bad("refund_notify_url is an http(s) URL or empty")

    def work() -> Any:
        with app.store.begin() as tx:
            merchant = tx.merchant(mch_id, LIVE)
            if merchant is None:
                raise not_found(f"no merchant {mch_id}")
            tx.set_refund_notify_url(merchant.id, url)
        return {"mch_id": mch_id, "refund_notify_url": url}

    return await app.store.run(work)


async def get_config(app: App, call: Call) -> Any:
    mch_id = call.text("mch_id")

    def work() -> Any:
        with app.store.begin(write=False) as tx:
            if tx.merchant(mch_id, LIVE) is None:
                raise not_found(f"no merchant {mch_id}")
            return merchant_config.load(tx, mch_id).as_json()

    return await app.store.run(work, write=False)


async def update_config(app: App, call: Call) -> Any:
    mch_id = call.text("mch_id")

    def work() -> Any:
        with app.store.begin() as tx:
            if tx.merchant(mch_id, LIVE) is None:
                raise not_found(f"no merchant {mch_id}")
            return merchant_config.update(tx, mch_id, call.body).as_json()

    return await app.store.run(work)


async def scan(app: App, call: Call) -> Any:
    """A payer scans a code_url: mode 1 runs the merchant's scan callback (spec §6.3)."""
    try:
        scanned = await native_mode1.scan(app, call.body["payer_id"], call.body["code_url"])
    except ScanError as exc:
        return JSONResponse(exc.as_json(), exc.status)
    return {
        "mode": scanned.mode,
        "merchant": scanned.merchant_name,
        "prepay_id": scanned.order.prepay_id,
        "order": views.order_view(scanned.order),
    }


_MCH = (MCH_ID_PATH,)
_HOSTS = array(text(256), 20)

EXTRA_OPS: tuple[Op, ...] = (
    Op(
        "GET",
        "/_local/merchants/{mch_id}/config",
        "The merchant platform settings: Native callback, H5 domains, JSAPI directories, OAuth",
        get_config,
        params=_MCH,
        response=schemas.CONFIG,
    ),
    Op(
        "POST",
        "/_local/merchants/{mch_id}/config",
        "Change merchant platform settings (only the fields given); empty lists skip a check",
        update_config,
        {
            "native_callback_url": text(256),
            "h5_domains": _HOSTS,
            "jsapi_directories": _HOSTS,
            "oauth_domains": _HOSTS,
            "h5_ip_check": B,
            "h5_wechat_check": B,
            "h5_one_account_check": B,
        },
        params=_MCH,
        response=schemas.CONFIG,
    ),
    Op(
        "GET",
        "/_local/orders/{mch_id}/{out_trade_no}/refunds",
        "An order's refunds (settling those that are due)",
        order_refunds,
        params=(MCH_ID_PATH, OUT_TRADE_NO_PATH),
        response=schemas.listing("refunds", schemas.REFUND),
    ),
    Op(
        "POST",
        "/_local/scan",
        "A payer scans a code_url: Native mode 1 runs the merchant's scan callback and returns"
        " the prepay_id it answered; mode 2 resolves the order (then pay with /_local/pay)",
        scan,
        {"payer_id": ID, "code_url": text(512, 1)},
        ("payer_id", "code_url"),
        errors=(404, 409, 424),
        response=schemas.obj(
            mode={"type": "integer"},
            merchant={"type": "string"},
            prepay_id={"type": "string"},
            order=schemas.ORDER,
        ),
    ),
    Op(
        "POST",
        "/_local/refunds/{refund_id}/outcome",
        "Force a PROCESSING refund to SUCCESS, CHANGE or REFUNDCLOSE (CHANGE → SUCCESS too)",
        force_refund,
        {"refund_status": one_of("SUCCESS", "CHANGE", "REFUNDCLOSE")},
        ("refund_status",),
        response=schemas.REFUND,
    ),
    Op(
        "POST",
        "/_local/merchants/{mch_id}/refund-notify-url",
        "The merchant platform's refund notification URL (used when a refund names none)",
        set_refund_notify_url,
        {"refund_notify_url": text(256)},
        ("refund_notify_url",),
        params=_MCH,
        response=schemas.obj(mch_id={"type": "string"}, refund_notify_url={"type": "string"}),
    ),
    Op(
        "GET",
        "/_local/openids/{openid}",
        "Which payer (and app) an openid belongs to",
        whose_openid,
        response=schemas.obj(
            payer_id={"type": "integer"}, name={"type": "string"}, appid={"type": "string"}
        ),
    ),
    Op(
        "POST",
        "/_local/payers/{payer_id}/codes",
        "A fresh payment code (auth_code, 18 digits, valid one minute, single use)",
        new_code,
        params=(PAYER_ID,),
        response=schemas.obj(auth_code={"type": "string"}, expires_at={"type": "string"}),
    ),
    Op(
        "GET",
        "/_local/payers/{payer_id}/pending",
        "The payer's micropay orders waiting for the password",
        pending,
        params=(PAYER_ID,),
        response=schemas.listing("orders", schemas.PENDING_ORDER),
    ),
    Op(
        "POST",
        "/_local/payers/{payer_id}/confirm",
        "Answer the password prompt: password (right or wrong), or cancel",
        confirm,
        {"password": text(64), "cancel": B, "card_id": ID, "out_trade_no": text(64)},
        params=(PAYER_ID,),
        at_least_one=(("password", "cancel"),),
        response=schemas.PAY_RESULT,
    ),
    Op(
        "POST",
        "/_local/payers/{payer_id}/policy",
        "When micropay asks this payer for the password: platform, always, never",
        set_policy,
        {"password_policy": one_of(*micropay.POLICIES)},
        ("password_policy",),
        params=(PAYER_ID,),
        response=schemas.obj(payer_id={"type": "integer"}, password_policy={"type": "string"}),
    ),
    Op(
        "GET",
        "/_local/merchants/{mch_id}/cert",
        "The merchant's API certificate: PEM cert and key, PKCS#12 (base64, password mch_id)",
        get_cert,
        params=_MCH,
        response=schemas.CERT,
    ),
    Op(
        "POST",
        "/_local/merchants/{mch_id}/cert/rotate",
        "Issue a new API certificate; the old one stops working",
        rotate_cert,
        {"valid_days": integer(1, 3650)},
        params=_MCH,
        response=schemas.CERT,
    ),
    Op(
        "GET",
        "/_local/tls/ca",
        "The platform CA to trust for the HTTPS port",
        get_ca,
        response=schemas.obj(**{"ca.pem": {"type": "string"}, "https_url": {"type": "string"}}),
    ),
    Op(
        "GET",
        "/_local/reports",
        "交易保障 reports a merchant sent",
        list_reports,
        params=(Param("mch_id", text(32)), Param("limit", integer(0), default=50)),
        response=schemas.listing("reports", schemas.REPORT),
    ),
    Op(
        "GET",
        "/_local/shorturl/{code}",
        "Resolve a weixin://wxpay/s/… short URL",
        resolve_short,
        response=schemas.obj(short_url={"type": "string"}, long_url={"type": "string"}),
    ),
)
