"""Merchant platform settings (/_local/merchants/{mch_id}/config): kept, validated, cleared."""

from __future__ import annotations

import pytest

from wxpay_local.testing import Harness

pytestmark = pytest.mark.api


def test_config_starts_empty_and_keeps_what_is_set(platform: Harness) -> None:
    merchant = platform.merchant()
    path = f"/_local/merchants/{merchant.mch_id}/config"
    assert platform.control("GET", path) == {
        "native_callback_url": "",
        "h5_domains": [],
        "jsapi_directories": [],
        "oauth_domains": [],
        "h5_ip_check": True,
        "h5_wechat_check": True,
        "h5_one_account_check": True,
        "notify_sign_type": "MD5",
    }
    changed = platform.control(
        "POST",
        path,
        {
            "native_callback_url": "http://127.0.0.1:8080/wx/scan",
            "h5_domains": ["Shop.Example.com", "https://m.example.com/path"],
        },
    )
    assert changed["h5_domains"] == ["shop.example.com", "m.example.com"]
    platform.control("POST", path, {"jsapi_directories": ["https://shop.example.com/pay/"]})
    kept = platform.control("GET", path)
    assert kept["native_callback_url"] == "http://127.0.0.1:8080/wx/scan"
    assert kept["h5_domains"] == ["shop.example.com", "m.example.com"]
    assert kept["jsapi_directories"] == ["https://shop.example.com/pay/"]


@pytest.mark.parametrize(
    "body",
    [
        {"native_callback_url": "ftp://example.com/x"},
        {"h5_domains": ["not a host!"]},
        {"jsapi_directories": ["shop.example.com/pay/"]},
        {"oauth_domains": [f"h{i}.example.com" for i in range(21)]},
        {"notify_sign_type": "HMAC-SHA256"},
    ],
)
def test_bad_settings_are_refused_and_change_nothing(
    platform: Harness, body: dict[str, object]
) -> None:
    merchant = platform.merchant()
    path = f"/_local/merchants/{merchant.mch_id}/config"
    refused = platform.control("POST", path, body, expect=400)
    assert refused["error"] in ("PARAM_ERROR", "BAD_FIELD")
    assert platform.control("GET", path)["native_callback_url"] == ""


def test_unknown_merchant_and_reset(platform: Harness) -> None:
    platform.control("GET", "/_local/merchants/1999999999/config", expect=404)
    merchant = platform.merchant()
    path = f"/_local/merchants/{merchant.mch_id}/config"
    platform.control("POST", path, {"oauth_domains": ["shop.example.com"]})
    platform.control("POST", "/_local/reset", {})
    platform.control("GET", path, expect=404)
