"""Native mode 1 (spec §6.3) over HTTP: a static product URL, the merchant's scan callback on a
loopback server of its own (it calls unifiedorder on the platform before answering), the
cashier for the prepay_id it names, and every way the scan can fail, on the phone page and
through ``POST /_local/scan``."""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from pages_support import post_form

from reference_wire import from_xml, to_xml, v2_sign
from wxpay_local.sdk import bizpayurl, scan_reply, verify_scan
from wxpay_local.testing import Harness, MerchantInfo, MerchantSink, wait_for, xml_endpoint
from wxpay_local.testing.harness import free_port

pytestmark = pytest.mark.api

Reply = Callable[[dict[str, str]], tuple[int, bytes]]


class ScanCallback:
    """A merchant's scan callback: verifies what the platform sends, makes the order through
    the SDK client, and answers; ``reply`` replaces the answer for failure tests."""

    def __init__(self, platform: Harness, merchant: MerchantInfo, notify_url: str) -> None:
        self.platform, self.merchant, self.notify_url = platform, merchant, notify_url
        self.received: list[dict[str, str]] = []
        self.reply: Reply | None = None
        self.numbers = itertools.count(1)

    def order_for(self, fields: dict[str, str]) -> str:
        payer = {"openid": fields["openid"]} if fields.get("openid") else {}
        answer = self.platform.client(self.merchant).unifiedorder(
            body="Corner shop-Product " + fields["product_id"],
            out_trade_no=f"M1-{next(self.numbers)}",
            total_fee=1250,
            spbill_create_ip="203.0.113.10",
            notify_url=self.notify_url,
            trade_type="NATIVE",
            product_id=fields["product_id"],
            **payer,
        )
        return answer["prepay_id"]

    def answer(self, body: bytes) -> tuple[int, bytes]:
        fields = verify_scan(body, self.merchant.api_key)  # the platform signs it right
        self.received.append(fields)
        if self.reply is not None:
            return self.reply(fields)
        key, appid = self.merchant.api_key, fields["appid"]
        return 200, scan_reply(key, appid, self.merchant.mch_id, self.order_for(fields))

    def serving(self) -> AbstractContextManager[str]:
        return xml_endpoint(self.answer, "/wxpay/scan")


def _configure(platform: Harness, merchant: MerchantInfo, callback_url: str) -> None:
    path = f"/_local/merchants/{merchant.mch_id}/config"
    platform.control("POST", path, {"native_callback_url": callback_url})


def _url(merchant: MerchantInfo, product_id: str = "P0001", **changes: str) -> str:
    fields = {
        "appid": merchant.apps["official_account"],
        "mch_id": merchant.mch_id,
        "product_id": product_id,
        "api_key": merchant.api_key,
        **changes,
    }
    return bizpayurl(**fields)


@pytest.fixture
def shop(platform: Harness, sink: MerchantSink) -> Iterator[tuple[MerchantInfo, ScanCallback]]:
    merchant = platform.merchant(name="Corner shop")
    callback = ScanCallback(platform, merchant, sink.url)
    with callback.serving() as url:
        _configure(platform, merchant, url)
        yield merchant, callback


