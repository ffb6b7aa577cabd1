"""Control-plane operations on a merchant's account: the API key, API certificates and the
platform CA, platform settings (Native callback, H5, JSAPI, OAuth), refund notifications and
outcomes.
"""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from wxpay_local.domain import merchant_config, refunds, setup
from wxpay_local.domain.model import LIVE, MerchantCert
from wxpay_local.web import certs, views
from wxpay_local.web import control_openapi as schemas
from wxpay_local.web.control_base import (
    MCH_ID_PATH,
    OUT_TRADE_NO_PATH,
    B,
    Call,
    Op,
    array,
    bad,
    integer,
    live_order,
    not_found,
    one_of,
    text,
)

if TYPE_CHECKING:
    from wxpay_local.web.app import AsgiApp


# the API key ---------------------------------------------------------------------------------
async def rotate_key(app: AsgiApp, call: Call) -> Any:
    """A new API key, as the console's "rotate" gives one: the old key is refused from the
    commit on, by every process (the identity version it bumps is checked before each request:
    ``store.identity``)."""
    mch_id = call.text("mch_id")

    def work() -> Any:
        with app.store.begin() as tx:
            if tx.merchant(mch_id, LIVE) is None:
                raise not_found(f"no merchant {mch_id}")
            merchant = setup.rotate_api_key(tx, app.ids, mch_id, app.clock.now())
        return {"mch_id": merchant.mch_id, "api_key": merchant.api_key}

    return await app.store.run(work)


# certificates ---------------------------------------------------------------------------------
def _cert_view(cert: MerchantCert, ca_pem: str, app: AsgiApp) -> dict[str, Any]:
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


async def get_cert(app: AsgiApp, call: Call) -> Any:
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


async def rotate_cert(app: AsgiApp, call: Call) -> Any:
    mch_id = call.text("mch_id")
    days = call.body.get("valid_days")  # 1 to 3650: the declaration below checked it
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


async def get_ca(app: AsgiApp, call: Call) -> Any:
    ca = await app.store.run(app.certificate_authority)
    return {"ca.pem": ca.cert_pem, "https_url": app.settings.tls_base_url}


# refunds --------------------------------------------------------------------------------------
async def order_refunds(app: AsgiApp, call: Call) -> Any:
    mch_id, out_trade_no = call.text("mch_id"), call.text("out_trade_no")

    def work() -> Any:
        # A read: due refunds are settled by the dispatcher (and by refundquery), not here.
        with app.store.begin(write=False) as tx:
            order = live_order(tx, mch_id, out_trade_no)
            return [views.refund_view(r) for r in tx.refunds_of(order.id)]

    return {"refunds": await app.store.run(work, write=False)}


async def force_refund(app: AsgiApp, call: Call) -> Any:
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


async def set_refund_notify_url(app: AsgiApp, call: Call) -> Any:
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


async def get_config(app: AsgiApp, call: Call) -> Any:
    mch_id = call.text("mch_id")

    def work() -> Any:
        with app.store.begin(write=False) as tx:
            if tx.merchant(mch_id, LIVE) is None:
                raise not_found(f"no merchant {mch_id}")
            return merchant_config.load(tx, mch_id).as_json()

    return await app.store.run(work, write=False)


async def update_config(app: AsgiApp, call: Call) -> Any:
    mch_id = call.text("mch_id")

    def work() -> Any:
        with app.store.begin() as tx:
            if tx.merchant(mch_id, LIVE) is None:
                raise not_found(f"no merchant {mch_id}")
            return merchant_config.update(tx, mch_id, call.body).as_json()

    return await app.store.run(work)


_MCH = (MCH_ID_PATH,)
_HOSTS = array(text(256), 20)

MERCHANT_OPS: tuple[Op, ...] = (
    Op(
        "GET",
        "/_local/merchants/{mch_id}/config",
        "The merchant platform settings: Native callback, H5 domains, JSAPI directories, OAuth,"
        " how payment notifications are signed",
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
            "notify_sign_type": one_of(*merchant_config.NOTIFY_SIGN_TYPES),
            "h5_wechat_check": B,
            "h5_one_account_check": B,
        },
        params=_MCH,
        response=schemas.CONFIG,
    ),
    Op(
        "GET",
        "/_local/orders/{mch_id}/{out_trade_no}/refunds",
        "An order's refunds as they are stored (the dispatcher settles due ones)",
        order_refunds,
        params=(MCH_ID_PATH, OUT_TRADE_NO_PATH),
        response=schemas.listing("refunds", schemas.REFUND),
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
        "POST",
        "/_local/merchants/{mch_id}/key",
        "Give the merchant a new API key (answered); the old one is refused from now on",
        rotate_key,
        params=_MCH,
        response=schemas.obj(mch_id={"type": "string"}, api_key={"type": "string"}),
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
)
