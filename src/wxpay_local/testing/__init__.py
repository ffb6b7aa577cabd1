"""Testing support: run the platform inside a test suite (the pytest plugin builds on this)."""

from __future__ import annotations

from wxpay_local.testing.harness import (
    Harness,
    MerchantInfo,
    MerchantSink,
    live_server,
    wait_for,
    xml_endpoint,
)

__all__ = ["Harness", "MerchantInfo", "MerchantSink", "live_server", "wait_for", "xml_endpoint"]