def test_a_person_scans_a_product_qr_and_pays_on_the_phone(
    platform: Harness, shop: tuple[MerchantInfo, ScanCallback], sink: MerchantSink
) -> None:
    merchant, callback = shop
    code_url = _url(merchant)
    payer = platform.payer(balance=10_000, name="Alice", cards=["CMB_DEBIT"])
    qr = platform.http.get("/pay/qr", params={"code_url": code_url})
    assert qr.status_code == 200 and "<svg" in qr.text and "Corner shop" in qr.text
    assert 'id="product-id">P0001<' in qr.text and "¥" not in qr.text
    listing = platform.http.get("/phone", params={"code_url": code_url})
    assert listing.status_code == 200 and 'id="product"' in listing.text
    assert not callback.received  # choosing who scans comes first
    scanned = platform.http.get(
        "/phone/scan", params={"payer_id": payer["payer_id"], "code_url": code_url}
    )
    assert scanned.status_code == 303
    opened = parse_qs(urlsplit(scanned.headers["location"]).query)
    prepay_id = opened["prepay_id"][0]
    [fields] = callback.received
    appid = merchant.apps["official_account"]
    assert fields["openid"] == platform.openid(payer["payer_id"], appid)
    assert (fields["appid"], fields["mch_id"], fields["product_id"]) == (
        appid,
        merchant.mch_id,
        "P0001",
    )
    assert fields["is_subscribe"] in ("Y", "N") and fields["nonce_str"]
    cashier = platform.http.get(scanned.headers["location"])
    assert (
        cashier.status_code == 200 and "12.50" in cashier.text and "Product P0001" in cashier.text
    )
    card_id = re.search(r'name="method" value="(\d+)"', cashier.text)
    assert card_id is not None
    form = {"payer_id": str(payer["payer_id"]), "prepay_id": prepay_id, "method": card_id[1]}
    paid = post_form(
        platform.http,
        "/phone/pay",
        data={**form, "password": payer["pay_password"], "action": "pay"},
    )
    assert paid.status_code == 200 and 'data-outcome="SUCCESS"' in paid.text
    query = platform.client(merchant).orderquery(out_trade_no="M1-1")
    assert query["trade_state"] == "SUCCESS" and query["bank_type"] == "CMB_DEBIT"
    assert query["openid"] == fields["openid"]
    wait_for(lambda: sink.received)
    assert b"M1-1" in sink.received[0].body
    entries = wait_for(
        lambda: [e for e in platform.journal() if e["endpoint"] == "native_scan_callback"]
    )
    assert entries[0]["mch_id"] == merchant.mch_id and entries[0]["result_code"] == "SUCCESS"


def test_a_short_url_of_a_product_qr_works_and_the_control_plane_scans(
    platform: Harness, shop: tuple[MerchantInfo, ScanCallback]
) -> None:
    merchant, callback = shop
    payer = platform.payer(name="Bob")
    short = platform.client(merchant).call("/tools/shorturl", long_url=_url(merchant, "P0002"))
    qr = platform.http.get("/pay/qr", params={"code_url": short["short_url"]})
    assert qr.status_code == 200 and "P0002" in qr.text
    body = {"payer_id": payer["payer_id"], "code_url": short["short_url"]}
    scanned = platform.control("POST", "/_local/scan", body)
    assert scanned["mode"] == 1 and scanned["order"]["trade_state"] == "NOTPAY"
    assert scanned["merchant"] == "Corner shop" and scanned["prepay_id"]
    assert callback.received[0]["product_id"] == "P0002"
    paid = platform.pay(
        payer["payer_id"], prepay_id=scanned["prepay_id"], password=payer["pay_password"]
    )
    assert paid["outcome"] == "SUCCESS"
    mode2 = platform.client(merchant).unifiedorder(
        body="Corner shop-Tea",
        out_trade_no="M2-1",
        total_fee=300,
        spbill_create_ip="203.0.113.10",
        notify_url="http://127.0.0.1:9/notify",
        trade_type="NATIVE",
        product_id="tea",
    )
    resolved = platform.control(
        "POST", "/_local/scan", {"payer_id": payer["payer_id"], "code_url": mode2["code_url"]}
    )
    assert resolved["mode"] == 2 and resolved["order"]["out_trade_no"] == "M2-1"
    assert resolved["prepay_id"] == mode2["prepay_id"]
    assert len(callback.received) == 1
    assert "/_local/scan" in platform.control("GET", "/_local/openapi.json")["paths"]


def _signed(merchant: MerchantInfo, fields: dict[str, str | int], sign: str = "") -> bytes:
    fields = {**fields}
    fields["sign"] = sign or v2_sign(fields, merchant.api_key)
    return to_xml(fields)


def _reply(merchant: MerchantInfo, prepay_id: str, **changes: str) -> dict[str, str | int]:
    return {
        "return_code": "SUCCESS",
        "appid": merchant.apps["official_account"],
        "mch_id": merchant.mch_id,
        "nonce_str": "abc",
        "prepay_id": prepay_id,
        "result_code": "SUCCESS",
        **changes,
    }


def _paid_prepay_id(platform: Harness, merchant: MerchantInfo, callback: ScanCallback) -> str:
    prepay_id = callback.order_for({"product_id": "P0001", "openid": ""})
    payer = platform.payer()
    assert platform.pay(payer["payer_id"], prepay_id=prepay_id)["outcome"] == "SUCCESS"
    return prepay_id


