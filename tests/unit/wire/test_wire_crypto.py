"""Unit tests for wxpay_local.wire.crypto: the refund notification's ``req_info`` (spec §5.3).

Known answers: the spec's worked example (§5.5, exact plaintext → exact ``req_info``) and the
real-world vector shipped in wechatpy's test suite (§5.6; ``tests/test_crypto.py``,
``test_refund_notify_decrypt_message`` — the test file is not installed with the package, so the
value is copied here from the wechatpy repository). Then the PKCS#7 edge (a plaintext of a
multiple of 16 bytes gets a whole block of 0x10), the ``<root>`` layout and a round trip.
"""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st

from wxpay_local.wire.crypto import decrypt_req_info, encrypt_req_info, root_document

pytestmark = pytest.mark.unit

PROPS = settings(max_examples=200, deadline=None)

# --- §5.5 worked example ------------------------------------------------------------------------
WORKED_KEY = "Zk9s3Hq7Lm2Xc8Vb4Nn6Tt1Rr5Ww0PaE"
WORKED_AES_KEY = b"c3c7b5e7a27c919b372c5936d2ebf312"
WORKED_PLAINTEXT = (
    "<root>\n"
    "<out_refund_no><![CDATA[R20240501162011001]]></out_refund_no>\n"
    "<out_trade_no><![CDATA[T20240430190001]]></out_trade_no>\n"
    "<refund_account><![CDATA[REFUND_SOURCE_UNSETTLED_FUNDS]]></refund_account>\n"
    "<refund_fee><![CDATA[300]]></refund_fee>\n"
    "<refund_id><![CDATA[50300000012024050100000000001]]></refund_id>\n"
    "<refund_recv_accout><![CDATA[支付用户零钱]]></refund_recv_accout>\n"
    "<refund_request_source><![CDATA[API]]></refund_request_source>\n"
    "<refund_status><![CDATA[SUCCESS]]></refund_status>\n"
    "<settlement_refund_fee><![CDATA[300]]></settlement_refund_fee>\n"
    "<settlement_total_fee><![CDATA[800]]></settlement_total_fee>\n"
    "<success_time><![CDATA[2024-05-01 16:20:15]]></success_time>\n"
    "<total_fee><![CDATA[800]]></total_fee>\n"
    "<transaction_id><![CDATA[4200000000202404300000000001]]></transaction_id>\n"
    "</root>"
)
WORKED_FIELDS: dict[str, str | int] = {
    "out_refund_no": "R20240501162011001",
    "out_trade_no": "T20240430190001",
    "refund_account": "REFUND_SOURCE_UNSETTLED_FUNDS",
    "refund_fee": 300,
    "refund_id": "50300000012024050100000000001",
    "refund_recv_accout": "支付用户零钱",
    "refund_request_source": "API",
    "refund_status": "SUCCESS",
    "settlement_refund_fee": 300,
    "settlement_total_fee": 800,
    "success_time": "2024-05-01 16:20:15",
    "total_fee": 800,
    "transaction_id": "4200000000202404300000000001",
}
WORKED_FIRST_BLOCK = "7201e495a94f24ac749b977631a9b777"
WORKED_REQ_INFO = (
    "cgHklalPJKx0m5d2Mam3d/7EdUTK+zaXOFFhhUat1yn4SlK8IqCF5kQsvKvREz63VlrmrXF2wfds/dDFnHsS"
    "X/CkUb/F0ujw7/vgWuPWThnevS5kqqCy5Nnpe+50hXxm/Xrq30PiBoQDt6VbpdGN0DatrHTPOiIm0mWrSn2/"
    "9O7fXEz4ewHWsJ4FPCbNF67xemQw2BlgR8l3cn57wbziIqK794oPcjxEF7lZXK0Q+oUa3cZ/zop3gcjLUUve"
    "6PdsIyFoyK1NIngrm0aSyRd2TLvVXFGC4gvx3PMNSGAB5WcU7QMBhJJ4mZ1P88s8HCw2lJo28VgnjE2QoLng"
    "khbzneqGpnu1nERYqBph7rJZapbsCj9kEkFs0z5KViNtIdsicLuKiy8roplBNuyKkz0wGKiAhX0bsLe/8zpo"
    "slvNQsa8+55DVwPOKuaLSnJzDZEacfW8L216arVxrSSM24JkPRs2wW//5nGO7U79DIMdxIQIoGib3fjA/WPN"
    "2CuVc2ceue6v+vzZ8dtaccitIQjQ/5e5twQPRN0/qsjjvzttZrxAgE72YKQtSSkPwndWYsLrAxhLifTWxUm9"
    "ILXQLZ/a5PAc2p7HefdN+/Hg6muZXBkSjFblMwg1oTP/qoYpnxieTYlda/4cuMN3N7o8I0QeeR0ke8+R7vMb"
    "FYd0hC6HneqGY2YWLOcV4pwqOYNEfIulrJZXeqgyETeouTq61HqRVNR/1nl2A+DuvnBcAvJMZoCg2E5c8/oV"
    "Chjf2uoRLMv/Gmo4jXIasNegGGborAizc4UJwi/r591E6pcYlpHrhRvPq69qlj84zGO/Y0uqgBTfmPH4g8v2"
    "M3yrIvmbMDCxIzZO/QnsvyOaeIPRqB2YLMKWDBaj8AQNQColrgagoad9+sUSt9YUU1HlIHyRnfO9L3FChHec"
    "DnA0Frt0xsKP2pIWhIjTHfC7WDWXIz6UGxnBA76VFxEHBeFWpOc6FZ0EN8l46UcOEwPpZ57bf7xwrFs2wpqN"
    "xPyodV2Bszwo7KPZ5ZtaiyE24C7M8IyFBr393aVjC6QL60T97f/u/qXZpd8="
)

