"""支付通知: the notification outbox (filters, keyset pages, attempts) and the resend button.

Resend does what the control plane's redeliver does: the notification goes back to pending, due
now, and the dispatcher is woken; its content is unchanged and the delivery is a new attempt of
the same notification (never a new notification).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from wxpay_local.web.console import listing, timeline
from wxpay_local.web.console.auth import Viewer
from wxpay_local.web.console.common import console_page, form, render, require_visible
from wxpay_local.web.pages.common import MAX_ID, PageError, param

if TYPE_CHECKING:
    from wxpay_local.web.app import AsgiApp

KINDS = ("payment", "refund")
#: What a person filters by; "failed" is the outbox's ``exhausted`` (every retry used).
STATUSES = {"delivered": "delivered", "pending": "pending", "failed": "exhausted"}


async def notifications(app: AsgiApp, request: Request, viewer: Viewer) -> Response:
    values = request.query_params
    page = listing.keyset(values)
    kind = listing.choice(values, "kind", KINDS)
    status = listing.choice(values, "status", tuple(STATUSES))

    def work() -> list[dict[str, Any]]:
        with app.store.begin(write=False) as tx:
            merchants = listing.merchants_in_scope(tx, viewer, values)
            if not merchants:
                return []
            every = viewer.is_operator and not param(values, "mch_id").strip()
            one = None if every else merchants[0].id
            found = tx.console_notifications(one, page, kind, STATUSES.get(status, ""))
            attempts = tx.attempts_of([n.id for n, _, _ in found])
            return [
                {
                    **timeline.notification_card(n, attempts[n.id]),
                    "mch_id": mch_id,
                    "out_trade_no": out_trade_no,
                    "cursor": f"{listing.millis(n.created_at)}_{n.id}",
                }
                for n, mch_id, out_trade_no in found
            ]

    found = await app.store.run(work, write=False)
    shown, links = listing.pager(request.url.path, values, page, found, lambda r: r["cursor"])
    flash = timeline.resent_flash(request, shown)
    return render(
        request,
        "notifications.html",
        notifications=shown,
        pages=links,
        kinds=KINDS,
        statuses=tuple(STATUSES),
        flash=flash,
        resent=param(values, "resent"),
        here=str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""),
        filters=listing.filters_of(values, "kind", "status", "from", "to", "mch_id"),
    )


def _back(target: str) -> str:
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/console/") or "//" in target:
        return "/console/notifications"
    return target


async def resend(app: AsgiApp, request: Request, viewer: Viewer) -> Response:
    text = param(request.path_params, "notification_id")
    if not (text.isascii() and text.isdigit()) or int(text) > MAX_ID:
        raise PageError(404, f"no notification {text}", "找不到通知")
    notification_id = int(text)

    def work() -> int:
        with app.store.begin() as tx:
            found = tx.notification(notification_id)
            if found is None:
                raise PageError(404, f"no notification {notification_id}", "找不到通知")
            require_visible(viewer, tx.merchant_by_id(found.merchant_id).mch_id)
            tx.requeue_notification(notification_id, app.clock.now())
            return found.attempts

    had = await app.store.run(work)
    app.dispatcher.wake()
    back = urlsplit(_back(param(form(request), "next")))
    kept = [(k, v) for k, v in parse_qsl(back.query) if k not in ("resent", "had", "wait")]
    query = urlencode([*kept, ("resent", str(notification_id)), ("had", str(had))])
    return RedirectResponse(f"{back.path}?{query}#n{notification_id}", 303)


def routes(app: AsgiApp) -> list[Route]:
    return [
        Route("/console/notifications", console_page(app, notifications), methods=["GET"]),
        Route(
            "/console/notifications/{notification_id}/resend",
            console_page(app, resend),
            methods=["POST"],
        ),
    ]
