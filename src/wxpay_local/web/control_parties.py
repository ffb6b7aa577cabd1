"""Control-plane operations on the platform's parties: merchants (with their apps) and payers
(wallet, password, cards, openids).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wxpay_local.codes import AppKind
from wxpay_local.domain import setup
from wxpay_local.domain.model import LIVE
from wxpay_local.web import control_openapi as schemas
from wxpay_local.web import views
from wxpay_local.web.control_base import (
    ID,
    MCH_ID,
    MCH_ID_PATH,
    PAYER_ID,
    Call,
    Op,
    Param,
    array,
    integer,
    not_found,
    one_of,
    text,
)

if TYPE_CHECKING:
    from wxpay_local.web.app import AsgiApp

#: The most payers one page returns; a larger limit is cut to it.
MAX_PAGE = 500
_NAME = text(256)
_APPID = text(64)


# merchants -----------------------------------------------------------------------------------
async def create_merchant(app: AsgiApp, call: Call) -> Any:
    data = call.body
    kinds = data.get("app_kinds")
    spec = setup.NewMerchant(
        name=data.get("name", "Demo merchant"),
        mch_id=data.get("mch_id"),
        api_key=data.get("api_key"),
        fee_rate_ppm=data.get("fee_rate_ppm", 6000),
        console_password=data.get("console_password"),
        app_kinds=None if kinds is None else tuple(AppKind(k) for k in kinds),
        appids=tuple(data.get("appids", ())),
    )

    def work() -> Any:
        with app.store.begin() as tx:
            created = setup.create_merchant(tx, app.ids, spec)
            return views.merchant_view(created.merchant, created.apps)

    return await app.store.run(work)


async def list_merchants(app: AsgiApp, call: Call) -> Any:
    """A keyset page in creation order: two statements however many merchants there are."""
    limit, after = min(call.whole("limit"), MAX_PAGE), call.opt("after")

    def work() -> Any:
        with app.store.begin(write=False) as tx:
            cursor = None
            if after:  # the page after this merchant (by mch_id, as the list shows them)
                last = tx.merchant(after, LIVE)
                if last is None:
                    raise not_found(f"no merchant {after}")
                cursor = last.id
            found = tx.merchant_page(LIVE, limit, cursor)
            apps = tx.apps_of_merchants([m.mch_id for m in found])
            return [views.merchant_view(m, apps[m.mch_id]) for m in found]

    return {"merchants": await app.store.run(work, write=False)}


async def get_merchant(app: AsgiApp, call: Call) -> Any:
    mch_id = call.text("mch_id")

    def work() -> Any:
        with app.store.begin(write=False) as tx:
            merchant = tx.merchant(mch_id, LIVE)
            if merchant is None:
                raise not_found(f"no merchant {mch_id}")
            return views.merchant_view(merchant, tx.apps_of(mch_id))

    return await app.store.run(work, write=False)


# payers --------------------------------------------------------------------------------------
async def create_payer(app: AsgiApp, call: Call) -> Any:
    data = call.body
    spec = setup.NewPayer(
        name=data.get("name", "Demo payer"),
        balance=data.get("balance", 0),
        pay_password=data.get("pay_password", "123456"),
        cards=tuple(data.get("cards", ())),
    )

    def work() -> Any:
        with app.store.begin() as tx:
            appid = data.get("appid")
            if appid and tx.app(appid) is None:
                raise not_found(f"no app {appid}")
            created = setup.create_payer(tx, app.clock, app.ids, spec)
            if appid:
                setup.openid_for(tx, app.ids, created.payer.id, appid)
            return views.payer_view(tx, created.payer.id)

    return await app.store.run(work)


async def get_payer(app: AsgiApp, call: Call) -> Any:
    """A read: the openids the payer has (issuing one is ``POST …/openids``)."""
    payer_id = call.whole("payer_id")

    def work() -> Any:
        with app.store.begin(write=False) as tx:
            found = views.payer_view(tx, payer_id)
            if found is None:
                raise not_found(f"no payer {payer_id}")
            return found

    return await app.store.run(work, write=False)


async def issue_openid(app: AsgiApp, call: Call) -> Any:
    """The payer's openid under an app, issued on first use (stable afterwards)."""
    payer_id, appid = call.whole("payer_id"), call.body["appid"]

    def work() -> Any:
        with app.store.begin() as tx:
            if tx.payer(payer_id) is None:
                raise not_found(f"no payer {payer_id}")
            if tx.app(appid) is None:
                raise not_found(f"no app {appid}")
            return {"appid": appid, "openid": setup.openid_for(tx, app.ids, payer_id, appid)}

    return await app.store.run(work)


