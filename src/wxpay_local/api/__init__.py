"""One handler per catalogue endpoint, and the protocol pipeline that runs them.

``HANDLERS`` maps an endpoint name to its handler; a test checks it covers ``spec.ENDPOINTS``.
"""

from __future__ import annotations

from wxpay_local.api import bills, pay, refund, sandbox, tools
from wxpay_local.api.context import Call, Handler

HANDLERS: dict[str, Handler] = {
    "unifiedorder": pay.unifiedorder,
    "orderquery": pay.orderquery,
    "closeorder": pay.closeorder,
    "micropay": pay.micropay,
    "reverse": pay.reverse,
    "refund": refund.refund,
    "refundquery": refund.refundquery,
    "downloadbill": bills.downloadbill,
    "downloadfundflow": bills.downloadfundflow,
    "authcodetoopenid": tools.authcodetoopenid,
    "shorturl": tools.shorturl,
    "report": tools.report,
    "getsignkey": sandbox.getsignkey,
}

__all__ = ["HANDLERS", "Call", "Handler"]
