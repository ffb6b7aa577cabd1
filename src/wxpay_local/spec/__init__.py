"""The endpoint catalogue: the one registry routing, validation and the docs read.

Adding an endpoint: declare it in the module of its family and list it here, then write its
handler in ``wxpay_local.api``.
"""

from __future__ import annotations

from wxpay_local.spec.endpoint import Endpoint, Field
from wxpay_local.spec.pay import CLOSEORDER, ORDERQUERY, UNIFIEDORDER
from wxpay_local.spec.sandbox import GETSIGNKEY

ENDPOINTS: tuple[Endpoint, ...] = (UNIFIEDORDER, ORDERQUERY, CLOSEORDER, GETSIGNKEY)

SANDBOX_PREFIXES = ("/sandboxnew", "/xdc/apiv2sandbox")
#: Sandbox-only endpoints (served under a sandbox prefix, never in production).
SANDBOX_ONLY = frozenset({"getsignkey"})

__all__ = ["ENDPOINTS", "SANDBOX_PREFIXES", "SANDBOX_ONLY", "Endpoint", "Field"]
