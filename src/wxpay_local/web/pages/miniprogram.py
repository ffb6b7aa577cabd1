"""The Mini Program's side of JSAPI pay (spec §6.1): ``wx.login`` and ``/sns/jscode2session``.

In a Mini Program ``wx.login`` silently yields a code for the signed-in person; here the
script's iframe (``/jsapi/sheet``) asks which demo payer that is, through ``GET/POST
/jsapi/login``. The merchant's server trades the code for the payer's openid under the Mini
Program's appid at ``/sns/jscode2session`` (once, within five minutes), then places a JSAPI
order with that appid and openid and calls ``wx.requestPayment``.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from wxpay_local.codes import AppKind
from wxpay_local.domain import oauth_grants, setup
from wxpay_local.domain.oauth_grants import SCOPE_MINIPROGRAM, Kind, OAuthError
from wxpay_local.domain.ports import Tx
from wxpay_local.web.pages.common import MAX_ID, PAYER_LIST_LIMIT, PageError, page, param
from wxpay_local.web.pages.oauth import answer_of, known_app

if TYPE_CHECKING:
    from wxpay_local.web.app import AsgiApp


def _mini_program(tx: Tx, appid: str) -> str:
    found = tx.app(appid) if appid else None
    if found is None or found.kind is not AppKind.MINI_PROGRAM:
        raise PageError(400, f"{appid or '(no appid)'} is not a Mini Program's appid")
    return found.name


async def login_payers(app: AsgiApp, request: Request) -> Response:
    """Who may sign in to the Mini Program (the sheet's list)."""
    appid = param(request.query_params, "appid").strip()

    def work() -> dict[str, Any]:
        with app.store.begin(write=False) as tx:
            name = _mini_program(tx, appid)
            payers = [{"payer_id": p.id, "name": p.name} for p in tx.payers(PAYER_LIST_LIMIT)]
        return {"ok": True, "app_name": name, "payers": payers}

    try:
        return JSONResponse(await app.store.run(work, write=False))
    except PageError as exc:
        return JSONResponse({"ok": False, "message": exc.message}, 400)


async def login(app: AsgiApp, request: Request) -> Response:
    """A wx.login code for the chosen payer under the Mini Program's appid."""
    try:
        body = await request.json()
    except ValueError:
        body = None
    appid = body.get("appid") if isinstance(body, dict) else None
    payer_id = body.get("payer_id") if isinstance(body, dict) else None
    if not isinstance(appid, str) or len(appid) > 64:
        return JSONResponse({"ok": False, "message": "appid is the Mini Program's appid"}, 400)
    if not isinstance(payer_id, int) or isinstance(payer_id, bool) or not 0 < payer_id <= MAX_ID:
        return JSONResponse({"ok": False, "message": "payer_id is a payer's number"}, 400)
    now = app.clock.now()

    def work() -> dict[str, Any]:
        with app.store.begin() as tx:
            _mini_program(tx, appid)
            if tx.payer(payer_id) is None:
                raise PageError(404, f"no payer {payer_id}")
            openid = setup.openid_for(tx, app.ids, payer_id, appid)
            code = oauth_grants.issue_code(
                tx, app.ids, now, Kind.JSCODE, appid, payer_id, openid, SCOPE_MINIPROGRAM
            )
        return {"ok": True, "code": code}

    try:
        return JSONResponse(await app.store.run(work))
    except PageError as exc:
        return JSONResponse({"ok": False, "message": exc.message}, exc.status)


async def jscode2session(app: AsgiApp, request: Request) -> Response:
    q = request.query_params
    try:
        appid, secret = param(q, "appid"), param(q, "secret")
        js_code, grant_type = param(q, "js_code"), param(q, "grant_type")
    except PageError:
        return JSONResponse({"errcode": 40029, "errmsg": "invalid code"})
    now = app.clock.now()

    def work() -> dict[str, Any]:
        with app.store.begin() as tx:
            known_app(tx, appid, secret)
            if grant_type != "authorization_code":
                raise OAuthError(40002, "invalid grant_type")
            grant = oauth_grants.use_code(tx, now, Kind.JSCODE, appid, js_code)
        # A fresh session key per login, as WeChat hands out (16 random bytes, base64).
        session_key = base64.b64encode(app.ids.api_key()[:16].encode()).decode()
        return {
            "session_key": session_key,
            "openid": grant.openid,
            "unionid": oauth_grants.unionid(grant.payer_id),
        }

    return await answer_of(app, work, write=True)


def routes(app: AsgiApp) -> list[Route]:
    return [
        Route("/jsapi/login", page(app, login_payers), methods=["GET"]),
        Route("/jsapi/login", page(app, login), methods=["POST"]),
        Route("/sns/jscode2session", page(app, jscode2session), methods=["GET"]),
    ]
