"""The H5 middle page's remaining checks (spec §6.4), each with the platform's observed text,
each switchable per merchant: the registered H5 domains, the browser's IP, not inside WeChat,
one WeChat account per mweb_url; and paying H5 with a card."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from pages_support import post_form

from wxpay_local.testing import Harness, MerchantInfo

pytestmark = pytest.mark.api

CHECK = "/cgi-bin/mmpayweb-bin/checkmweb"
PAY = "/cgi-bin/mmpayweb-bin/pay"
SHOP = {"referer": "https://shop.example/cart"}
ANDROID = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/126 Mobile"
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile"
WECHAT = ANDROID + " MicroMessenger/8.0.50.2701(0x28003237) NetType/WIFI Language/zh_CN"


def _link(
    platform: Harness, merchant: MerchantInfo, ip: str = "127.0.0.1", number: str = "H5-1"
) -> dict[str, str]:
    """An MWEB order's mweb_url query (the test's HTTP client is the browser, on 127.0.0.1)."""
    answer = platform.client(merchant).unifiedorder(
        body="Cake shop-Cheesecake",
        out_trade_no=number,
        total_fee=990,
        spbill_create_ip=ip,
        notify_url="http://127.0.0.1:9/notify",
        trade_type="MWEB",
        scene_info=json.dumps({"h5_info": {"type": "Wap", "wap_url": "https://shop.example"}}),
    )
    return {k: v[0] for k, v in parse_qs(urlsplit(answer["mweb_url"]).query).items()}


def _config(platform: Harness, merchant: MerchantInfo, **changes: object) -> None:
    platform.control("POST", f"/_local/merchants/{merchant.mch_id}/config", changes)


def _pay(
    platform: Harness, link: dict[str, str], payer: dict[str, object], **headers: str
) -> tuple[int, str]:
    form = {**link, "payer_id": str(payer["payer_id"]), "password": str(payer["pay_password"])}
    answer = post_form(platform.http, PAY, data={**form, "action": "pay"}, headers=headers)
    return answer.status_code, answer.text


def test_the_browser_must_be_at_the_orders_ip_unless_switched_off(platform: Harness) -> None:
    merchant = platform.merchant()
    link = _link(platform, merchant, ip="203.0.113.10")
    refused = platform.http.get(CHECK, params=link, headers=SHOP)
    assert refused.status_code == 400 and "网络环境未能通过安全验证，请稍后再试" in refused.text
    assert "203.0.113.10" in refused.text  # the developer's reason names both addresses
    payer = platform.payer()
    status, text = _pay(platform, link, payer)
    assert status == 400 and "网络环境未能通过安全验证" in text
    assert platform.client(merchant).orderquery(out_trade_no="H5-1")["trade_state"] == "NOTPAY"
    _config(platform, merchant, h5_ip_check=False)
    assert platform.http.get(CHECK, params=link, headers=SHOP).status_code == 200
    assert _pay(platform, link, payer)[0] == 200
    assert platform.client(merchant).orderquery(out_trade_no="H5-1")["trade_state"] == "SUCCESS"


def test_an_ipv4_mapped_address_is_the_same_ip(platform: Harness) -> None:
    merchant = platform.merchant()
    link = _link(platform, merchant, ip="::ffff:127.0.0.1")
    assert platform.http.get(CHECK, params=link, headers=SHOP).status_code == 200


def test_inside_wechat_the_link_is_refused_unless_switched_off(platform: Harness) -> None:
    merchant = platform.merchant()
    link = _link(platform, merchant)
    inside = platform.http.get(CHECK, params=link, headers={**SHOP, "user-agent": WECHAT})
    assert inside.status_code == 400 and "请在微信外打开订单，进行支付" in inside.text
    assert "MicroMessenger" in inside.text
    payer = platform.payer()
    assert _pay(platform, link, payer, **{"user-agent": WECHAT})[0] == 400
    outside = platform.http.get(CHECK, params=link, headers={**SHOP, "user-agent": ANDROID})
    assert outside.status_code == 200
    _config(platform, merchant, h5_wechat_check=False)
    again = platform.http.get(CHECK, params=link, headers={**SHOP, "user-agent": WECHAT})
    assert again.status_code == 200


def test_configured_h5_domains_replace_the_wap_url_host(platform: Harness) -> None:
    merchant = platform.merchant()
    link = _link(platform, merchant)
    _config(platform, merchant, h5_domains=["cakes.example.com"])
    wap_host = platform.http.get(CHECK, params=link, headers=SHOP)
    assert wap_host.status_code == 400 and "商家存在未配置的参数，请联系商家解决" in wap_host.text
    for referer in ("https://cakes.example.com/cart", "http://m.cakes.example.com/"):
        page = platform.http.get(CHECK, params=link, headers={"referer": referer})
        assert page.status_code == 200, (referer, page.text)
    fake = platform.http.get(CHECK, params=link, headers={"referer": "https://xcakes.example.com/"})
    assert fake.status_code == 400 and "商家存在未配置的参数" in fake.text
    _config(platform, merchant, h5_domains=[])
    assert platform.http.get(CHECK, params=link, headers=SHOP).status_code == 200


@pytest.mark.parametrize(
    ("agent", "text"), [(ANDROID, "系统繁忙，请稍后再试"), (IPHONE, "签名验证失败")]
)
def test_a_second_wechat_account_on_one_link_is_refused(
    platform: Harness, agent: str, text: str
) -> None:
    merchant = platform.merchant()
    link = _link(platform, merchant)
    first, second = platform.payer(name="Erin"), platform.payer(name="Frank")
    wrong = {**link, "payer_id": str(first["payer_id"]), "password": "000000", "action": "pay"}
    assert 'data-outcome="WRONG_PASSWORD"' in post_form(platform.http, PAY, data=wrong).text
    status, page = _pay(platform, link, second, **{"user-agent": agent})
    assert status == 400 and text in page
    assert f"payer {first['payer_id']}" in page  # the developer's reason
    cancel = {**link, "payer_id": str(second["payer_id"]), "action": "cancel"}
    assert (
        post_form(platform.http, PAY, data=cancel, headers={"user-agent": agent}).status_code == 400
    )
    assert _pay(platform, link, first)[0] == 200
    assert platform.client(merchant).orderquery(out_trade_no="H5-1")["trade_state"] == "SUCCESS"


def test_the_one_account_rule_can_be_switched_off(platform: Harness) -> None:
    merchant = platform.merchant()
    _config(platform, merchant, h5_one_account_check=False)
    link = _link(platform, merchant)
    first, second = platform.payer(), platform.payer()
    cancel = {**link, "payer_id": str(first["payer_id"]), "action": "cancel"}
    assert 'data-outcome="CANCELLED"' in post_form(platform.http, PAY, data=cancel).text
    assert _pay(platform, link, second)[0] == 200
    answer = platform.client(merchant).orderquery(out_trade_no="H5-1")
    assert answer["openid"] == platform.openid(
        second["payer_id"], merchant.apps["official_account"]
    )


def test_h5_pays_with_a_card_of_the_chosen_payer(platform: Harness) -> None:
    merchant = platform.merchant()
    link = _link(platform, merchant)
    other = platform.payer(name="Grace", cards=["ICBC_DEBIT"])
    payer = platform.payer(balance=0, name="Heidi", cards=["CMB_CREDIT"])
    page = platform.http.get(CHECK, params=link, headers=SHOP)
    owned = dict(re.findall(r'data-owner="(\d+)"><input[^>]*value="(\d+)"', page.text))
    assert set(owned) == {str(other["payer_id"]), str(payer["payer_id"])}
    form = {**link, "payer_id": str(payer["payer_id"]), "password": payer["pay_password"]}
    not_mine = post_form(
        platform.http, PAY, data={**form, "method": owned[str(other["payer_id"])], "action": "pay"}
    )
    assert 'data-outcome="NO_SUCH_CARD"' in not_mine.text
    wallet = post_form(platform.http, PAY, data={**form, "method": "wallet", "action": "pay"})
    assert 'data-outcome="NOTENOUGH"' in wallet.text
    paid = post_form(
        platform.http, PAY, data={**form, "method": owned[str(payer["payer_id"])], "action": "pay"}
    )
    assert 'data-outcome="SUCCESS"' in paid.text
    answer = platform.client(merchant).orderquery(out_trade_no="H5-1")
    assert answer["trade_state"] == "SUCCESS" and answer["bank_type"] == "CMB_CREDIT"


def test_bad_switch_values_are_refused(platform: Harness) -> None:
    merchant = platform.merchant()
    path = f"/_local/merchants/{merchant.mch_id}/config"
    for value in ("no", 0, None, []):
        assert platform.http.post(path, json={"h5_ip_check": value}).status_code == 400
    kept = platform.control("GET", path)
    assert kept["h5_ip_check"] is True and kept["h5_one_account_check"] is True


def test_the_middle_page_lists_only_the_account_that_owns_the_link_and_says_paid(
    platform: Harness,
) -> None:
    merchant = platform.merchant()
    link = _link(platform, merchant)
    first, second = platform.payer(name="Erin"), platform.payer(name="Frank")
    before = platform.http.get(CHECK, params=link, headers=SHOP)
    assert f'data-payer-id="{second["payer_id"]}"' in before.text
    wrong = {**link, "payer_id": str(first["payer_id"]), "password": "000000", "action": "pay"}
    post_form(platform.http, PAY, data=wrong)  # Erin acted first: the link is hers
    owned = platform.http.get(CHECK, params=link, headers=SHOP)
    assert f'data-payer-id="{first["payer_id"]}"' in owned.text
    assert f'data-payer-id="{second["payer_id"]}"' not in owned.text  # would be refused
    assert _pay(platform, link, first)[0] == 200
    paid = platform.http.get(CHECK, params=link, headers=SHOP)
    assert paid.status_code == 200 and 'data-state="paid"' in paid.text
    assert 'name="password"' not in paid.text
