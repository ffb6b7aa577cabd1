"""The signature doctor names the wrong construction that made a failed sign (issue 17).

Each request below is built the wrong way with an independent signer (``reference_wire`` and
hashlib here, never the platform's own), and the journal entry must name that construction;
a sign that is simply wrong, or correct but for another order, gets no cause at all. Another
merchant's key is named as such, never shown; the journal keeps the received bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from typing import Any
from urllib.parse import quote

import pytest
from console_support import PASSWORD, signed_in

from reference_wire import HMAC, MD5, canonical, signed, to_xml, v2_sign
from wxpay_local.testing import Harness, MerchantInfo, wait_for

pytestmark = pytest.mark.api

NONCE = "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"
SIGN_ERROR = "签名错误"


def _order(merchant: MerchantInfo, **extra: object) -> dict[str, object]:
    return {
        "appid": merchant.apps["official_account"],
        "mch_id": merchant.mch_id,
        "nonce_str": NONCE,
        "body": "测试商城-咖啡",
        "out_trade_no": "DOC001",
        "total_fee": 1800,
        "spbill_create_ip": "203.0.113.10",
        "notify_url": "http://127.0.0.1:9/wxpay/notify?a=1&b=2",
        "trade_type": "NATIVE",
        "product_id": "latte",
        **extra,
    }


def _md5(text: str, encoding: str = "utf-8") -> str:
    return hashlib.md5(text.encode(encoding)).hexdigest().upper()


def _send(platform: Harness, path: str, fields: dict[str, object]) -> dict[str, Any]:
    """POST the fields as XML and return the journal entry that explains the failure."""
    response = platform.http.post(path, content=to_xml(fields))
    assert response.status_code == 200 and b"<return_code><![CDATA[FAIL]]>" in response.content
    mch_id = str(fields["mch_id"])

    def entry() -> dict[str, Any] | None:
        found = [e for e in platform.journal(mch_id=mch_id) if e["path"] == path]
        return found[0] if found else None

    found = wait_for(entry, timeout=5)
    assert found["return_code"] == "FAIL"
    return found


def _cause(entry: dict[str, Any]) -> str:
    signature = entry["explanation"]["signature"]
    assert signature["cause"] == "" or signature["cause"] in signature["hints"]
    return str(signature["cause"])


def test_production_key_on_a_sandbox_path_and_the_reverse(platform: Harness) -> None:
    merchant = platform.merchant()
    got = platform.http.post(
        "/sandboxnew/pay/getsignkey",
        content=to_xml(signed({"mch_id": merchant.mch_id, "nonce_str": NONCE}, merchant.api_key)),
    )
    sandbox_key = re.search(rb"<sandbox_signkey><!\[CDATA\[(\w+)\]\]>", got.content)
    assert sandbox_key is not None
    fields = _order(merchant)
    on_sandbox = _send(platform, "/sandboxnew/pay/unifiedorder", signed(fields, merchant.api_key))
    cause = _cause(on_sandbox)
    assert "production API key" in cause and "sandbox path" in cause
    on_production = _send(platform, "/pay/unifiedorder", signed(fields, sandbox_key[1].decode()))
    cause = _cause(on_production)
    assert "sandbox key" in cause and "production path" in cause


def test_the_key_rotated_away_is_named_with_when(platform: Harness) -> None:
    merchant = platform.merchant(console_password=PASSWORD)
    with signed_in(platform, merchant.mch_id) as console:
        page = console.get("/console/keys/rotate/key")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None
        done = console.post("/console/keys/rotate/key", data={"csrf": csrf[1], "confirm": "yes"})
        assert done.status_code == 303
    entry = _send(platform, "/pay/unifiedorder", signed(_order(merchant), merchant.api_key))
    cause = _cause(entry)
    assert "previous API key" in cause
    assert re.search(r"replaced at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", cause), cause
    assert merchant.api_key not in str(entry)  # the old key itself is never shown


def test_another_merchants_key_is_named_but_never_shown(platform: Harness) -> None:
    merchant, other = platform.merchant(), platform.merchant()
    entry = _send(platform, "/pay/unifiedorder", signed(_order(merchant), other.api_key))
    assert "another merchant's API key" in _cause(entry)
    assert other.api_key not in str(entry) and other.mch_id not in str(entry)


def test_sign_included_in_the_string_signed(platform: Harness) -> None:
    merchant = platform.merchant()
    fields = _order(merchant)
    right = v2_sign(fields, merchant.api_key)
    # an SDK that signs the dict again after putting the first sign into it
    text = "&".join(
        f"{k}={v}"
        for k, v in sorted({**{k: str(v) for k, v in fields.items()}, "sign": right}.items())
    )
    resigned = _md5(text + "&key=" + merchant.api_key)
    entry = _send(platform, "/pay/unifiedorder", {**fields, "sign": resigned})
    assert "sign field itself was included" in _cause(entry)


def test_url_encoded_values(platform: Harness) -> None:
    merchant = platform.merchant()
    fields = _order(merchant)
    encoded = {k: quote(str(v), safe="") for k, v in fields.items()}
    entry = _send(
        platform, "/pay/unifiedorder", {**fields, "sign": v2_sign(encoded, merchant.api_key)}
    )
    assert "URL-encoded" in _cause(entry)


def test_gbk_encoded_string(platform: Harness) -> None:
    merchant = platform.merchant()
    fields = _order(merchant)
    gbk = _md5(canonical(fields) + "&key=" + merchant.api_key, "gbk")
    entry = _send(platform, "/pay/unifiedorder", {**fields, "sign": gbk})
    assert "GBK" in _cause(entry)


@pytest.mark.parametrize("padded", ["{key}\n", " {key}", "{key} "])
def test_whitespace_around_the_key(platform: Harness, padded: str) -> None:
    merchant = platform.merchant()
    fields = _order(merchant)
    key = padded.format(key=merchant.api_key)
    entry = _send(platform, "/pay/unifiedorder", {**fields, "sign": v2_sign(fields, key)})
    assert "whitespace" in _cause(entry)


def test_todays_causes_lowercase_and_hmac_under_md5_and_empty_fields(platform: Harness) -> None:
    merchant = platform.merchant()
    fields = _order(merchant)
    lower = _send(
        platform, "/pay/unifiedorder", {**fields, "sign": v2_sign(fields, merchant.api_key).lower()}
    )
    assert "not uppercase" in _cause(lower)
    hmac_sign = v2_sign(fields, merchant.api_key, HMAC)
    under_md5 = _send(platform, "/pay/unifiedorder", {**fields, "sign": hmac_sign})
    assert "HMAC-SHA256" in _cause(under_md5)
    with_empty = {**fields, "attach": "", "detail": ""}
    text = "&".join(f"{k}={v}" for k, v in sorted((k, str(v)) for k, v in with_empty.items()))
    empty = _send(
        platform,
        "/pay/unifiedorder",
        {**with_empty, "sign": _md5(text + "&key=" + merchant.api_key)},
    )
    assert "empty fields were included" in _cause(empty)


def test_a_wrong_but_unlucky_sign_gets_no_false_cause(platform: Harness) -> None:
    merchant, other = platform.merchant(), platform.merchant()
    fields = _order(merchant)
    # correct for the same fields but another nonce (a retry that changed one field)
    stale = v2_sign({**fields, "nonce_str": "0" * 32}, merchant.api_key)
    # right key, wrong algorithm name AND lowercase AND another merchant: no single construction
    mixed = hmac.new(
        other.api_key.encode(),
        (canonical(fields) + "&key=" + other.api_key).encode(),
        hashlib.sha256,
    ).hexdigest()
    # one character off (never the same character: a key ending in "x" made this the right key)
    last = "y" if merchant.api_key.endswith("x") else "x"
    off_by_one = v2_sign(fields, merchant.api_key[:-1] + last, MD5)
    for sign in (stale, "0" * 32, mixed, off_by_one):
        entry = _send(platform, "/pay/unifiedorder", {**fields, "sign": sign})
        assert _cause(entry) == "", sign


def test_the_console_and_journal_show_the_cause_and_the_bytes_as_received(
    platform: Harness,
) -> None:
    merchant = platform.merchant(console_password=PASSWORD)
    fields = _order(merchant)
    body = to_xml({**fields, "sign": v2_sign(fields, merchant.api_key).lower()})
    body = body.replace(b"<xml>", b"<xml>\n  ")  # odd whitespace, kept exactly
    platform.http.post("/pay/unifiedorder", content=body)
    entry = wait_for(lambda: next(iter(platform.journal(mch_id=merchant.mch_id)), None), timeout=5)
    assert entry["request"] == body.decode("utf-8")
    with signed_in(platform, merchant.mch_id) as console:
        page = console.get(f"/console/journal/{entry['id']}")
    assert page.status_code == 200
    cause = re.search(r'id="sig-cause">(.*?)</p>', page.text, re.S)
    assert cause is not None and "not uppercase" in cause[1]
    raw = re.search(r'id="request-raw" class="raw">(.*?)</pre>', page.text, re.S)
    assert raw is not None and "&lt;xml&gt;\n  &lt;appid&gt;" in raw[1]


# paySign on the payer pages: the same doctor, in the page's answer -------------------------------
def _jsapi_params(platform: Harness, merchant: MerchantInfo, key: str) -> dict[str, str]:
    appid = merchant.apps["official_account"]
    payer = platform.payer()
    order = platform.client(merchant).unifiedorder(
        body="Test shop-Tea",
        out_trade_no="DOCJS1",
        total_fee=1250,
        spbill_create_ip="203.0.113.10",
        notify_url="http://127.0.0.1:9/notify",
        trade_type="JSAPI",
        openid=platform.openid(payer["payer_id"], appid),
    )
    params = {
        "appId": appid,
        "timeStamp": "1700000000",
        "nonceStr": NONCE,
        "package": f"prepay_id={order['prepay_id']}",
        "signType": "MD5",
    }
    return {**params, "paySign": v2_sign(params, key)}


def test_jsapi_pay_sign_with_another_merchants_key_names_it(platform: Harness) -> None:
    merchant, other = platform.merchant(), platform.merchant()
    params = _jsapi_params(platform, merchant, other.api_key)
    answer = platform.http.post("/jsapi/verify", json=params).json()
    assert answer["ok"] is False and "another merchant's API key" in answer["reason"]
    assert other.api_key not in answer["reason"] and other.mch_id not in answer["reason"]


def test_jsapi_pay_sign_with_a_padded_key_names_it_and_a_random_one_names_nothing(
    platform: Harness,
) -> None:
    merchant = platform.merchant()
    padded = _jsapi_params(platform, merchant, merchant.api_key + "\n")
    answer = platform.http.post("/jsapi/verify", json=padded).json()
    assert answer["ok"] is False and "cause: the API key has whitespace" in answer["reason"]
    wrong = platform.http.post("/jsapi/verify", json={**padded, "paySign": "A" * 32}).json()
    assert wrong["ok"] is False and "cause:" not in wrong["reason"]


def test_app_pay_sign_made_with_url_encoded_values_names_it(platform: Harness) -> None:
    merchant = platform.merchant(name="App shop")
    order = platform.client(merchant, "app").unifiedorder(
        body="App shop-Coins",
        out_trade_no="DOCAPP1",
        total_fee=600,
        spbill_create_ip="203.0.113.10",
        notify_url="http://127.0.0.1:9/notify",
        trade_type="APP",
    )
    params = {
        "appid": merchant.apps["app"],
        "partnerid": merchant.mch_id,
        "prepayid": order["prepay_id"],
        "package": "Sign=WXPay",
        "noncestr": NONCE,
        "timestamp": "1700000000",
    }
    encoded = {k: quote(v, safe="") for k, v in params.items()}
    params["sign"] = v2_sign(encoded, merchant.api_key)
    payer = platform.payer()
    answer = platform.http.post(
        "/app/pay", json={**params, "payer_id": payer["payer_id"], "password": "123456"}
    ).json()
    assert answer["errCode"] == -1 and "cause: values were URL-encoded" in answer["errStr"]


def test_wxpay_local_journal_prints_the_cause(tmp_path: Any) -> None:
    """``wxpay-local journal --failures`` (the CLI, over HTTP) says the same cause, in its
    table and in ``--json``."""
    from click.testing import CliRunner

    from wxpay_local.cli import root
    from wxpay_local.store import open_store

    store = open_store(str(tmp_path / "cli.sqlite3"))
    try:
        with Harness.start(store, live=True) as live:
            merchant, other = live.merchant(), live.merchant()
            _send(live, "/pay/unifiedorder", signed(_order(merchant), other.api_key))
            runner = CliRunner()
            table = runner.invoke(
                root, ["journal", "--failures", "--url", live.base_url], terminal_width=400
            )
            as_json = runner.invoke(
                root, ["journal", "--failures", "--json", "--url", live.base_url]
            )
    finally:
        store.close()
    assert table.exit_code == 0, table.output
    assert "签名错误: the sign was made with another merchant's API key" in table.output
    assert as_json.exit_code == 0, as_json.output
    entry = json.loads(as_json.output)["entries"][0]
    assert "another merchant's API key" in entry["explanation"]["signature"]["cause"]
    assert other.api_key not in table.output + as_json.output