def _jsapi_prepay_id(platform: Harness, merchant: MerchantInfo, _: ScanCallback) -> str:
    payer = platform.payer()
    appid = merchant.apps["official_account"]
    return platform.client(merchant).unifiedorder(
        body="Corner shop-JSAPI",
        out_trade_no="JS-1",
        total_fee=100,
        spbill_create_ip="203.0.113.10",
        notify_url="http://127.0.0.1:9/notify",
        trade_type="JSAPI",
        openid=platform.openid(payer["payer_id"], appid),
    )["prepay_id"]


def _answer_with(prepay: Callable[[Harness, MerchantInfo, ScanCallback], str]) -> Any:
    def setup(platform: Harness, merchant: MerchantInfo, callback: ScanCallback) -> None:
        prepay_id = prepay(platform, merchant, callback)
        callback.reply = lambda f: (200, _signed(merchant, _reply(merchant, prepay_id)))

    return setup


def _reply_with(make: Callable[[MerchantInfo, ScanCallback, dict[str, str]], bytes]) -> Any:
    def setup(platform: Harness, merchant: MerchantInfo, callback: ScanCallback) -> None:
        callback.reply = lambda f: (200, make(merchant, callback, f))

    return setup


def _slow(platform: Harness, merchant: MerchantInfo, callback: ScanCallback) -> None:
    def reply(fields: dict[str, str]) -> tuple[int, bytes]:
        # Far past the harness's 2 s callback timeout, however loaded the machine (3 s was a
        # race); nothing sets the event, and the handler's daemon thread is not joined.
        threading.Event().wait(30)
        return 200, b"<xml></xml>"

    callback.reply = reply


def _unreachable(platform: Harness, merchant: MerchantInfo, callback: ScanCallback) -> None:
    _configure(platform, merchant, f"http://127.0.0.1:{free_port()}/gone")


def _no_callback(platform: Harness, merchant: MerchantInfo, callback: ScanCallback) -> None:
    platform.control(
        "POST", f"/_local/merchants/{merchant.mch_id}/config", {"native_callback_url": ""}
    )


def _nothing(platform: Harness, merchant: MerchantInfo, callback: ScanCallback) -> None:
    pass


def _made(merchant: MerchantInfo, callback: ScanCallback, fields: dict[str, str]) -> str:
    return callback.order_for(fields)


FAILURES = [
    # (name, how the URL is made, setup, status, error code, what the person sees)
    ("tampered", lambda m, p: _url(m).replace("P0001", "P0009"), _nothing, 400, "BAD_SIGN", "签名"),
    ("wrong key", lambda m, p: _url(m, api_key="k" * 32), _nothing, 400, "BAD_SIGN", "签名"),
    ("unsigned", lambda m, p: re.sub("sign=[^&]*&", "", _url(m)), _nothing, 400, "BAD_URL", "无效"),
    (
        "unknown merchant",
        lambda m, p: _url(m, mch_id="1999999999"),
        _nothing,
        404,
        "NO_MERCHANT",
        "商户",
    ),
    (
        "unbound appid",
        lambda m, p: _url(m, appid=p.merchant(name="Other").apps["official_account"]),
        _nothing,
        400,
        "APPID_NOT_BOUND",
        "商户",
    ),
    ("no callback", lambda m, p: _url(m), _no_callback, 400, "NO_CALLBACK_URL", "回调"),
    ("unreachable", lambda m, p: _url(m), _unreachable, 424, "CALLBACK_UNREACHABLE", "繁忙"),
    ("timeout", lambda m, p: _url(m), _slow, 424, "CALLBACK_TIMEOUT", "繁忙"),
    (
        "http 500",
        lambda m, p: _url(m),
        lambda p, m, c: setattr(c, "reply", lambda f: (500, b"oops")),
        424,
        "CALLBACK_HTTP_STATUS",
        "繁忙",
    ),
    (
        "not xml",
        lambda m, p: _url(m),
        _reply_with(lambda m, c, f: b"<html>prepay_id=wx1</html>"),
        424,
        "CALLBACK_NOT_XML",
        "繁忙",
    ),
    (
        "bad reply sign",
        lambda m, p: _url(m),
        _reply_with(lambda m, c, f: _signed(m, _reply(m, _made(m, c, f)), sign="0" * 32)),
        424,
        "CALLBACK_BAD_SIGN",
        "繁忙",
    ),
    (
        "return FAIL",
        lambda m, p: _url(m),
        _reply_with(
            lambda m, c, f: to_xml({"return_code": "FAIL", "return_msg": "签名失败 (merchant)"})
        ),
        424,
        "CALLBACK_FAIL",
        "签名失败 (merchant)",
    ),
    (
        "result FAIL",
        lambda m, p: _url(m),
        _reply_with(
            lambda m, c, f: scan_reply(m.api_key, f["appid"], m.mch_id, err_code_des="已售罄")
        ),
        424,
        "CALLBACK_RESULT_FAIL",
        "已售罄",
    ),
    (
        "other appid echoed",
        lambda m, p: _url(m),
        _reply_with(
            lambda m, c, f: _signed(m, _reply(m, _made(m, c, f), appid="wx0000000000000000"))
        ),
        424,
        "CALLBACK_MISMATCH",
        "繁忙",
    ),
    (
        "unknown prepay_id",
        lambda m, p: _url(m),
        _reply_with(lambda m, c, f: _signed(m, _reply(m, "wx20240101000000nope"))),
        424,
        "UNKNOWN_PREPAY_ID",
        "繁忙",
    ),
    (
        "a JSAPI prepay_id",
        lambda m, p: _url(m),
        _answer_with(_jsapi_prepay_id),
        424,
        "UNKNOWN_PREPAY_ID",
        "繁忙",
    ),
    (
        "paid order",
        lambda m, p: _url(m),
        _answer_with(_paid_prepay_id),
        409,
        "ORDER_PAID",
        "已支付",
    ),
]


