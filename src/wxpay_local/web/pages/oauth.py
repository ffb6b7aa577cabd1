"""OAuth2 web authorization (spec §6.5): the authorize page, codes, tokens, userinfo.

The authorize page checks its parameters as WeChat's does (the 100xx codes with WeChat's
texts), lets the person choose which demo payer is "logged in" and, for ``snsapi_userinfo``,
asks for consent (refusing redirects with ``state`` only). Codes and tokens are rows of their
own (``domain/oauth_grants.py``); the JSON endpoints answer WeChat's fields, errors as
``{"errcode": …, "errmsg": …}`` with HTTP 200.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from wxpay_local import secure
from wxpay_local.codes import AppKind
from wxpay_local.domain import merchant_config, oauth_grants, setup
from wxpay_local.domain.oauth_grants import SCOPE_BASE, SCOPE_USERINFO, Kind, OAuthError
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
    from wxpay_local.web.app import AsgiApp

SCOPES = (SCOPE_BASE, SCOPE_USERINFO)
#: The authorize page's errors: code → the text WeChat's page shows.
AUTHORIZE_ERRORS = {
    10003: "redirect_uri域名与后台配置不一致",
    10005: "此公众号并没有这些scope的权限",
    10010: "scope不能为空",
    10011: "redirect_uri不能为空",
    10012: "appid不能为空",
    10016: "不支持微信开放平台的Appid，请使用公众号Appid",
}


def _refused(code: int, detail: str) -> PageError:
    return PageError(400, f"errcode {code}: {detail}", AUTHORIZE_ERRORS[code])


def _wechat_error(errcode: int, errmsg: str) -> JSONResponse:
    return JSONResponse({"errcode": errcode, "errmsg": errmsg})


def _request(values: Any) -> dict[str, str]:
    """The authorize parameters that need no lookup, checked as the authorize page does."""
    appid = param(values, "appid").strip()
    redirect_uri = param(values, "redirect_uri").strip()
    scope = param(values, "scope").strip()
    state = param(values, "state")
    if not appid:
        raise _refused(10012, "appid is empty")
    if not redirect_uri:
        raise _refused(10011, "redirect_uri is empty")
    try:
        parts = urlsplit(redirect_uri)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        ok = False
    if not ok:
        raise _refused(10003, f"redirect_uri {redirect_uri!r} is not an absolute http(s) URL")
    if not scope:
        raise _refused(10010, "scope is empty")
    if scope not in SCOPES:
        raise _refused(10005, f"scope {scope!r}: the scopes are {' and '.join(SCOPES)}")
    if param(values, "response_type") != "code":
        raise PageError(400, "response_type must be code", "授权参数错误")
    if len(state) > 128 or not all(c.isascii() and c.isalnum() for c in state):
        raise PageError(400, "state is [a-zA-Z0-9], at most 128 bytes", "授权参数错误")
    return {"appid": appid, "redirect_uri": redirect_uri, "scope": scope, "state": state}


def _check_app(tx: Tx, req: dict[str, str]) -> str:
    """The app's name; refuses a missing or non-Official-Account appid and a redirect_uri
    off the web-authorization domains of the merchants the appid is bound to."""
    appid = req["appid"]
    found = tx.app(appid)
    if found is None:
        raise PageError(400, f"no application has the appid {appid}", "appid参数错误")
    if found.kind is not AppKind.OFFICIAL_ACCOUNT:
        raise _refused(10016, f"{appid} is a {found.kind} app; only Official Accounts authorize")
    domains: list[str] = []
    for mch_id in tx.mch_ids_of_app(appid):
        domains += merchant_config.load(tx, mch_id).oauth_domains
    host = urlsplit(req["redirect_uri"]).hostname or ""
    if not merchant_config.host_allowed(tuple(domains), host):
        raise _refused(
            10003,
            f"redirect_uri host {host} is not a web-authorization domain of the merchants "
            f"{appid} is bound to (configured: {', '.join(sorted(set(domains)))})",
        )
    return found.name


def _back_to(redirect_uri: str, values: dict[str, str]) -> RedirectResponse:
    """``redirect_uri`` with ``values`` added to its own query."""
    parts = urlsplit(redirect_uri)
    query = parts.query + ("&" if parts.query else "") + urlencode(values)
    return RedirectResponse(urlunsplit(parts._replace(query=query)), 302)


async def authorize(app: AsgiApp, request: Request) -> Response:
    req = _request(request.query_params)

    def work() -> dict[str, Any]:
        with app.store.begin(write=False) as tx:
            name = _check_app(tx, req)
            payers = [{"payer_id": p.id, "name": p.name} for p in tx.payers(PAYER_LIST_LIMIT)]
            return {"app_name": name, "payers": payers}

    context = await app.store.run(work, write=False)
    return render("oauth_authorize.html", req=req, payer=None, **context)


async def confirm(app: AsgiApp, request: Request) -> Response:
    """The chosen payer; for snsapi_userinfo first the consent step, then the redirect."""
    form = await form_of(request)
    req = _request(form)
    payer_id = int_param(form, "payer_id")
    if payer_id is None:
        raise PageError(400, "choose who is logged in (payer_id)", "请选择用户")
    consent = param(form, "consent")
    if consent not in ("", "allow", "deny"):
        raise PageError(400, "consent is allow or deny")
    if req["scope"] == SCOPE_USERINFO and consent == "deny":
        return _back_to(req["redirect_uri"], {"state": req["state"]})
    ask = req["scope"] == SCOPE_USERINFO and consent != "allow"
    now = app.clock.now()

    def work() -> str | dict[str, Any]:
        with app.store.begin(write=not ask) as tx:
            name = _check_app(tx, req)
            payer = tx.payer(payer_id)
            if payer is None:
                raise PageError(404, f"no payer {payer_id}", "用户不存在")
            if ask:
                return {"app_name": name, "payer": {"payer_id": payer.id, "name": payer.name}}
            openid = setup.openid_for(tx, app.ids, payer_id, req["appid"])
            return oauth_grants.issue_code(
                tx, app.ids, now, Kind.CODE, req["appid"], payer_id, openid, req["scope"]
            )

    answer = await app.store.run(work, write=not ask)
    if isinstance(answer, dict):
        return render("oauth_authorize.html", req=req, payers=[], **answer)
    return _back_to(req["redirect_uri"], {"code": answer, "state": req["state"]})


def _token_fields(access: oauth_grants.Grant, refresh: oauth_grants.Grant) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "access_token": access.token,
        # A new or just renewed access_token: the whole lifetime is left.
        "expires_in": int(oauth_grants.ACCESS_TTL.total_seconds()),
        "refresh_token": refresh.token,
        "openid": access.openid,
        "scope": access.scope,
    }
    if access.scope == SCOPE_USERINFO:
        fields["unionid"] = oauth_grants.unionid(access.payer_id)
    return fields


def _query(request: Request, *names: str) -> dict[str, str] | None:
    try:
        return {name: param(request.query_params, name) for name in names}
    except PageError:
        return None


def known_app(tx: Tx, appid: str, secret: str | None) -> None:
    found = tx.app(appid) if appid else None
    if found is None:
        raise OAuthError(40013, "invalid appid")
    if secret is not None and not secure.equal(secret, found.secret):
        raise OAuthError(40125, "invalid appsecret")


async def access_token(app: AsgiApp, request: Request) -> Response:
    q = _query(request, "appid", "secret", "code", "grant_type")
    if q is None:
        return _wechat_error(*oauth_grants.INVALID_CODE)
    if q["grant_type"] != "authorization_code":
        return _wechat_error(40002, "invalid grant_type")
    now = app.clock.now()

    def work() -> dict[str, Any]:
        with app.store.begin() as tx:
            known_app(tx, q["appid"], q["secret"])
            code = oauth_grants.use_code(tx, now, Kind.CODE, q["appid"], q["code"])
            return _token_fields(*oauth_grants.issue_tokens(tx, app.ids, now, code))

    return await answer_of(app, work, write=True)


async def refresh_token(app: AsgiApp, request: Request) -> Response:
    q = _query(request, "appid", "grant_type", "refresh_token")
    if q is None:
        return _wechat_error(*oauth_grants.INVALID_REFRESH)
    if q["grant_type"] != "refresh_token":
        return _wechat_error(40002, "invalid grant_type")
    now = app.clock.now()

    def work() -> dict[str, Any]:
        with app.store.begin() as tx:
            known_app(tx, q["appid"], None)
            return _token_fields(
                *oauth_grants.refresh(tx, app.ids, now, q["appid"], q["refresh_token"])
            )

    return await answer_of(app, work, write=True)


async def userinfo(app: AsgiApp, request: Request) -> Response:
    q = _query(request, "access_token", "openid", "lang")
    if q is None:
        return _wechat_error(*oauth_grants.INVALID_CREDENTIAL)
    now = app.clock.now()
    avatar = str(request.base_url).rstrip("/") + "/static/pages/avatar.svg"

    def work() -> dict[str, Any]:
        with app.store.begin(write=False) as tx:
            grant = oauth_grants.access(tx, now, q["access_token"], q["openid"])
            if grant.scope != SCOPE_USERINFO:
                raise OAuthError(*oauth_grants.UNAUTHORIZED)
            payer = tx.payer(grant.payer_id)
        # Since October 2021 WeChat answers sex 0 and empty regions for every person.
        return {
            "openid": grant.openid,
            "nickname": payer.name if payer else "",
            "sex": 0,
            "province": "",
            "city": "",
            "country": "",
            "headimgurl": avatar,
            "privilege": [],
            "unionid": oauth_grants.unionid(grant.payer_id),
        }

    return await answer_of(app, work, write=False)


async def auth(app: AsgiApp, request: Request) -> Response:
    q = _query(request, "access_token", "openid")
    if q is None:
        return _wechat_error(*oauth_grants.INVALID_CREDENTIAL)
    now = app.clock.now()

    def work() -> dict[str, Any]:
        with app.store.begin(write=False) as tx:
            oauth_grants.access(tx, now, q["access_token"], q["openid"])
        return {"errcode": 0, "errmsg": "ok"}

    return await answer_of(app, work, write=False)


async def answer_of(app: AsgiApp, work: Any, *, write: bool) -> JSONResponse:
    """Run ``work`` in one store transaction; an ``OAuthError`` is WeChat's JSON error (and
    rolls the transaction back: a refused exchange changes nothing)."""
    try:
        return JSONResponse(await app.store.run(work, write=write))
    except OAuthError as exc:
        return _wechat_error(exc.errcode, exc.errmsg)


def routes(app: AsgiApp) -> list[Route]:
    return [
        Route("/connect/oauth2/authorize", page(app, authorize), methods=["GET"]),
        Route("/connect/oauth2/authorize", page(app, confirm), methods=["POST"]),
        Route("/sns/oauth2/access_token", page(app, access_token), methods=["GET"]),
        Route("/sns/oauth2/refresh_token", page(app, refresh_token), methods=["GET"]),
        Route("/sns/userinfo", page(app, userinfo), methods=["GET"]),
        Route("/sns/auth", page(app, auth), methods=["GET"]),
    ]
