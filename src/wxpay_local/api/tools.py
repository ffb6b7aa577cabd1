"""Handlers for authcodetoopenid, shorturl and report."""

from __future__ import annotations

import json
from collections.abc import Mapping
from urllib.parse import unquote

from wxpay_local.api.context import Call
from wxpay_local.domain import paycodes

Fields = Mapping[str, str | int]
SHORT_PREFIX = "weixin://wxpay/s/"


def authcodetoopenid(call: Call) -> Fields:
    platform = call.platform
    openid = paycodes.openid_of_code(
        call.tx,
        platform.clock,
        platform.ids,
        call.merchant.mch_id,
        call.text("appid"),
        call.text("auth_code"),
    )
    return {"openid": openid}


def shorturl(call: Call) -> Fields:
    """The same long URL always gets the same short one; it resolves forever."""
    long_url = call.text("long_url")
    if "://" not in long_url:  # sent URL-encoded for transport, as the docs tell clients to
        long_url = unquote(long_url)
    code = call.tx.short_code_of(long_url)
    if code is None:
        code = call.platform.ids.nonce(8)
        call.tx.insert_short_url(code, long_url, call.merchant.mch_id, call.platform.clock.now())
    return {"short_url": SHORT_PREFIX + code}


def report(call: Call) -> Fields:
    fields = {k: v for k, v in call.raw.items() if k not in ("sign", "nonce_str")}
    call.tx.insert_report(
        call.merchant.mch_id,
        call.platform.clock.now(),
        call.text("interface_url"),
        json.dumps(fields, ensure_ascii=False),
    )
    return {"result_code": "SUCCESS"}