@pytest.mark.parametrize(
    ("make_url", "setup", "status", "code", "shown"),
    [pytest.param(*case[1:], id=case[0]) for case in FAILURES],
)
def test_a_failed_scan_tells_the_person_and_the_developer(
    platform: Harness,
    shop: tuple[MerchantInfo, ScanCallback],
    make_url: Callable[[MerchantInfo, Harness], str],
    setup: Callable[[Harness, MerchantInfo, ScanCallback], None],
    status: int,
    code: str,
    shown: str,
) -> None:
    merchant, callback = shop
    code_url = make_url(merchant, platform)
    setup(platform, merchant, callback)
    payer = platform.payer(name="Carol")
    answer = platform.http.post(
        "/_local/scan", json={"payer_id": payer["payer_id"], "code_url": code_url}
    )
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["error"] == code and shown in body["payer_message"] and body["message"]
    page = platform.http.get(
        "/phone/scan", params={"payer_id": payer["payer_id"], "code_url": code_url}
    )
    assert page.status_code == status and f'data-error="{code}"' in page.text
    assert shown in page.text and 'id="scan-details"' in page.text
    reason = re.search(r'id="scan-reason">([^<]*)<', page.text)
    assert reason is not None and reason[1].strip()


def test_bad_input_on_the_scan_op_and_pages_is_never_a_server_error(
    platform: Harness, shop: tuple[MerchantInfo, ScanCallback]
) -> None:
    merchant, _ = shop
    payer = platform.payer()
    good = _url(merchant)
    odd = [
        "",
        "weixin://wxpay/bizpayurl",
        "weixin://wxpay/bizpayurl?sign=&appid=",
        good + "&sign=X",
        good.replace("sign=", "sign=%ff"),
        good + "&pr=abc",
        "weixin://wxpay/s/nope",
        "x" * 3000,
    ]
    for code_url in odd:
        for payer_id in (payer["payer_id"], 10**9):
            answer = platform.http.post(
                "/_local/scan", json={"payer_id": payer_id, "code_url": code_url}
            )
            assert 400 <= answer.status_code < 500, (code_url, answer.text)
            for path in ("/phone/scan", "/phone", "/pay/qr"):
                page = platform.http.get(path, params={"payer_id": payer_id, "code_url": code_url})
                assert page.status_code < 500, (path, code_url, page.text[:300])
    missing = platform.http.post("/_local/scan", json={"payer_id": payer["payer_id"]})
    assert missing.status_code == 400
    wrong = platform.http.get("/phone", params={"payer_id": payer["payer_id"], "prepay_id": "x"})
    assert wrong.status_code == 404
    query = urlencode({"payer_id": payer["payer_id"], "code_url": good})
    assert platform.http.get("/phone?" + query).status_code == 303  # a mode-1 scan: see above
    assert from_xml(scan_reply(merchant.api_key, "wx1", "1", "p"))["prepay_id"] == "p"
