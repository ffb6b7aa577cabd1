"""The console's tools over HTTP: request journal, bills, keys & certificates, settings, clock.

Each test signs in through ``/console/login`` with a cookie-keeping client, as a person's
browser would, and checks what the page does against the merchant API and the control plane.
"""

from __future__ import annotations

import html
import re
from datetime import datetime

import httpx
import pytest
from bill_support import bill, set_clock
from console_support import PASSWORD, as_operator, signed_in
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key, pkcs12

from reference_wire import signed, to_xml
from wxpay_local.sdk.client import Client, FaultError
from wxpay_local.testing import Harness, MerchantInfo, wait_for

pytestmark = pytest.mark.api

IP = "203.0.113.10"


def _csrf(client: httpx.Client, path: str = "/console") -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get(path).text)
    assert found
    return found.group(1)


def _text(page: httpx.Response, element_id: str) -> str:
    """The text of the element with this id (no nesting of the same tag inside)."""
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</', page.text, re.S)
    assert found, element_id
    return html.unescape(re.sub(r"<[^>]+>", "", found.group(1))).strip()


def _native_order(
    platform: Harness, merchant: MerchantInfo, out_trade_no: str, total_fee: int = 1800
) -> dict[str, str]:
    return platform.client(merchant).unifiedorder(
        body="Test shop-latte",
        out_trade_no=out_trade_no,
        total_fee=total_fee,
        spbill_create_ip=IP,
        notify_url="http://127.0.0.1:9/notify",
        trade_type="NATIVE",
        product_id="latte",
    )


def _bad_sign_order(platform: Harness, merchant: MerchantInfo) -> bytes:
    """A unifiedorder signed with a wrong key; the journal must explain it."""
    request = {
        "appid": merchant.apps["official_account"],
        "mch_id": merchant.mch_id,
        "nonce_str": "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
        "body": "测试商城-咖啡",
        "out_trade_no": "BAD-SIGN-1",
        "total_fee": 1800,
        "spbill_create_ip": IP,
        "notify_url": "http://127.0.0.1:9/notify",
        "trade_type": "NATIVE",
        "product_id": "latte",
    }
    body = to_xml(signed(request, "W" * 32))
    answer = platform.http.post("/pay/unifiedorder", content=body)
    assert "签名错误" in answer.text
    return body


def _entry_ids(page: httpx.Response) -> list[int]:
    return [int(i) for i in re.findall(r'data-entry-id="(\d+)"', page.text)]


# journal ----------------------------------------------------------------------------------------
def test_journal_lists_and_details_and_hides_other_merchants(platform: Harness) -> None:
    mine = platform.merchant(console_password=PASSWORD)
    other = platform.merchant(console_password="other-pw-1")
    _native_order(platform, mine, "MINE-1")
    _native_order(platform, other, "OTHER-1")
    wait_for(lambda: len(platform.journal()) >= 2, timeout=5)
    theirs = platform.journal(mch_id=other.mch_id)[0]["id"]
    with signed_in(platform, mine.mch_id) as client:
        listing = client.get("/console/journal")
        assert listing.status_code == 200
        ids = _entry_ids(listing)
        assert len(ids) == 1 and theirs not in ids
        detail = client.get(f"/console/journal/{ids[0]}")
        assert detail.status_code == 200
        assert "MINE-1" in _text(detail, "request-xml")
        assert "prepay_id" in _text(detail, "response-xml")
        assert "&lt;xml&gt;" in detail.text  # the XML is shown escaped, not interpreted
        assert client.get(f"/console/journal/{theirs}").status_code == 404
        assert client.get("/console/journal/99999999").status_code == 404
        # a merchant cannot widen its scope with ?mch_id=
        assert theirs not in _entry_ids(client.get(f"/console/journal?mch_id={other.mch_id}"))
    with as_operator(platform) as client:
        assert {theirs, *ids} <= set(_entry_ids(client.get("/console/journal")))
        only = _entry_ids(client.get(f"/console/journal?mch_id={other.mch_id}"))
        assert only == [theirs]
        assert client.get(f"/console/journal/{theirs}").status_code == 200