# --- §5.6 wechatpy vector ------------------------------------------------------------------------
WECHATPY_KEY = "OF4Ne3znh8KqL0V4NqmALQa0uXMYKcEk"
WECHATPY_APPID = "wx4f4bc4dec97d474b"
WECHATPY_MCH_ID = "12345678"
WECHATPY_FIELDS = {
    "out_refund_no": "1234",
    "out_trade_no": "2020010418301551404339261814",
    "refund_account": "REFUND_SOURCE_RECHARGE_FUNDS",
    "refund_fee": "1",
    "refund_id": "50300103182020010413419046597",
    "refund_recv_accout": "招商银行信用卡8915",
    "refund_request_source": "API",
    "refund_status": "SUCCESS",
    "settlement_refund_fee": "1",
    "settlement_total_fee": "1",
    "success_time": "2020-01-04 18:34:24",
    "total_fee": "1",
    "transaction_id": "4200000483202001042069747825",
}
WECHATPY_REQ_INFO = (
    "51A27s9LxbaEv52nBOrqa0FCs3HVIM31Wc3BpNqSCP5MQlS8HL1Vl7mZ21043B7PZy7adtOZGtZv44lGl0U8"
    "JXlVFL4Ltxsw6+pACjZBB0Qi1LUDjFlP2IyTxYX4eC57kxnCphDdIyRkU67kOWW/HN/efggTUlaPJkoL5kVe"
    "9Y1MZF55IHR4lwGI7WtVLtxATX1tkAVZF+/ri0WlPXo9+GkqeB2/id6Ozw09Tqp8C/TKbmKBpRhTCRU2TzfQ"
    "oLa6fjbgETFHJ795aEMyUZPQYbbsz6U9Rj9lUzEh8+Oc8KYTXa9zVk+nnFr82+yjffb3d36ylTe0y/VmYf90"
    "rf9cbiJQdM00zZ8Qa99SlMTs2wjOO4Mi4Btlg1PebsLF8TkqbSZkRJDGs61UunUB8Km1b/VeBxXuv4D3H7Di"
    "VZ9Fj7lq2j07zFDpxxlhhen7kZvMWWO3lrfFpA9c4eFOqfF9SxcU9nBmHfDD1g/dsrMl6+a71xQHJ/gn80fZ"
    "OefUBv92ggqutsuJ4gd4OqkmO0XUs8e4XQyLpra+LvpmahsU5lBIZuQcMq3FHrqe8hXTfp3+3qym2wGfvPI7"
    "5jx41VZwmBQy9izB1Id+A5lUeXC5QJy+ryDu/dWkhB+aMjkElaI/Epmcc/IEPaI73W6Hc58hNednOM536rPn"
    "n+GDc98PdGszpLTjmaZSu8dtqwPaym66yRqFQowzFoBbooik57iHUFBCeWya7XcXYL9WKhRF3uIZM+Kfv9/Z"
    "s2pF+w9/EJpltuzPpT1GP2VTMSHz45zwphFlS2lX8wHyZ+k9n2dptzQqpOCPedt5iQAmAe1oNQMxNdPDH9g6"
    "8x9UzWD1kfK/dPO+3NPAh0XG+io4x15fIknNf7JLjpAuWicMMzCdwC4hhqeYOzQ+pC9f2xJXi5YViNKIZY69"
    "oO8eoHYRitLZrHLgx3oB2zimmqX6BI+DMklKAzAqqgGmbFxcVTvxZB6cMCx+H7TTWXnjAG+6A3SrCcxg0l5+"
    "UB93pkAYR7SVJ+VaZoiBqlqnZvb7IM17n9XaaFntlzvbbFCIa7OnOQb5Lvw="
)


