"""Payment codes (付款码): issued to a payer, about a minute long, charged at most once."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta

from wxpay_local.codes import ErrCode, Rejected
from wxpay_local.domain.clock import Clock
from wxpay_local.domain.ids import Ids
from wxpay_local.domain.model import AuthCode
from wxpay_local.domain.ports import Payers

CODE_VALIDITY = timedelta(minutes=1)
WECHAT_CODE = re.compile(r"1[0-5][0-9]{16}")

AUTH_CODE_USED = "101 每个二维码仅限使用一次，请刷新再试"
AUTH_CODE_EXPIRED = "101 付款码已过期，请退出重试"
AUTH_CODE_INVALID = "101 付款码无效，请重新扫码"


def issue_code(tx: Payers, clock: Clock, ids: Ids, payer_id: int) -> AuthCode:
    """A fresh code for the payer's app; older unused codes of the payer stay valid until expiry."""
    now = clock.now()
    for _ in range(5):
        code = AuthCode(ids.auth_code(), payer_id, now, now + CODE_VALIDITY)
        if tx.insert_auth_code(code):
            return code
    raise RuntimeError("could not find an unused payment code")


def live_code(tx: Payers, auth_code: str, now: datetime, *, lock: bool = False) -> AuthCode:
    """The code if it can still be charged, else the platform's refusal."""
    if WECHAT_CODE.fullmatch(auth_code) is None:
        raise Rejected(ErrCode.AUTH_CODE_INVALID, AUTH_CODE_INVALID)
    code = tx.auth_code(auth_code, lock=lock)
    if code is None:
        raise Rejected(ErrCode.AUTH_CODE_ERROR, AUTH_CODE_INVALID)
    if code.used_at is not None:
        raise Rejected(ErrCode.AUTH_CODE_ERROR, AUTH_CODE_USED)
    if now >= code.expires_at:
        raise Rejected(ErrCode.AUTHCODEEXPIRE, AUTH_CODE_EXPIRED)
    return code


def openid_of_code(
    tx: Payers, clock: Clock, ids: Ids, mch_id: str, appid: str, auth_code: str
) -> str:
    """authcodetoopenid: the payer's openid under appid; the code is reserved for this merchant."""
    code = live_code(tx, auth_code, clock.now(), lock=True)
    if code.reserved_mch_id and code.reserved_mch_id != mch_id:
        raise Rejected(ErrCode.AUTH_CODE_ERROR, AUTH_CODE_INVALID)
    if not code.reserved_mch_id:
        tx.update_auth_code(replace(code, reserved_mch_id=mch_id))
    openid = tx.openid_of(code.payer_id, appid)
    if openid is None:
        openid = ids.openid()
        tx.insert_openid(code.payer_id, appid, openid)
    return openid