async def list_payers(app: AsgiApp, call: Call) -> Any:
    """A keyset page in creation order: four statements however many payers there are."""
    limit, after = min(call.whole("limit"), MAX_PAGE), call.opt_whole("after_id")

    def work() -> Any:
        with app.store.begin(write=False) as tx:
            return [views.profile_view(p) for p in tx.payer_profiles(tx.payers(limit, after))]

    return {"payers": await app.store.run(work, write=False)}


async def top_up(app: AsgiApp, call: Call) -> Any:
    payer_id, amount = call.whole("payer_id"), call.body["amount"]

    def work() -> Any:
        with app.store.begin() as tx:
            if tx.payer(payer_id) is None:
                raise not_found(f"no payer {payer_id}")
            ref = "topup-" + app.ids.nonce(12)
            return {"balance": setup.top_up(tx, app.clock, payer_id, amount, ref)}

    return await app.store.run(work)


PARTY_OPS: tuple[Op, ...] = (
    Op(
        "POST",
        "/_local/merchants",
        "Create a merchant with one app of each kind (or app_kinds)",
        create_merchant,
        {
            "name": _NAME,
            "mch_id": MCH_ID,
            "api_key": text(32, 32),
            "fee_rate_ppm": integer(0, 1_000_000),
            "console_password": text(128, 1),
            "app_kinds": array(one_of(*AppKind), 3),
            "appids": array(text(64, 1), 3),
        },
        response=schemas.MERCHANT,
    ),
    Op(
        "GET",
        "/_local/merchants",
        "Merchants with their keys and apps in creation order, a page at a time",
        list_merchants,
        params=(
            Param("limit", integer(0), default=100, description=f"at most {MAX_PAGE}"),
            Param("after", MCH_ID, description="the page after this mch_id (the last one seen)"),
        ),
        errors=(404,),
        response=schemas.listing("merchants", schemas.MERCHANT),
    ),
    Op(
        "GET",
        "/_local/merchants/{mch_id}",
        "One merchant",
        get_merchant,
        params=(MCH_ID_PATH,),
        response=schemas.MERCHANT,
    ),
    Op(
        "POST",
        "/_local/payers",
        "Create a payer: wallet balance (fen), password, cards (bank types, e.g. CMB_CREDIT)",
        create_payer,
        {
            "name": _NAME,
            "balance": integer(),
            "pay_password": text(6, 6, r"^[0-9]{6}$"),
            "appid": _APPID,
            "cards": array(text(32, 1)),
        },
        errors=(404,),
        response=schemas.PAYER,
    ),
    Op(
        "GET",
        "/_local/payers",
        "Payers in creation order, a page at a time (after_id: the last payer_id seen)",
        list_payers,
        params=(
            Param("limit", integer(0), default=100, description=f"at most {MAX_PAGE}"),
            Param("after_id", ID, description="payers created after this one (the next page)"),
        ),
        response=schemas.listing("payers", schemas.PAYER),
    ),
    Op(
        "GET",
        "/_local/payers/{payer_id}",
        "One payer with the openids issued so far",
        get_payer,
        params=(PAYER_ID,),
        response=schemas.PAYER,
    ),
    Op(
        "POST",
        "/_local/payers/{payer_id}/openids",
        "The payer's openid under an app, issued on first use and stable afterwards",
        issue_openid,
        {"appid": _APPID},
        ("appid",),
        params=(PAYER_ID,),
        errors=(404,),
        response=schemas.obj(appid={"type": "string"}, openid={"type": "string"}),
    ),
    Op(
        "POST",
        "/_local/payers/{payer_id}/topup",
        "Add fen to the payer's wallet",
        top_up,
        {"amount": integer(1)},
        ("amount",),
        params=(PAYER_ID,),
        response=schemas.obj(balance={"type": "integer"}),
    ),
)