def raw_decrypt(req_info: str, api_key: str) -> bytes:
    """AES-256-ECB without unpadding, written here from §5.3 (to look at the padding bytes)."""
    key = hashlib.md5(api_key.encode("utf-8")).hexdigest().encode("ascii")
    decryptor = Cipher(algorithms.AES(key), modes.ECB()).decryptor()
    return decryptor.update(base64.b64decode(req_info)) + decryptor.finalize()


def root_fields(plaintext: str) -> dict[str, str]:
    lines = plaintext.split("\n")
    assert lines[0] == "<root>" and lines[-1] == "</root>"
    fields = {}
    for line in lines[1:-1]:
        name = line[1 : line.index(">")]
        assert line.startswith(f"<{name}><![CDATA[") and line.endswith(f"]]></{name}>"), line
        fields[name] = line[len(name) + 11 : -len(name) - 6]
    return fields


# --- the worked example ---------------------------------------------------------------------------
def test_worked_example_key_derivation() -> None:
    key = hashlib.md5(WORKED_KEY.encode()).hexdigest().encode("ascii")
    assert key == WORKED_AES_KEY and len(key) == 32


def test_worked_example_plaintext_is_the_documented_798_bytes() -> None:
    assert len(WORKED_PLAINTEXT.encode("utf-8")) == 798
    assert root_document(WORKED_FIELDS) == WORKED_PLAINTEXT


def test_worked_example_encrypts_to_the_documented_req_info() -> None:
    req_info = encrypt_req_info(WORKED_PLAINTEXT, WORKED_KEY)
    assert len(req_info) == 1068
    assert req_info == WORKED_REQ_INFO
    ciphertext = base64.b64decode(req_info)
    assert len(ciphertext) == 800  # 798 bytes + 2 bytes of 0x02 = 50 blocks
    assert ciphertext[:16].hex() == WORKED_FIRST_BLOCK
    assert "\n" not in req_info and req_info.endswith("=")


def test_worked_example_decrypts_to_the_plaintext() -> None:
    assert decrypt_req_info(WORKED_REQ_INFO, WORKED_KEY) == WORKED_PLAINTEXT
    padded = raw_decrypt(WORKED_REQ_INFO, WORKED_KEY)
    assert padded[-2:] == b"\x02\x02" and padded[-3:-2] != b"\x02"


def test_worked_example_decrypts_with_another_key_to_garbage_or_an_error() -> None:
    try:
        text = decrypt_req_info(WORKED_REQ_INFO, WORKED_KEY.lower())
    except (ValueError, UnicodeDecodeError):
        return
    assert text != WORKED_PLAINTEXT


# --- the wechatpy vector --------------------------------------------------------------------------
def test_wechatpy_vector_decrypts_to_the_captured_notification() -> None:
    padded = raw_decrypt(WECHATPY_REQ_INFO, WECHATPY_KEY)
    assert len(WECHATPY_REQ_INFO) == 1068 and len(padded) == 800
    assert padded[-5:] == b"\x05" * 5 and padded[-6] != 5, "PKCS#7 for 16-byte blocks"
    plaintext = decrypt_req_info(WECHATPY_REQ_INFO, WECHATPY_KEY)
    assert root_fields(plaintext) == WECHATPY_FIELDS
    assert list(root_fields(plaintext)) == sorted(WECHATPY_FIELDS), "alphabetical"
    assert not plaintext.endswith("\n")


