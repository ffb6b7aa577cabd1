"""The tool endpoints: authcodetoopenid, shorturl, report (spec §4.6–§4.8)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wxpay_local.codes import ErrCode, ReturnMsg
from wxpay_local.spec.common import COMMON
from wxpay_local.spec.endpoint import Answer, Endpoint, Field
from wxpay_local.wire.fields import Fen, Json, Str, Time14

AUTHCODETOOPENID = Endpoint(
    name="authcodetoopenid",
    path="/tools/authcodetoopenid",
    title="付款码查询openid (the payer behind a payment code, without charging it)",
    request=(*COMMON, Field("auth_code", Str(128), required=True, doc="Payment code")),
    answers=(Answer("found", ("openid",)),),
    errors=(
        ErrCode.SYSTEMERROR,
        ErrCode.AUTHCODEEXPIRE,
        ErrCode.AUTH_CODE_ERROR,
        ErrCode.AUTH_CODE_INVALID,
        ErrCode.NOAUTH,
        ErrCode.APPID_NOT_EXIST,
        ErrCode.APPID_MCHID_NOT_MATCH,
    ),
)

SHORTURL = Endpoint(
    name="shorturl",
    path="/tools/shorturl",
    title="转换短链接 (shorten a weixin:// URL)",
    request=(*COMMON, Field("long_url", Str(512), required=True, doc="URL to shorten")),
    errors=(ErrCode.SYSTEMERROR, ErrCode.APPID_NOT_EXIST, ErrCode.APPID_MCHID_NOT_MATCH),
    url_encoded_fields=("long_url",),
    answers=(Answer("shortened", ("short_url",)),),
)


def _latency_given(req: Mapping[str, Any]) -> str | None:
    if "execute_time_" not in req and "execute_time" not in req:
        return ReturnMsg.LACK_PARAMS
    return None


def _one_report_shape(req: Mapping[str, Any]) -> str | None:
    if "trades" in req:
        return None
    for name in ("return_code", "result_code"):
        if name not in req:
            return ReturnMsg.LACK_PARAMS
    return _latency_given(req)


REPORT = Endpoint(
    name="report",
    path="/payitil/report",
    title="交易保障 (merchant-side latency report; stored, unsigned answer)",
    request=(
        *COMMON,
        Field("device_info", Str(32)),
        Field("interface_url", Str(127), required=True, doc="The reported API's URL"),
        Field("execute_time_", Fen(12, 0), doc="Latency in ms (also spelled execute_time)"),
        Field("execute_time", Fen(12, 0), doc="Older spelling of execute_time_"),
        Field("return_code", Str(16)),
        Field("return_msg", Str(128)),
        Field("result_code", Str(16)),
        Field("err_code", Str(32)),
        Field("err_code_des", Str(128)),
        Field("out_trade_no", Str(32)),
        Field("user_ip", Str(64), required=True, doc="IP of the machine that made the call"),
        Field("time", Time14()),
        Field("trades", Json(1024), doc="Batch POS report: JSON array"),
    ),
    checks=(_one_report_shape,),
    signed_response=False,
    answers=(Answer("stored (unsigned)", ("result_code",)),),
)
