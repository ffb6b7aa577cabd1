"""OAuth2 web-authorization codes and tokens, and Mini Program login codes (spec §6.5).

Every code and token is one row (``store/sql_oauth.py``), read with a row lock before it is
used, so that two exchanges of one code on two PostgreSQL connections cannot both win. Times
are the platform clock's. The lifetimes are WeChat's documented ones: a code five minutes and
once, an access_token 7200 s, a refresh_token 30 days. Refreshing follows the Open Platform
document: a still valid access_token is kept and its lifetime renewed, an expired one is
replaced; the refresh_token itself is neither renewed nor replaced (after 30 days the person
authorizes again). Errors carry WeChat's errcode and errmsg.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wxpay_local.domain.ids import Ids
    from wxpay_local.domain.ports import Payers

CODE_TTL = timedelta(minutes=5)
ACCESS_TTL = timedelta(seconds=7200)
REFRESH_TTL = timedelta(days=30)
SCOPE_BASE = "snsapi_base"
SCOPE_USERINFO = "snsapi_userinfo"
#: What a Mini Program login grants (there is no consent step and no scope to choose).
SCOPE_MINIPROGRAM = "miniprogram"
MAX_TOKEN = 128


class Kind(StrEnum):
    CODE = "code"  # /connect/oauth2/authorize → /sns/oauth2/access_token
    ACCESS = "access"
    REFRESH = "refresh"
    JSCODE = "jscode"  # wx.login → /sns/jscode2session


@dataclass(frozen=True, slots=True)
class Grant:
    token: str
    kind: Kind
    appid: str
    payer_id: int
    openid: str
    scope: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    #: The token issued with this one: a refresh_token's current access_token, an
    #: access_token's refresh_token.
    pair: str = ""


class OAuthError(Exception):
    """WeChat's answer for a refused call: ``{"errcode": …, "errmsg": …}``."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"{errcode} {errmsg}")
        self.errcode, self.errmsg = errcode, errmsg


INVALID_CODE = (40029, "invalid code")
INVALID_CREDENTIAL = (40001, "invalid credential, access_token is invalid or not latest")
ACCESS_EXPIRED = (42001, "access_token expired")
INVALID_REFRESH = (40030, "invalid refresh_token")
REFRESH_EXPIRED = (42002, "refresh_token expired")
INVALID_OPENID = (40003, "invalid openid")
UNAUTHORIZED = (48001, "api unauthorized")


def _token(ids: Ids) -> str:
    # A bearer credential: from the strong generator (api_key's), 64 characters.
    return ids.api_key() + ids.api_key()


def unionid(payer_id: int) -> str:
    """The payer's unionid: one per person across every app of the platform (as if all its
    apps sat under one Open Platform account), 28 characters like an openid."""
    digest = hashlib.sha256(f"wxpay-local unionid {payer_id}".encode()).hexdigest()
    return "o" + digest[:27]


def issue_code(
    tx: Payers,
    ids: Ids,
    now: datetime,
    kind: Kind,
    appid: str,
    payer_id: int,
    openid: str,
    scope: str,
) -> str:
    """A one-time code (``Kind.CODE`` or ``Kind.JSCODE``) for five minutes."""
    code = ids.api_key()
    tx.insert_oauth_grant(Grant(code, kind, appid, payer_id, openid, scope, now, now + CODE_TTL))
    return code


def use_code(tx: Payers, now: datetime, kind: Kind, appid: str, code: str) -> Grant:
    """The code's grant, marked used; 40029 for unknown, used, expired or another appid's."""
    found = tx.oauth_grant(code, lock=True) if 0 < len(code) <= MAX_TOKEN else None
    if (
        found is None
        or found.kind is not kind
        or found.appid != appid
        or found.used_at is not None
        or now >= found.expires_at
    ):
        raise OAuthError(*INVALID_CODE)
    used = replace(found, used_at=now)
    tx.update_oauth_grant(used)
    return used


def issue_tokens(tx: Payers, ids: Ids, now: datetime, code: Grant) -> tuple[Grant, Grant]:
    """A new access_token and refresh_token for a used authorization code."""
    access_token, refresh_token = _token(ids), _token(ids)
    base = (code.appid, code.payer_id, code.openid, code.scope, now)
    access = Grant(access_token, Kind.ACCESS, *base, now + ACCESS_TTL, pair=refresh_token)
    refresh = Grant(refresh_token, Kind.REFRESH, *base, now + REFRESH_TTL, pair=access_token)
    tx.insert_oauth_grant(access)
    tx.insert_oauth_grant(refresh)
    return access, refresh


def refresh(tx: Payers, ids: Ids, now: datetime, appid: str, token: str) -> tuple[Grant, Grant]:
    """The access_token after ``/sns/oauth2/refresh_token`` (kept and renewed, or new)."""
    found = tx.oauth_grant(token, lock=True) if 0 < len(token) <= MAX_TOKEN else None
    if found is None or found.kind is not Kind.REFRESH or found.appid != appid:
        raise OAuthError(*INVALID_REFRESH)
    if now >= found.expires_at:
        raise OAuthError(*REFRESH_EXPIRED)
    current = tx.oauth_grant(found.pair, lock=True)
    if current is not None and now < current.expires_at:
        renewed = replace(current, expires_at=now + ACCESS_TTL)
        tx.update_oauth_grant(renewed)
        return renewed, found
    access = Grant(
        _token(ids),
        Kind.ACCESS,
        found.appid,
        found.payer_id,
        found.openid,
        found.scope,
        now,
        now + ACCESS_TTL,
        pair=found.token,
    )
    tx.insert_oauth_grant(access)
    kept = replace(found, pair=access.token)
    tx.update_oauth_grant(kept)
    return access, kept


def access(tx: Payers, now: datetime, token: str, openid: str) -> Grant:
    """A valid access_token's grant for ``openid`` (``/sns/userinfo``, ``/sns/auth``)."""
    found = tx.oauth_grant(token) if 0 < len(token) <= MAX_TOKEN else None
    if found is None or found.kind is not Kind.ACCESS:
        raise OAuthError(*INVALID_CREDENTIAL)
    if now >= found.expires_at:
        raise OAuthError(*ACCESS_EXPIRED)
    if openid != found.openid:
        raise OAuthError(*INVALID_OPENID)
    return found