def test_wechatpy_vector_layout_is_what_root_document_writes() -> None:
    plaintext = decrypt_req_info(WECHATPY_REQ_INFO, WECHATPY_KEY)
    assert root_document(dict(WECHATPY_FIELDS)) == plaintext
    assert encrypt_req_info(plaintext, WECHATPY_KEY) == WECHATPY_REQ_INFO


def test_wechatpy_decrypts_what_we_encrypt() -> None:
    from wechatpy.crypto import WeChatRefundCrypto  # type: ignore[import-untyped]

    req_info = encrypt_req_info(WORKED_PLAINTEXT, WORKED_KEY)
    xml = (
        "<xml>\n<return_code>SUCCESS</return_code>\n"
        f"<appid><![CDATA[{WECHATPY_APPID}]]></appid>\n"
        f"<mch_id><![CDATA[{WECHATPY_MCH_ID}]]></mch_id>\n"
        "<nonce_str><![CDATA[0c6e2f71a9d84b35be17c4a2f9083d56]]></nonce_str>\n"
        f"<req_info><![CDATA[{req_info}]]></req_info>\n</xml>"
    )
    data = WeChatRefundCrypto(WORKED_KEY).decrypt_message(xml, WECHATPY_APPID, WECHATPY_MCH_ID)
    assert dict(data) == {k: str(v) for k, v in WORKED_FIELDS.items()}


# --- padding --------------------------------------------------------------------------------------
@pytest.mark.parametrize("blocks", [1, 2, 50])
def test_a_multiple_of_16_bytes_gets_a_whole_block_of_0x10(blocks: int) -> None:
    plaintext = "x" * (16 * blocks)
    req_info = encrypt_req_info(plaintext, WORKED_KEY)
    padded = raw_decrypt(req_info, WORKED_KEY)
    assert len(padded) == 16 * (blocks + 1)
    assert padded[-16:] == b"\x10" * 16
    assert padded[:-16] == plaintext.encode()
    assert decrypt_req_info(req_info, WORKED_KEY) == plaintext


@pytest.mark.parametrize(("length", "pad"), [(0, 16), (1, 15), (15, 1), (17, 15), (31, 1)])
def test_padding_is_pkcs7_to_16_bytes(length: int, pad: int) -> None:
    padded = raw_decrypt(encrypt_req_info("a" * length, WORKED_KEY), WORKED_KEY)
    assert len(padded) % 16 == 0
    assert padded[-pad:] == bytes([pad]) * pad
    assert len(padded) == length + pad


def test_multibyte_text_is_padded_by_bytes_not_characters() -> None:
    plaintext = "招商银行信用卡0403"  # 7 × 3 + 4 = 25 bytes, 11 characters
    padded = raw_decrypt(encrypt_req_info(plaintext, WORKED_KEY), WORKED_KEY)
    assert len(padded) == 32 and padded[-7:] == b"\x07" * 7


# --- round trip -----------------------------------------------------------------------------------
@PROPS
@given(
    plaintext=st.text(st.characters(codec="utf-8"), max_size=600),
    api_key=st.text(
        st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=32, max_size=32
    ),
)
def test_round_trip(plaintext: str, api_key: str) -> None:
    req_info = encrypt_req_info(plaintext, api_key)
    size = len(plaintext.encode("utf-8"))
    assert len(base64.b64decode(req_info, validate=True)) == 16 * (size // 16 + 1)
    assert set(req_info) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
    assert decrypt_req_info(req_info, api_key) == plaintext
    assert encrypt_req_info(plaintext, api_key) == req_info, "ECB: deterministic"


@PROPS
@given(
    fields=st.dictionaries(
        st.from_regex(r"[a-z_]{1,20}", fullmatch=True),
        st.text(st.characters(codec="utf-8", exclude_characters="]\n\r"), max_size=30)
        | st.integers(min_value=0, max_value=10**9),
        max_size=15,
    )
)
def test_root_document_round_trips_through_encryption(fields: dict[str, str | int]) -> None:
    ordered = dict(sorted(fields.items()))
    plaintext = root_document(ordered)
    assert root_fields(plaintext) == {k: str(v) for k, v in ordered.items()}
    assert decrypt_req_info(encrypt_req_info(plaintext, WORKED_KEY), WORKED_KEY) == plaintext
