"""``signing.find_cause`` under HMAC-SHA256 (the API tests cover MD5): each construction made
with hashlib/hmac here, independently of the platform's signer."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import quote_plus

from wxpay_local.codes import SignType
from wxpay_local.wire.signing import AltKey, find_cause

KEY = "192006250b4c09247ec02edce69f6a2d"
FIELDS = {
    "appid": "wxd930ea5d5a258f4f",
    "mch_id": "10000100",
    "body": "测试 商品/一",
    "nonce_str": "ibuaiVcKdpRxkhJA",
    "sign_type": "HMAC-SHA256",
}


def _hmac(text: str, key: str, encoding: str = "utf-8") -> str:
    message = (text + "&key=" + key).encode(encoding)
    return hmac.new(key.encode(encoding), message, hashlib.sha256).hexdigest().upper()


def _canonical(fields: dict[str, str]) -> str:
    return "&".join(f"{k}={fields[k]}" for k in sorted(fields) if fields[k] != "")


def _cause(sign: str, alt: tuple[AltKey, ...] = ()) -> str:
    return find_cause({**FIELDS, "sign": sign}, KEY, SignType.HMAC_SHA256, alt)


def test_hmac_constructions_are_named() -> None:
    right = _hmac(_canonical(FIELDS), KEY)
    assert "not uppercase" in _cause(right.lower())
    assert "matches MD5" in _cause(
        hashlib.md5((_canonical(FIELDS) + "&key=" + KEY).encode()).hexdigest().upper()
    )
    assert "whitespace" in _cause(_hmac(_canonical(FIELDS), KEY + "\r\n"))
    encoded = {k: quote_plus(v) for k, v in FIELDS.items()}
    assert "URL-encoded" in _cause(_hmac(_canonical(encoded), KEY))
    assert "GBK" in _cause(_hmac(_canonical(FIELDS), KEY, "gbk"))
    with_sign = {**FIELDS, "sign": right}
    assert "sign field itself" in _cause(_hmac(_canonical(with_sign), KEY))
    other = "0123456789abcdef0123456789abcdef"
    assert _cause(_hmac(_canonical(FIELDS), other), (AltKey(other, "OTHER KEY"),)) == "OTHER KEY"


def test_nothing_is_claimed_for_a_sign_no_construction_reproduces() -> None:
    assert _cause("F" * 64) == ""
    assert _cause(_hmac(_canonical({**FIELDS, "nonce_str": "x"}), KEY)) == ""
    assert _cause(_hmac(_canonical(FIELDS), KEY)) == ""  # the right sign: nothing to explain
    assert find_cause(dict(FIELDS), KEY, SignType.HMAC_SHA256) == ""  # no sign at all