def test_journal_filters_and_pages_by_cursor(platform: Harness) -> None:
    merchant = platform.merchant(console_password=PASSWORD)
    for n in range(3):
        _native_order(platform, merchant, f"PAGE-{n}")
    _bad_sign_order(platform, merchant)
    platform.client(merchant).orderquery(out_trade_no="PAGE-0")
    wait_for(lambda: len(platform.journal(mch_id=merchant.mch_id)) >= 5, timeout=5)
    with signed_in(platform, merchant.mch_id) as client:
        everything = _entry_ids(client.get("/console/journal"))
        assert len(everything) == 5 and everything == sorted(everything, reverse=True)
        failures = _entry_ids(client.get("/console/journal?failures=1"))
        assert len(failures) == 1
        queries = _entry_ids(client.get("/console/journal?endpoint=orderquery"))
        assert len(queries) == 1
        older = _entry_ids(client.get(f"/console/journal?before_id={everything[1]}"))
        assert older == everything[2:]


def test_a_bad_sign_shows_the_masked_string_to_sign_never_the_key(platform: Harness) -> None:
    merchant = platform.merchant(console_password=PASSWORD)
    body = _bad_sign_order(platform, merchant)
    entry = wait_for(lambda: platform.journal(mch_id=merchant.mch_id), timeout=5)[0]
    signature = entry["explanation"]["signature"]
    with signed_in(platform, merchant.mch_id) as client:
        listing = client.get("/console/journal?failures=1")
        assert _entry_ids(listing) == [entry["id"]]
        page = client.get(f"/console/journal/{entry['id']}")
        assert page.status_code == 200
        assert _text(page, "sig-algorithm") == "MD5"
        assert _text(page, "sig-expected") == signature["expected"]
        assert _text(page, "sig-received") == signature["received"]
        shown = _text(page, "sig-string")
        assert shown == signature["signed_string"]
        assert "&key=" in shown and "*" in shown.rpartition("&key=")[2]
        assert shown.startswith("appid=" + merchant.apps["official_account"] + "&body=")
        fields = re.search(r'id="sig-fields">(.*?)</dd>', page.text, re.S)
        assert fields and "<code>out_trade_no</code>" in fields.group(1)
        assert "BAD-SIGN-1" in _text(page, "request-xml")
        assert body.decode().count("<") == html.unescape(_text(page, "request-xml")).count("<")
        assert merchant.api_key not in page.text
        assert merchant.api_key.lower() not in page.text.lower()


# bills ------------------------------------------------------------------------------------------
def _a_paid_day(platform: Harness) -> tuple[MerchantInfo, Client]:
    """Two paid orders on 2024-05-01; the platform clock on the 2nd at 10:00."""
    merchant = platform.merchant(console_password=PASSWORD)
    payer = platform.payer(balance=50_000)
    set_clock(platform, "2024-05-01T10:00:00+08:00")
    for n, fee in ((1, 1800), (2, 2500)):
        answer = _native_order(platform, merchant, f"BILL-{n}", fee)
        paid = platform.pay(payer["payer_id"], code_url=answer["code_url"])
        assert paid["outcome"] == "SUCCESS"
    client = platform.client(merchant)
    set_clock(platform, "2024-05-02T10:00:00+08:00")
    return merchant, client


