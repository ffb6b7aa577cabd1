"""Control-plane lookups: 交易保障 reports, short URLs, whose an openid is."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wxpay_local.web import control_openapi as schemas
from wxpay_local.web.control_base import (
    Call,
    Op,
    Param,
    integer,
    not_found,
    text,
)

if TYPE_CHECKING:
    from wxpay_local.web.app import AsgiApp


# reports and short URLs ----------------------------------------------------------------------
async def list_reports(app: AsgiApp, call: Call) -> Any:
    mch_id, limit = call.text("mch_id"), min(call.whole("limit"), 500)

    def work() -> Any:
        with app.store.begin(write=False) as tx:
            return tx.reports(mch_id, limit)

    return {"reports": await app.store.run(work, write=False)}


async def resolve_short(app: AsgiApp, call: Call) -> Any:
    code = call.text("code")

    def work() -> Any:
        with app.store.begin(write=False) as tx:
            return tx.long_url_of(code)

    long_url = await app.store.run(work, write=False)
    if long_url is None:
        raise not_found(f"no short URL {code}")
    return {"short_url": f"weixin://wxpay/s/{code}", "long_url": long_url}


async def whose_openid(app: AsgiApp, call: Call) -> Any:
    openid = call.text("openid")

    def work() -> Any:
        with app.store.begin(write=False) as tx:
            return tx.payer_by_openid(openid)

    found = await app.store.run(work, write=False)
    if found is None:
        raise not_found(f"no payer has openid {openid}")
    return {"payer_id": found[0].id, "name": found[0].name, "appid": found[1]}


LOOKUP_OPS: tuple[Op, ...] = (
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
