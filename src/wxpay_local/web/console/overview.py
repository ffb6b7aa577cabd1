"""The console's first page: who you are, your merchants and apps, the platform clock."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from wxpay_local.domain.model import LIVE
from wxpay_local.timefmt import SHANGHAI, display_time
from wxpay_local.web.console.auth import Viewer
from wxpay_local.web.console.common import render

if TYPE_CHECKING:
    from wxpay_local.web.app import AsgiApp


async def overview(app: AsgiApp, request: Request, viewer: Viewer) -> Response:
    def work() -> list[dict[str, Any]]:
        with app.store.begin(write=False) as tx:
            merchants = (
                tx.merchants()
                if viewer.is_operator
                else [m for m in [tx.merchant(viewer.mch_id, LIVE)] if m is not None]
            )
            return [
                {
                    "mch_id": m.mch_id,
                    "name": m.name,
                    "fee_rate": f"{m.fee_rate_ppm / 10_000:.2f}%",
                    "apps": [{"appid": a.appid, "kind": str(a.kind)} for a in tx.apps_of(m.mch_id)],
                }
                for m in merchants
                if m.env == LIVE
            ]

    merchants = await app.store.run(work, write=False)
    now = app.clock.now().astimezone(SHANGHAI)
    return render(
        request,
        "overview.html",
        merchants=merchants,
        now=display_time(now),
        clock_shifted=app.clock.offset.total_seconds() != 0 or app.clock.frozen is not None,
    )