def test_bills_preview_and_downloads_match_the_api(platform: Harness) -> None:
    merchant, client = _a_paid_day(platform)
    api_plain = bill(platform, client, bill_date="20240501", bill_type="ALL")
    api_gzip = bill(platform, client, bill_date="20240501", bill_type="ALL", tar_type="GZIP")
    assert api_plain.status_code == 200 and api_gzip.status_code == 200
    lines = api_plain.content.decode().removeprefix("\ufeff").rstrip("\n").split("\n")
    summary = lines[-1].removeprefix("`").split(",`")
    with signed_in(platform, merchant.mch_id) as console:
        page = console.get("/console/bills")  # default: yesterday on the platform clock
        assert page.status_code == 200
        assert 'value="2024-05-01"' in page.text
        assert _text(page, "bill-count").startswith(f"{len(lines) - 3} rows")
        assert "BILL-1" in page.text and "BILL-2" in page.text
        totals = re.search(r'id="bill-totals".*?<tbody><tr>(.*?)</tr>', page.text, re.S)
        assert totals
        assert re.findall(r"<td[^>]*>(.*?)</td>", totals.group(1)) == summary
        found = re.findall(r'href="([^"]+)" id="download-(plain|gzip)"', page.text)
        links = {kind: url for url, kind in found}
        plain = console.get(html.unescape(links["plain"]))
        packed = console.get(html.unescape(links["gzip"]))
        assert plain.status_code == 200 and plain.content == api_plain.content
        assert packed.status_code == 200 and packed.content == api_gzip.content
        assert packed.content[:2] == b"\x1f\x8b"
        success = console.get("/console/bills/download?date=20240501&bill_type=SUCCESS")
        api_success = bill(platform, client, bill_date="20240501", bill_type="SUCCESS")
        assert success.status_code == 200 and success.content == api_success.content
        none = console.get("/console/bills?date=2024-05-01&bill_type=REFUND")
        assert "No Bill Exist" in _text(none, "bill-problem")
        # one message: generated but empty, never "exists" in green beside "No Bill Exist"
        assert "has no rows of this type" in _text(none, "bill-when")
        assert 'class="bill-when ok"' not in none.text and 'class="form-error"' not in none.text


def test_fund_flow_preview_and_download_match_the_api(platform: Harness) -> None:
    """downloadfundflow needs the API certificate; ``/_local/fundflow`` serves its bytes."""
    merchant, _ = _a_paid_day(platform)
    for tar in ("", "GZIP"):
        api = platform.http.get(
            f"/_local/fundflow/{merchant.mch_id}/20240501",
            params={"account_type": "Basic", "tar_type": tar},
        )
        assert api.status_code == 200
        with signed_in(platform, merchant.mch_id) as console:
            query = f"kind=fund&date=2024-05-01&account_type=Basic&tar_type={tar}"
            assert console.get("/console/bills/download?" + query).content == api.content
    with signed_in(platform, merchant.mch_id) as console:
        page = console.get("/console/bills?kind=fund&date=2024-05-01&account_type=Basic")
        assert page.status_code == 200 and "BILL-1" in page.text
        empty = console.get("/console/bills?kind=fund&date=2024-05-01&account_type=Fees")
        assert "NO_BILL_EXIST" in _text(empty, "bill-problem")


def test_bills_say_when_a_day_will_exist(platform: Harness) -> None:
    merchant = platform.merchant(console_password=PASSWORD)
    set_clock(platform, "2024-05-02T08:30:00+08:00")
    with signed_in(platform, merchant.mch_id) as console:
        creating = console.get("/console/bills?date=2024-05-01")
        assert creating.status_code == 409
        assert "2024-05-02 09:00" in _text(creating, "bill-when")
        today = console.get("/console/bills?date=20240502")
        assert "is today" in _text(today, "bill-when")
        assert "2024-05-03 09:00" in _text(today, "bill-when")
        none = console.get("/console/bills?date=2024-04-30")
        assert none.status_code == 200 and "No Bill Exist" in _text(none, "bill-problem")
        refused = console.get("/console/bills/download?date=2024-05-01")
        assert refused.status_code == 409


def test_the_operator_chooses_the_merchant_for_bills(platform: Harness) -> None:
    merchant, _ = _a_paid_day(platform)
    with as_operator(platform) as console:
        assert "Choose a merchant" in console.get("/console/bills").text
        page = console.get(f"/console/bills?mch_id={merchant.mch_id}&date=2024-05-01")
        assert page.status_code == 200 and "BILL-2" in page.text
        assert console.get("/console/bills?mch_id=1999999999").status_code == 404


