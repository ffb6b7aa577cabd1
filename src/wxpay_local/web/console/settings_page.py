"""Product settings: the merchant platform configuration and the refund notification URL.

The form is built from the ``MerchantConfig`` dataclass (text → input, list → one entry per
line, flag → checkbox), so a setting added there appears here without a template change.
Everything is saved in one transaction: a refused value saves nothing.
"""

from __future__ import annotations

from dataclasses import fields
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from wxpay_local.codes import Rejected
from wxpay_local.domain import merchant_config
from wxpay_local.domain.merchant_config import MerchantConfig
from wxpay_local.web.console.auth import Viewer
from wxpay_local.web.console.choose import Choice, choose, requested_mch_id
from wxpay_local.web.console.common import console_page, form, render
from wxpay_local.web.pages.common import PageError, param

if TYPE_CHECKING:
    from wxpay_local.web.app import AsgiApp

#: Labels of the settings known today; a new one shows its field name until it gets a label.
LABELS = {
    "native_callback_url": ("扫码回调链接", "Native mode 1 scan callback URL"),
    "h5_domains": ("H5支付域名", "H5 payment domains, one per line"),
    "jsapi_directories": (
        "JSAPI支付授权目录",
        "JSAPI payment directories (URL prefixes), one per line",
    ),
    "oauth_domains": ("网页授权域名", "OAuth2 web-authorization domains, one per line"),
    "notify_sign_type": (
        "支付结果通知签名",
        "Payment notification signature: MD5 (every client verifies it), the order's sign type"
        " with a sign_type element, or the order's sign type without one (as captured)",
    ),
}
#: Settings chosen from a list (a select rather than free text).
CHOICES = {"notify_sign_type": merchant_config.NOTIFY_SIGN_TYPES}
REFUND_URL = "refund_notify_url"
MAX_URL = 256


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    return "list" if isinstance(value, tuple) else "text"


def _fields(config: MerchantConfig, typed: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """What the template draws: name, labels, kind, and the value (what was typed on error)."""
    rows = []
    for f in fields(config):
        value = getattr(config, f.name)
        kind = "choice" if f.name in CHOICES else _kind(value)
        shown: Any = "\n".join(value) if kind == "list" else value
        if typed is not None:
            shown = f.name in typed if kind == "bool" else typed.get(f.name, "")
        zh, en = LABELS.get(f.name, (f.name, ""))
        options = CHOICES.get(f.name, ())
        rows.append(
            {"name": f.name, "zh": zh, "en": en, "kind": kind, "value": shown, "options": options}
        )
    return rows


def _changes(values: dict[str, str]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for f in fields(MerchantConfig):
        kind = _kind(getattr(MerchantConfig(), f.name))
        if f.name in CHOICES:
            if f.name in values:  # a select always sends its value; absent keeps the setting
                changes[f.name] = param(values, f.name)
        elif kind == "bool":
            changes[f.name] = f.name in values
        elif kind == "list":
            changes[f.name] = param(values, f.name).splitlines()
        else:
            changes[f.name] = param(values, f.name)
    return changes


async def settings_page(app: AsgiApp, request: Request, viewer: Viewer) -> Response:
    requested = requested_mch_id(request.query_params)

    def work() -> tuple[Choice, MerchantConfig]:
        with app.store.begin(write=False) as tx:
            choice = choose(tx, viewer, requested)
            mch_id = choice.merchant.mch_id if choice.merchant else ""
            return choice, merchant_config.load(tx, mch_id) if mch_id else MerchantConfig()

    choice, config = await app.store.run(work, write=False)
    m = choice.merchant
    return render(
        request,
        "settings.html",
        choice=choice,
        m=m,
        rows=_fields(config),
        refund_url=m.refund_notify_url if m else "",
        error="",
        errors={},
        saved=param(request.query_params, "saved") == "1",
    )


async def save(app: AsgiApp, request: Request, viewer: Viewer) -> Response:
    values = form(request)
    requested = requested_mch_id(values)
    changes = _changes(values)
    refund_url = param(values, REFUND_URL).strip()
    # every bad field at once, each shown beside its field; nothing is saved while any is bad
    errors = merchant_config.problems(changes)
    if refund_url and (
        not refund_url.startswith(("http://", "https://")) or len(refund_url) > MAX_URL
    ):
        errors[REFUND_URL] = f"{REFUND_URL}: {refund_url[:80]!r} is not an http(s) URL"
    if errors:
        return await _refused(app, request, viewer, requested, values, errors)

    def work() -> Choice:
        with app.store.begin() as tx:
            choice = choose(tx, viewer, requested)
            if choice.merchant is None:
                raise PageError(400, "choose a merchant first", "请选择商户")
            if refund_url and (
                not refund_url.startswith(("http://", "https://")) or len(refund_url) > MAX_URL
            ):
                raise ValueError(f"{REFUND_URL}: {refund_url[:80]!r} is not an http(s) URL")
            merchant_config.update(tx, choice.merchant.mch_id, changes)
            tx.set_refund_notify_url(choice.merchant.id, refund_url)
            return choice

    try:
        choice = await app.store.run(work)
    except (Rejected, ValueError) as exc:
        error = exc.err_code_des if isinstance(exc, Rejected) else str(exc)
        return await _refused(app, request, viewer, requested, values, {"": error})
    assert choice.merchant is not None
    return RedirectResponse(f"/console/settings?mch_id={choice.merchant.mch_id}&saved=1", 303)


async def _refused(
    app: AsgiApp,
    request: Request,
    viewer: Viewer,
    requested: str,
    values: dict[str, str],
    errors: dict[str, str],
) -> Response:
    """The form again with what was typed and why it was refused; nothing was saved."""

    def work() -> Choice:
        with app.store.begin(write=False) as tx:
            return choose(tx, viewer, requested)

    choice = await app.store.run(work, write=False)
    return render(
        request,
        "settings.html",
        400,
        choice=choice,
        m=choice.merchant,
        rows=_fields(MerchantConfig(), values),
        refund_url=param(values, REFUND_URL),
        error=", ".join(name or message for name, message in errors.items()),
        errors=errors,
        saved=False,
    )


def routes(app: AsgiApp) -> list[Route]:
    return [
        Route("/console/settings", console_page(app, settings_page), methods=["GET"]),
        Route("/console/settings", console_page(app, save), methods=["POST"]),
    ]
