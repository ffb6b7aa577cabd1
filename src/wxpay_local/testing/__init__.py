"""Testing support: run the platform inside a test suite (the pytest plugin builds on this).

The names are imported on first use (PEP 562): the pytest plugin lives in this package, and
pytest loads it in every run of every project in the environment, so importing the package must
not import the platform.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wxpay_local.testing.harness import (
        Harness,
        MerchantInfo,
        MerchantSink,
        live_server,
        wait_for,
        xml_endpoint,
    )

__all__ = ["Harness", "MerchantInfo", "MerchantSink", "live_server", "wait_for", "xml_endpoint"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from wxpay_local.testing import harness

        return getattr(harness, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