# keys and certificates ---------------------------------------------------------------------------
def test_rotating_the_api_key_refuses_the_old_one_at_once(platform: Harness) -> None:
    merchant = platform.merchant(console_password=PASSWORD)
    _native_order(platform, merchant, "KEY-1")
    old_client = platform.client(merchant)
    with signed_in(platform, merchant.mch_id) as console:
        page = console.get("/console/keys")
        assert merchant.api_key[-4:] in _text(page, "api-key")
        assert merchant.api_key not in _text(page, "api-key")  # masked until revealed
        confirm = console.get("/console/keys/rotate/key")
        assert confirm.status_code == 200 and 'name="confirm" value="yes"' in confirm.text
        csrf = _csrf(console, "/console/keys/rotate/key")
        unconfirmed = console.post("/console/keys/rotate/key", data={"csrf": csrf})
        assert unconfirmed.status_code == 400
        done = console.post("/console/keys/rotate/key", data={"csrf": csrf, "confirm": "yes"})
        assert done.status_code == 303
        shown = console.get(done.headers["location"])
        new_key = _text(shown, "api-key")
    assert len(new_key) == 32 and new_key != merchant.api_key
    with pytest.raises(FaultError) as refused:
        old_client.orderquery(out_trade_no="KEY-1")
    assert refused.value.return_msg == "签名错误"
    fresh = Client(
        platform.base_url,
        mch_id=merchant.mch_id,
        api_key=new_key,
        appid=merchant.apps["official_account"],
        http=platform.http,
    )
    assert fresh.orderquery(out_trade_no="KEY-1")["trade_state"] == "NOTPAY"


def test_certificate_downloads_parse_and_rotation_revokes(platform: Harness) -> None:
    merchant = platform.merchant(console_password=PASSWORD)
    with signed_in(platform, merchant.mch_id) as console:
        assert "No certificate issued yet" in console.get("/console/keys").text
        pem = console.get("/console/keys/files/apiclient_cert.pem")
        assert pem.status_code == 200
        cert = x509.load_pem_x509_certificate(pem.content)
        key = load_pem_private_key(
            console.get("/console/keys/files/apiclient_key.pem").content, None
        )
        assert key.public_key().public_numbers() == cert.public_key().public_numbers()  # type: ignore[union-attr]
        bundle = console.get("/console/keys/files/apiclient_cert.p12").content
        p12_key, p12_cert, _ = pkcs12.load_key_and_certificates(bundle, merchant.mch_id.encode())
        assert p12_cert is not None and p12_cert.serial_number == cert.serial_number
        assert p12_key is not None
        ca = x509.load_pem_x509_certificate(console.get("/console/keys/files/rootca.pem").content)
        assert cert.issuer == ca.subject
        old_serial = format(cert.serial_number, "X")
        page = console.get("/console/keys")
        assert page.text.upper().count(old_serial) == 1
        csrf = _csrf(console, "/console/keys")
        done = console.post("/console/keys/rotate/cert", data={"csrf": csrf, "confirm": "yes"})
        assert done.status_code == 303
        after = console.get(done.headers["location"]).text
        assert "revoked" in after and "current" in after
        new = x509.load_pem_x509_certificate(
            console.get("/console/keys/files/apiclient_cert.pem").content
        )
        assert new.serial_number != cert.serial_number
        assert console.get("/console/keys/files/other.pem").status_code == 404
        badges = re.findall(r'<span class="badge (\w+)">', after)
        assert badges == ["ok", "fail"]  # newest first: the new one current, the old revoked


