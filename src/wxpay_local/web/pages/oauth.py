"""OAuth2 web authorization (spec §6.5): a page choosing the "logged in" payer, one-time codes.

Codes live in the settings table under ``oauth.code.<code>`` (JSON: appid, payer, scope,
expiry on the platform clock, used); a code works once, for five minutes. The token exchange
answers WeChat's JSON, errors as ``{"errcode": …, "errmsg": …}`` with HTTP 200.
"""

from __future__ import annotations

import hmac
import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from wxpay_local.codes import AppKind
from wxpay_local.domain import setup
from wxpay_local.domain.ports import Tx
from wxpay_local.web.pages.common import (
    PAYER_LIST_LIMIT,
    PageError,
    form_of,
    int_param,
    page,
    param,
    render,
)

if TYPE_CHECKING:
    from wxpay_local.web.app import App

CODE_TTL = timedelta(minutes=5)
TOKEN_TTL_SECONDS = 7200
SCOPES = ("snsapi_base", "snsapi_userinfo")
PREFIX = "oauth.code."


def _wechat_error(errcode: int, errmsg: str) -> JSONResponse:
    return JSONResponse({"errcode": errcode, "errmsg": errmsg})


def _request(values: Any) -> dict[str, str]:
    """The authorize parameters, checked as the authorize page does (spec §6.5 codes 100xx)."""
    appid = param(values, "appid").strip()
    redirect_uri = param(values, "redirect_uri").strip()
    scope = param(values, "scope").strip()
    state = param(values, "state")
    if not appid:
        raise PageError(400, "appid is empty (10012)", "授权参数错误")
    if not redirect_uri:
        raise PageError(400, "redirect_uri is empty (10011)", "授权参数错误")
    parts = urlsplit(redirect_uri)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise PageError(400, "redirect_uri must be an absolute http(s) URL (10003)", "授权参数错误")
    if not scope:
        raise PageError(400, "scope is empty (10010)", "授权参数错误")
    if scope not in SCOPES:
        raise PageError(400, f"scope must be one of {', '.join(SCOPES)} (10005)", "授权参数错误")
    if param(values, "response_type") != "code":
        raise PageError(400, "response_type must be code", "授权参数错误")
    if len(state) > 128 or not all(c.isascii() and c.isalnum() for c in state):
        raise PageError(400, "state is [a-zA-Z0-9], at most 128 bytes", "授权参数错误")
    return {"appid": appid, "redirect_uri": redirect_uri, "scope": scope, "state": state}


def _check_app(tx: Tx, appid: str) -> str:
    found = tx.app(appid)
    if found is None:
        raise PageError(400, f"no application has the appid {appid}", "授权参数错误")
    if found.kind is not AppKind.OFFICIAL_ACCOUNT:
        raise PageError(
            400, "only Official Account appids can use web authorization (10016)", "授权参数错误"
        )
    return found.name


async def authorize(app: App, request: Request) -> Response:
    req = _request(request.query_params)

    def work() -> dict[str, Any]:
        with app.store.begin(write=False) as tx:
            name = _check_app(tx, req["appid"])
            payers = [{"payer_id": p.id, "name": p.name} for p in tx.payers()[:PAYER_LIST_LIMIT]]
            return {"app_name": name, "payers": payers}

    context = await app.store.run(work, write=False)
    return render("oauth_authorize.html", req=req, **context)


async def confirm(app: App, request: Request) -> Response:
    form = await form_of(request)
    req = _request(form)
    payer_id = int_param(form, "payer_id")
    if payer_id is None:
        raise PageError(400, "choose who is logged in (payer_id)", "请选择用户")
    now = app.clock.now()

    def work() -> str:
        with app.store.begin() as tx:
            _check_app(tx, req["appid"])
            if tx.payer(payer_id) is None:
                raise PageError(404, f"no payer {payer_id}", "用户不存在")
            openid = setup.openid_for(tx, app.ids, payer_id, req["appid"])
            code = app.ids.nonce(32)
            record = {
                "appid": req["appid"],
                "openid": openid,
                "scope": req["scope"],
                "expires_at": (now + CODE_TTL).isoformat(),
                "used": False,
            }
            tx.put_setting(PREFIX + code, json.dumps(record))
            return code

    code = await app.store.run(work)
    parts = urlsplit(req["redirect_uri"])
    query = parts.query + ("&" if parts.query else "")
    query += urlencode({"code": code, "state": req["state"]})
    return RedirectResponse(urlunsplit(parts._replace(query=query)), 302)


async def access_token(app: App, request: Request) -> Response:
    q = request.query_params
    try:
        appid, secret = param(q, "appid"), param(q, "secret")
        code, grant_type = param(q, "code"), param(q, "grant_type")
    except PageError:
        return _wechat_error(40029, "invalid code")
    if grant_type != "authorization_code":
        return _wechat_error(40002, "invalid grant_type")
    now = app.clock.now()

    def work() -> JSONResponse:
        with app.store.begin() as tx:
            found = tx.app(appid) if appid else None
            if found is None:
                return _wechat_error(40013, "invalid appid")
            if not hmac.compare_digest(secret.encode(), found.secret.encode()):
                return _wechat_error(40125, "invalid appsecret")
            if not code or len(code) > 64:
                return _wechat_error(40029, "invalid code")
            key = PREFIX + code
            if tx.get_setting(key) is None:
                return _wechat_error(40029, "invalid code")
            # Take the code's lock row, then read it again: concurrent exchanges of one code
            # wait here (PostgreSQL) or are serialised already (SQLite), so only one wins.
            tx.put_setting(key + ".lock", "1")
            saved = tx.get_setting(key)
            record = json.loads(saved or "{}")
            if (
                record.get("used", True)
                or record.get("appid") != appid
                or now >= datetime.fromisoformat(record["expires_at"])
            ):
                return _wechat_error(40029, "invalid code")
            record["used"] = True
            tx.put_setting(key, json.dumps(record))
            return JSONResponse(
                {
                    "access_token": app.ids.nonce(32) + app.ids.nonce(32),
                    "expires_in": TOKEN_TTL_SECONDS,
                    "refresh_token": app.ids.nonce(32) + app.ids.nonce(32),
                    "openid": record["openid"],
                    "scope": record["scope"],
                }
            )

    return await app.store.run(work)


def routes(app: App) -> list[Route]:
    return [
        Route("/connect/oauth2/authorize", page(app, authorize), methods=["GET"]),
        Route("/connect/oauth2/authorize", page(app, confirm), methods=["POST"]),
        Route("/sns/oauth2/access_token", page(app, access_token), methods=["GET"]),
    ]
