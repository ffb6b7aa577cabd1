"""API security: the API key (masked, reveal, rotate), the API certificate (status, download,
rotate) and the merchant's apps.

Rotations are POSTs behind a confirmation page, then a redirect back (no resubmission on
reload). Certificate work reuses ``web.certs``, the code behind ``/_local/merchants/…/cert``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from wxpay_local.codes import Rejected
from wxpay_local.domain import setup
from wxpay_local.domain.model import Merchant, MerchantCert
from wxpay_local.timefmt import display_time
from wxpay_local.web import certs
from wxpay_local.web.console.auth import Viewer
from wxpay_local.web.console.choose import Choice, choose, requested_mch_id
from wxpay_local.web.console.common import console_page, form, render
from wxpay_local.web.pages.common import PageError, param

if TYPE_CHECKING:
    from wxpay_local.web.app import AsgiApp

#: The files a merchant downloads, as the platform names them, and their content types.
FILES: dict[str, str] = {
    "apiclient_cert.pem": "application/x-pem-file",
    "apiclient_key.pem": "application/x-pem-file",
    "apiclient_cert.p12": "application/x-pkcs12",
    "rootca.pem": "application/x-pem-file",
}
FLASHES = {
    "key": "新的 API 密钥已生效，旧密钥立即失效。 The new API key is live; the old one is refused.",
    "cert": "新证书已签发，旧证书已吊销。 A new certificate is live; the old one is revoked.",
}


def mask(secret: str) -> str:
    """Enough to recognise a key by, not enough to use it."""
    return "•" * max(len(secret) - 4, 0) + secret[-4:]


def _when(moment: Any) -> str:
    return display_time(moment)


def _cert_row(cert: MerchantCert, now: Any) -> dict[str, str]:
    if cert.revoked_at is not None:
        status, badge = "revoked 已吊销", "fail"
    elif cert.not_after < now:
        status, badge = "expired 已过期", "fail"
    elif cert.not_before > now:
        status, badge = "not yet valid 未生效", "warn"
    else:
        status, badge = "current 使用中", "ok"
    return {
        "serial": cert.serial,
        "not_before": _when(cert.not_before),
        "not_after": _when(cert.not_after),
        "revoked_at": _when(cert.revoked_at),
        "status": status,
        "badge": badge,
    }


def _query(merchant: Merchant, **extra: str) -> str:
    return "?" + urlencode({"mch_id": merchant.mch_id, **extra})


async def keys_page(app: AsgiApp, request: Request, viewer: Viewer) -> Response:
    requested = requested_mch_id(request.query_params)
    now = app.clock.now()

    def work() -> tuple[Choice, list[dict[str, str]], list[dict[str, str]]]:
        with app.store.begin(write=False) as tx:
            choice = choose(tx, viewer, requested)
            if choice.merchant is None:
                return choice, [], []
            mch_id = choice.merchant.mch_id
            rows = [_cert_row(c, now) for c in tx.merchant_certs(mch_id)]
            apps = [
                {"appid": a.appid, "kind": str(a.kind), "name": a.name, "secret": a.secret}
                for a in tx.apps_of(mch_id)
            ]
            return choice, rows, apps

    choice, cert_rows, apps = await app.store.run(work, write=False)
    flash = FLASHES.get(param(request.query_params, "rotated"), "")
    m = choice.merchant
    return render(
        request,
        "keys.html",
        choice=choice,
        m=m,
        masked_key=mask(m.api_key) if m else "",
        certs=cert_rows,
        apps=[a | {"masked": mask(a["secret"])} for a in apps],
        flash=flash,
        reveal=bool(flash) and param(request.query_params, "rotated") == "key",
        files=list(FILES),
        q=_query(m) if m else "",
        https_url=app.settings.tls_base_url,
    )


def _what(request: Request) -> str:
    what = str(request.path_params["what"])
    if what not in FLASHES:
        raise PageError(404, f"nothing called {what[:20]} to rotate", "找不到")
    return what


async def confirm_page(app: AsgiApp, request: Request, viewer: Viewer) -> Response:
    what = _what(request)
    requested = requested_mch_id(request.query_params)

    def work() -> Choice:
        with app.store.begin(write=False) as tx:
            return choose(tx, viewer, requested)

    choice = await app.store.run(work, write=False)
    if choice.merchant is None:
        raise PageError(400, "choose a merchant first", "请选择商户")
    return render(request, "keys_confirm.html", what=what, m=choice.merchant)


async def rotate(app: AsgiApp, request: Request, viewer: Viewer) -> Response:
    what = _what(request)
    values = form(request)
    requested = requested_mch_id(values)
    if param(values, "confirm") != "yes":
        raise PageError(400, "the rotation was not confirmed", "未确认")
    ca = await app.store.run(app.certificate_authority)

    def work() -> Merchant:
        with app.store.begin() as tx:
            merchant = choose(tx, viewer, requested).merchant
            if merchant is None:
                raise PageError(400, "choose a merchant first", "请选择商户")
            if what == "key":
                return setup.rotate_api_key(tx, app.ids, merchant.mch_id, app.clock.now())
            certs.rotate(tx, ca, merchant.mch_id, merchant.name, app.clock.now())
            return merchant

    try:
        merchant = await app.store.run(work)
    except Rejected as exc:
        raise PageError(400, exc.err_code_des) from None
    return RedirectResponse("/console/keys" + _query(merchant, rotated=what), 303)


async def download(app: AsgiApp, request: Request, viewer: Viewer) -> Response:
    name = request.path_params["name"]
    if name not in FILES:
        raise PageError(404, f"no file {name[:40]}", "找不到")
    requested = requested_mch_id(request.query_params)
    ca = await app.store.run(app.certificate_authority)

    def work() -> MerchantCert:
        with app.store.begin() as tx:  # the first download issues the first certificate
            merchant = choose(tx, viewer, requested).merchant
            if merchant is None:
                raise PageError(400, "choose a merchant first", "请选择商户")
            return certs.current_cert(tx, ca, merchant.mch_id, merchant.name, app.clock.now())

    cert = await app.store.run(work)
    if name == "apiclient_cert.p12":
        body = certs.p12(cert, ca.cert_pem)
    else:
        pem = {"apiclient_cert.pem": cert.cert_pem, "apiclient_key.pem": cert.key_pem}
        body = pem.get(name, ca.cert_pem).encode()
    headers = {
        "content-disposition": f'attachment; filename="{name}"',
        "cache-control": "no-store",
    }
    return Response(body, media_type=FILES[name], headers=headers)


def routes(app: AsgiApp) -> list[Route]:
    return [
        Route("/console/keys", console_page(app, keys_page), methods=["GET"]),
        Route("/console/keys/files/{name}", console_page(app, download), methods=["GET"]),
        Route("/console/keys/rotate/{what}", console_page(app, confirm_page), methods=["GET"]),
        Route("/console/keys/rotate/{what}", console_page(app, rotate), methods=["POST"]),
    ]