# settings ---------------------------------------------------------------------------------------
def test_settings_are_saved_and_validated(platform: Harness) -> None:
    merchant = platform.merchant(console_password=PASSWORD)
    config = f"/_local/merchants/{merchant.mch_id}/config"
    with signed_in(platform, merchant.mch_id) as console:
        page = console.get("/console/settings")
        for name in ("native_callback_url", "h5_domains", "jsapi_directories", "oauth_domains"):
            assert f'name="{name}"' in page.text
        csrf = _csrf(console, "/console/settings")
        good = {
            "csrf": csrf,
            "native_callback_url": "https://shop.example.com/scan",
            "h5_domains": "shop.example.com\nm.example.com",
            "jsapi_directories": "https://shop.example.com/pay/",
            "oauth_domains": "",
            "refund_notify_url": "https://shop.example.com/refund-notify",
            "notify_sign_type": "ORDER",
        }
        saved = console.post("/console/settings", data=good)
        assert saved.status_code == 303
        assert "已保存" in console.get(saved.headers["location"]).text
        stored = platform.control("GET", config)
        assert stored["h5_domains"] == ["shop.example.com", "m.example.com"]
        assert stored["native_callback_url"] == "https://shop.example.com/scan"
        assert stored["notify_sign_type"] == "ORDER"
        assert '<option value="ORDER" selected>' in console.get("/console/settings").text
        wrong_type = console.post("/console/settings", data={**good, "notify_sign_type": "SHA1"})
        assert wrong_type.status_code == 400 and "notify_sign_type" in wrong_type.text
        bad = {**good, "jsapi_directories": "ftp://nope", "refund_notify_url": "https://x.example/"}
        refused = console.post("/console/settings", data=bad)
        assert refused.status_code == 400
        assert "jsapi_directories" in _text(refused, "form-error")
        assert "ftp://nope" in refused.text  # what was typed stays on the form
        bad_url = console.post("/console/settings", data={**good, "refund_notify_url": "nope"})
        assert bad_url.status_code == 400 and "refund_notify_url" in bad_url.text
        page = console.get("/console/settings")
        assert 'value="https://shop.example.com/refund-notify"' in page.text
    assert platform.control("GET", config) == stored


# clock ------------------------------------------------------------------------------------------
def test_clock_advance_moves_the_platform_clock(platform: Harness) -> None:
    merchant = platform.merchant(console_password=PASSWORD)
    before = datetime.fromisoformat(platform.control("GET", "/_local/clock")["now"])
    with signed_in(platform, merchant.mch_id) as console:
        assert "Platform-wide" in console.get("/console/clock").text
        csrf = _csrf(console, "/console/clock")
        moved = console.post(
            "/console/clock", data={"csrf": csrf, "action": "advance", "seconds": "86400"}
        )
        assert moved.status_code == 303
        state = platform.control("GET", "/_local/clock")
        assert state["offset_seconds"] >= 86400
        assert (datetime.fromisoformat(state["now"]) - before).total_seconds() >= 86400
        page = console.get("/console/clock")
        assert _text(page, "clock-offset").startswith("+1d")
        frozen = console.post(
            "/console/clock",
            data={"csrf": csrf, "action": "set", "now": "2030-01-02T03:04:05", "freeze": "1"},
        )
        assert frozen.status_code == 303
        state = platform.control("GET", "/_local/clock")
        assert state["frozen"] and state["now"].startswith("2030-01-02T03:04:05+08:00")
        assert "2030-01-02 03:04:05" in _text(console.get("/console/clock"), "clock-now")
        back = console.post("/console/clock", data={"csrf": csrf, "action": "real"})
        assert back.status_code == 303
        state = platform.control("GET", "/_local/clock")
        assert not state["frozen"] and abs(state["offset_seconds"]) < 1


# CSRF and odd input -----------------------------------------------------------------------------
POSTS = [
    ("/console/keys/rotate/key", {"confirm": "yes"}),
    ("/console/keys/rotate/cert", {"confirm": "yes"}),
    ("/console/settings", {"native_callback_url": "https://evil.example/"}),
    ("/console/clock", {"action": "advance", "seconds": "3600"}),
]


def test_every_post_needs_the_csrf_token(platform: Harness) -> None:
    merchant = platform.merchant(console_password=PASSWORD)
    clock = platform.control("GET", "/_local/clock")
    with signed_in(platform, merchant.mch_id) as console:
        for path, data in POSTS:
            for token in ({}, {"csrf": "forged"}):
                answer = console.post(path, data={**data, **token})
                assert answer.status_code == 403, (path, token, answer.status_code)
    assert platform.control("GET", f"/_local/merchants/{merchant.mch_id}")["api_key"] == (
        merchant.api_key
    )
    assert platform.control("GET", f"/_local/merchants/{merchant.mch_id}/config")[
        "native_callback_url"
    ] == ("")
    assert (
        abs(platform.control("GET", "/_local/clock")["offset_seconds"] - clock["offset_seconds"])
        < 5
    )


