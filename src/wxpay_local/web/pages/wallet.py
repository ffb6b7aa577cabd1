"""The payer's wallet page: balance, cards, openids and a live payment code (付款码) for micropay.

The code is issued by ``domain.paycodes.issue_code`` (18 digits, single use, short-lived) and
shown as digits and a QR code. Payment history and the password setting are not here yet.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import segno
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from wxpay_local.domain import ledger, paycodes
from wxpay_local.web.pages.common import (
    PAYER_LIST_LIMIT,
    PageError,
    form_of,
    int_param,
    page,
    render,
)

if TYPE_CHECKING:
    from wxpay_local.web.app import App


async def wallet(app: App, request: Request) -> Response:
    payer_id = int_param(request.query_params, "payer_id")

    def work() -> dict[str, Any]:
        with app.store.begin(write=False) as tx:
            if payer_id is None:
                return {
                    "payer": None,
                    "payers": [
                        {"payer_id": p.id, "name": p.name} for p in tx.payers()[:PAYER_LIST_LIMIT]
                    ],
                }
            payer = tx.payer(payer_id)
            if payer is None:
                raise PageError(404, f"no payer {payer_id}", "用户不存在")
            return {
                "payers": [],
                "payer": {
                    "payer_id": payer.id,
                    "name": payer.name,
                    "balance": tx.balance(ledger.wallet(payer.id)),
                    "cards": [
                        {"bank_type": c.bank_type, "last4": c.last4} for c in tx.cards_of(payer.id)
                    ],
                    "openids": sorted(tx.openids_of(payer.id).items()),
                },
            }

    return render("wallet.html", **await app.store.run(work, write=False))


async def paycode(app: App, request: Request) -> Response:
    payer_id = int_param(await form_of(request), "payer_id")
    if payer_id is None:
        raise PageError(400, "payer_id is required")

    def work() -> dict[str, Any]:
        with app.store.begin() as tx:
            payer = tx.payer(payer_id)
            if payer is None:
                raise PageError(404, f"no payer {payer_id}", "用户不存在")
            code = paycodes.issue_code(tx, app.clock, app.ids, payer_id)
            return {
                "payer": {"payer_id": payer.id, "name": payer.name},
                "auth_code": code.auth_code,
                "expires_at": code.expires_at.strftime("%H:%M:%S"),
            }

    context = await app.store.run(work)
    svg = segno.make_qr(context["auth_code"], error="m").svg_inline(
        scale=6, border=2, omitsize=True, title=context["auth_code"], svgclass="qr", lineclass=None
    )
    return render("paycode.html", svg=svg, **context)


def routes(app: App) -> list[Route]:
    return [
        Route("/wallet", page(app, wallet), methods=["GET"]),
        Route("/wallet/paycode", page(app, paycode), methods=["POST"]),
    ]
