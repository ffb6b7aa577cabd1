"""The demo shop over plain HTTP: odd input and platform refusals are pages, never a 500."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.e2e


def test_odd_input_and_refusals(shop: tuple[str, Any]) -> None:
    url, _ = shop
    with httpx.Client(base_url=url, trust_env=False, timeout=10) as http:
        assert http.get("/orders/NOPE").status_code == 404
        assert http.post("/orders/NOPE/refund").status_code == 409
        assert http.post("/buy", data={"product": "caviar", "method": "NATIVE"}).status_code == 400
        assert http.post("/cashier", data={"product": "tea", "auth_code": "12"}).status_code == 400
        assert http.get("/oauth?product=tea").status_code == 400
        # an OAuth code the platform does not know: no openid, so the platform refuses the
        # JSAPI order (spec §1.4: JSAPI支付必须传openid) and the shop says so
        refused = http.get("/oauth?product=tea&code=forged")
        assert refused.status_code == 502
        assert "JSAPI支付必须传openid" in refused.text
        bad_day = http.get("/reconcile?date=2024-5-1")
        assert bad_day.status_code == 200
        assert "invalid bill_date" in bad_day.text  # refunds file §6.8