ODD_GETS = [
    "/console/journal?before_id=abc",
    "/console/journal?before_id=99999999999999999999999",
    "/console/journal?endpoint=%00&failures=yes",
    "/console/journal?mch_id=%F0%9F%92%A9",
    "/console/journal/-1",
    "/console/journal/1e9",
    "/console/journal/" + "9" * 40,
    "/console/bills?date=2024-13-45",
    "/console/bills?date=" + "x" * 5000,
    "/console/bills?bill_type=EVERYTHING",
    "/console/bills?kind=fund&account_type=Savings",
    "/console/bills?mch_id=abc",
    "/console/bills/download?date=19700101&tar_type=ZIP",
    "/console/keys?mch_id=' OR 1=1",
    "/console/keys/files/..%2F..%2Fetc%2Fpasswd",
    "/console/keys/rotate/everything",
    "/console/settings?mch_id=%00",
    "/console/clock?x=%ff",
]


def test_odd_input_is_never_a_server_error(platform: Harness) -> None:
    merchant = platform.merchant(console_password=PASSWORD)
    with signed_in(platform, merchant.mch_id) as console:
        for path in ODD_GETS:
            answer = console.get(path)
            assert answer.status_code < 500, (path, answer.status_code)
        csrf = _csrf(console)
        odd_posts = [
            ("/console/clock", {"action": "advance", "seconds": "-5"}),
            ("/console/clock", {"action": "advance", "seconds": "9" * 12}),
            ("/console/clock", {"action": "advance", "seconds": "1.5"}),
            ("/console/clock", {"action": "set", "now": "yesterday"}),
            ("/console/clock", {"action": "set", "now": "9999-12-31T23:59:59"}),
            ("/console/clock", {"action": "teleport"}),
            ("/console/settings", {"h5_domains": "\n".join(["a.example"] * 50)}),
            ("/console/settings", {"native_callback_url": "x" * 3000}),
            ("/console/settings", {"oauth_domains": "bad host!"}),
            ("/console/settings", {"mch_id": "1"}),
            ("/console/keys/rotate/key", {"mch_id": "abc", "confirm": "yes"}),
        ]
        for path, data in odd_posts:
            answer = console.post(path, data={"csrf": csrf, **data})
            assert answer.status_code < 500, (path, data, answer.status_code, answer.text[:300])
            assert answer.status_code in (303, 400, 404), (path, data, answer.status_code)
        raw = console.post(
            "/console/settings", content=b"\xff\xfe", headers={"content-type": "text/plain"}
        )
        assert raw.status_code == 400
    platform.control("POST", "/_local/clock", {"real": True})


def test_settings_show_every_bad_field_at_once_beside_it(platform: Harness) -> None:
    merchant = platform.merchant(console_password=PASSWORD)
    with signed_in(platform, merchant.mch_id) as console:
        csrf = _csrf(console, "/console/settings")
        bad = {
            "csrf": csrf,
            "mch_id": merchant.mch_id,
            "native_callback_url": "not a url",
            "h5_domains": "shop.example.com",
            "jsapi_directories": "ftp://nope",
            "oauth_domains": "bad host!",
            "refund_notify_url": "nope",
        }
        refused = console.post("/console/settings", data=bad)
    assert refused.status_code == 400
    for name in ("native_callback_url", "jsapi_directories", "oauth_domains", "refund_notify_url"):
        assert f'aria-describedby="error-{name}"' in refused.text, name
        assert name in _text(refused, f"error-{name}")
    assert 'id="error-h5_domains"' not in refused.text  # a good field has no error
    assert "4 fields to correct" in _text(refused, "form-error")
    assert re.search(r'id="native_callback_url" value="not a url"[^>]*autofocus', refused.text)
