"""The bill downloads: downloadbill and downloadfundflow (refunds spec §6, §7).

Both answer a file (plain or gzip), unsigned. downloadbill words its protocol failures the bill
way (``sign error``/20001, see ``api.pipeline.BILL_FAULTS``); downloadfundflow needs the
merchant's client certificate and HMAC-SHA256 (checked by the handler, which answers
``Param Error`` otherwise).
"""

from __future__ import annotations

from wxpay_local.spec.common import COMMON
from wxpay_local.spec.endpoint import Answer, Endpoint, Field
from wxpay_local.wire.fields import Str

DOWNLOADBILL = Endpoint(
    name="downloadbill",
    path="/pay/downloadbill",
    title="下载交易账单 (a day's payments and refunds as a text file; no certificate)",
    request=(
        *COMMON,
        Field("bill_date", Str(8), required=True, doc="yyyyMMdd, the Beijing day"),
        Field(
            "bill_type",
            Str(16),
            doc="ALL (default), SUCCESS, REFUND or RECHARGE_REFUND",
        ),
        Field("tar_type", Str(16), doc="GZIP: the file gzip-compressed; absent: plain text"),
        Field("device_info", Str(32), doc="Legacy: only that device's rows"),
    ),
    writes=False,
    bill_faults=True,
    signed_response=False,
    answers=(Answer("file", ("the bill: text/plain, or application/x-gzip with GZIP",)),),
)

DOWNLOADFUNDFLOW = Endpoint(
    name="downloadfundflow",
    path="/pay/downloadfundflow",
    title="下载资金账单 (a day's movements of one merchant account; certificate, HMAC-SHA256)",
    request=(
        *COMMON,
        Field("bill_date", Str(8), required=True, doc="yyyyMMdd, the Beijing day"),
        Field("account_type", Str(16), doc="Basic (default), Operation or Fees"),
        Field("tar_type", Str(16), doc="GZIP: the file gzip-compressed; absent: plain text"),
    ),
    needs_cert=True,
    writes=False,
    signed_response=False,
    answers=(Answer("file", ("the fund flow, with a Digest header",)),),
)
