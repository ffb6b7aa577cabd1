"""The H5 middle page refusing in a real headless Chromium: a link opened inside WeChat (the
User-Agent says MicroMessenger) and a browser that is not at the order's spbill_create_ip,
each from the merchant's own page (another origin, so a real Referer)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest
from browser_support import PHONE, docs_shot, merchant_site, screenshot_on_failure

from wxpay_local.testing import Harness

pytestmark = pytest.mark.e2e

WECHAT_UA = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/126.0 Mobile Safari/537.36 MicroMessenger/8.0.50.2701(0x28003237) NetType/WIFI"
)


def _shop_link(web: Harness, url: str, ip: str, number: str) -> str:
    merchant = web.merchant(name="蛋糕店 Cake shop")
    answer = web.client(merchant).unifiedorder(
        body="蛋糕店-芝士蛋糕",
        out_trade_no=number,
        total_fee=990,
        spbill_create_ip=ip,
        notify_url="http://127.0.0.1:9/notify",
        trade_type="MWEB",
        scene_info=json.dumps({"h5_info": {"type": "Wap", "wap_url": url, "wap_name": "cake"}}),
    )
    return str(answer["mweb_url"]) + "&" + urlencode({"redirect_url": url + "done"})


SHOP = "<!doctype html><title>shop</title><a id=pay href='{href}'>微信支付 ¥9.90</a>"


@pytest.mark.parametrize(
    ("ip", "agent", "shown", "name"),
    [
        ("127.0.0.1", WECHAT_UA, "请在微信外打开订单，进行支付", "h5_in_wechat"),
        ("203.0.113.10", "", "网络环境未能通过安全验证，请稍后再试", "h5_wrong_ip"),
    ],
)
def test_the_middle_page_refuses_with_the_platforms_text(
    web: Harness, browser: Any, ip: str, agent: str, shown: str, name: str
) -> None:
    options: dict[str, Any] = {"viewport": PHONE, "device_scale_factor": 2, "locale": "zh-CN"}
    if agent:
        options["user_agent"] = agent
    context = browser.new_context(**options)
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    pages: dict[str, str] = {}
    try:
        with merchant_site(pages) as url, screenshot_on_failure(tab, name):
            pages["/"] = SHOP.format(href=_shop_link(web, url, ip, "E2E-" + name))
            tab.goto(url)
            tab.click("#pay")
            tab.wait_for_selector("#error")
            assert shown in tab.inner_text("#error h1")
            assert tab.locator("#h5-form").count() == 0
            docs_shot(tab, name)
    finally:
        context.close()
