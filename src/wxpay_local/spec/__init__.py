"""The endpoint catalogue: the one registry routing, validation and the docs read.

Adding an endpoint: declare it in the module of its family and list it here, then write its
handler in ``wxpay_local.api``.
"""

from __future__ import annotations

from wxpay_local.spec.bills import DOWNLOADBILL, DOWNLOADFUNDFLOW
from wxpay_local.spec.endpoint import Endpoint, Field
from wxpay_local.spec.pay import CLOSEORDER, MICROPAY, ORDERQUERY, REVERSE, UNIFIEDORDER
from wxpay_local.spec.refund import REFUND, REFUNDQUERY
from wxpay_local.spec.sandbox import GETSIGNKEY
from wxpay_local.spec.tools import AUTHCODETOOPENID, REPORT, SHORTURL

ENDPOINTS: tuple[Endpoint, ...] = (
    UNIFIEDORDER,
    ORDERQUERY,
    CLOSEORDER,
    MICROPAY,
    REVERSE,
    REFUND,
    REFUNDQUERY,
    DOWNLOADBILL,
    DOWNLOADFUNDFLOW,
    AUTHCODETOOPENID,
    SHORTURL,
    REPORT,
    GETSIGNKEY,
)
#: Extra paths an endpoint answers on (older SDKs): path -> endpoint name.
ALIASES = {"/pay/report": "report", "/xdc/apiv2getsignkey/sign/getsignkey": "getsignkey"}

SANDBOX_PREFIXES = ("/sandboxnew", "/xdc/apiv2sandbox")
#: Sandbox-only endpoints (served under a sandbox prefix, never in production).
SANDBOX_ONLY = frozenset({"getsignkey"})

__all__ = ["ALIASES", "ENDPOINTS", "SANDBOX_PREFIXES", "SANDBOX_ONLY", "Endpoint", "Field"]
