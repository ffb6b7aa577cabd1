"""Unit tests for wxpay_local.wire.xml: the hardened flat <xml> decoder and the encoder.

Spec: protocol-and-payments.md §1.3.
"""

from __future__ import annotations

import socket

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wxpay_local.codes import SignType
from wxpay_local.wire.signing import verify
from wxpay_local.wire.xml import MAX_BODY_BYTES, MAX_FIELDS, NotUtf8, XmlError, decode, encode

pytestmark = pytest.mark.unit

# Every refusal must be immediate: nothing is expanded, fetched or parsed past the offence.
# How fast is measured by bench/xml_refusals.py, not asserted here (a loaded machine is slow).


def _refused(body: bytes, error: type[Exception] = XmlError) -> Exception:
    with pytest.raises(error) as info:
        decode(body)
    return info.value


@pytest.fixture
def no_network(monkeypatch):
    """Fail the test if anything tries to open a connection (an XXE fetch, for instance)."""

    def forbidden(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", forbidden)
    monkeypatch.setattr(socket.socket, "connect_ex", forbidden)
    monkeypatch.setattr(socket, "create_connection", forbidden)


# --- hostile and malformed documents ----------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE xml [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<xml><body>&lol9;</body></xml>"""

# Quadratic blow-up: one big entity referenced many times.
QUADRATIC_BLOWUP = (
    b'<!DOCTYPE xml [<!ENTITY a "'
    + b"x" * 20_000
    + b'">]><xml><body>'
    + b"&a;" * 2_000
    + b"</body></xml>"
)

HOSTILE = [
    pytest.param(BILLION_LAUGHS, id="billion-laughs"),
    pytest.param(QUADRATIC_BLOWUP, id="quadratic-blowup"),
    pytest.param(
        b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        b"<xml><body>&xxe;</body></xml>",
        id="xxe-file-etc-passwd",
    ),
    pytest.param(
        b'<!DOCTYPE xml [<!ENTITY xxe SYSTEM "http://127.0.0.1:9/steal">]>'
        b"<xml><body>&xxe;</body></xml>",
        id="xxe-http-127.0.0.1",
    ),
    pytest.param(
        b'<!DOCTYPE xml SYSTEM "http://127.0.0.1:9/evil.dtd"><xml><a>1</a></xml>',
        id="external-dtd-http-127.0.0.1",
    ),
    pytest.param(
        b'<!DOCTYPE xml [<!ENTITY % pe SYSTEM "http://127.0.0.1:9/evil.dtd"> %pe;]>'
        b"<xml><a>1</a></xml>",
        id="parameter-entity-external",
    ),
    pytest.param(
        b"<!DOCTYPE xml [<!ENTITY % pe \"<!ENTITY inner 'boom'>\"> %pe;]><xml><a>&inner;</a></xml>",
        id="parameter-entity-internal",
    ),
    pytest.param(
        b'<!DOCTYPE xml [<!ENTITY img SYSTEM "file:///etc/passwd" NDATA png>]><xml><a>1</a></xml>',
        id="unparsed-entity",
    ),
    pytest.param(
        b'<!DOCTYPE xml [<!ENTITY hello "world">]><xml><a>&hello;</a></xml>',
        id="internal-entity",
    ),
    pytest.param(b"<!DOCTYPE xml><xml><a>1</a></xml>", id="doctype-without-entities"),
    pytest.param(
        b'<?xml version="1.0"?>\n<!DOCTYPE xml PUBLIC "-//W3C//DTD XHTML 1.0//EN" "x.dtd">'
        b"<xml><a>1</a></xml>",
        id="doctype-public",
    ),
    pytest.param(
        b'<?xml-stylesheet type="text/xsl" href="http://127.0.0.1/x.xsl"?><xml><a>1</a></xml>',
        id="pi-before-root",
    ),
    pytest.param(b"<xml><?php echo 1; ?><a>1</a></xml>", id="pi-inside-root"),
    pytest.param(b"<xml><a>1<?pi data?></a></xml>", id="pi-inside-field"),
    pytest.param(b"<xml><a>1</a></xml><?pi after?>", id="pi-after-root"),
    pytest.param(b"<xml><a><b>1</b></a></xml>", id="nested-element"),
    pytest.param(b"<xml><a>1<b/></a></xml>", id="nested-empty-element"),
    pytest.param(b"<xml><a><b><c>1</c></b></a></xml>", id="deeply-nested"),
    pytest.param(b'<xml><a id="1">1</a></xml>', id="attribute-on-field"),
    pytest.param(b'<xml version="1"><a>1</a></xml>', id="attribute-on-root"),
    pytest.param(b'<xml xmlns="urn:x"><a>1</a></xml>', id="namespace-declaration"),
    pytest.param(b"<root><a>1</a></root>", id="wrong-root"),
    pytest.param(b"<XML><a>1</a></XML>", id="root-wrong-case"),
    pytest.param(b"<a>1</a>", id="field-as-root"),
    pytest.param(b"<xml><a>1</a><a>2</a></xml>", id="duplicate-element"),
    pytest.param(b"<xml><a>1</a><a>1</a></xml>", id="duplicate-element-same-value"),
    pytest.param(b"<xml><a></a><a>1</a></xml>", id="duplicate-element-first-empty"),
    pytest.param(b"<xml><a>1</a>", id="truncated-missing-root-end"),
    pytest.param(b"<xml><a>1", id="truncated-inside-field"),
    pytest.param(b"<xml><a><![CDATA[1", id="truncated-inside-cdata"),
    pytest.param(b"<xml><a>1</a", id="truncated-inside-tag"),
    pytest.param(b"<xml><a>1</b></xml>", id="mismatched-end-tag"),
    pytest.param(b"", id="empty-body"),
    pytest.param(b"   \n", id="whitespace-body"),
    pytest.param(b"not xml at all", id="plain-text"),
    pytest.param(b'{"return_code": "SUCCESS"}', id="json-body"),
    pytest.param(b"<xml>junk</xml>", id="text-directly-inside-xml"),
    pytest.param(b"<xml>junk<a>1</a></xml>", id="text-inside-xml-before-field"),
    pytest.param(b"<xml><a>1</a>junk</xml>", id="text-inside-xml-after-field"),
    pytest.param(b"<xml><a>1</a>junk<b>2</b></xml>", id="text-inside-xml-between-fields"),
    pytest.param(b"<xml><a>1</a></xml>trailing", id="junk-after-root"),
    pytest.param(b"<xml><a>1</a></xml><xml><b>2</b></xml>", id="two-roots"),
    pytest.param(b"<xml><a>&undefined;</a></xml>", id="undefined-entity"),
    pytest.param(b"<xml><a>a & b</a></xml>", id="bare-ampersand"),
    pytest.param(b"<xml><a>a < b</a></xml>", id="bare-less-than"),
    pytest.param(b"<xml><a>&#0;</a></xml>", id="char-ref-nul"),
    pytest.param(b"<xml><a>\x01</a></xml>", id="raw-control-char"),
]


@pytest.mark.parametrize("body", HOSTILE)
def test_decode_hostile_or_malformed_is_refused_quickly(body, no_network):
    _refused(body)


def test_decode_billion_laughs_refused(no_network):
    _refused(BILLION_LAUGHS)  # its speed: bench/xml_refusals.py


def test_decode_xxe_never_leaks_file_content(no_network):
    body = (
        b'<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><body>&xxe;</body></xml>'
    )
    error = _refused(body)
    assert "root:" not in str(error)


def test_decode_doctype_error_message_mentions_doctype():
    assert "DOCTYPE" in str(_refused(b"<!DOCTYPE xml><xml><a>1</a></xml>"))


def test_decode_gbk_chinese_is_not_utf8():
    body = "<xml><body>测试商城</body></xml>".encode("gbk")
    _refused(body, NotUtf8)


def test_decode_gbk_with_gbk_declaration_is_not_utf8():
    body = '<?xml version="1.0" encoding="GBK"?><xml><body>中文</body></xml>'.encode("gbk")
    _refused(body, NotUtf8)


def test_decode_latin1_byte_is_not_utf8():
    _refused(b"<xml><body>caf\xe9</body></xml>", NotUtf8)


def test_decode_truncated_utf8_sequence_is_not_utf8():
    # The first two bytes of "中" (E4 B8 AD) without the third.
    _refused(b"<xml><body>\xe4\xb8</body></xml>", NotUtf8)


def test_decode_not_utf8_is_not_an_xml_error():
    # The pipeline maps the two to different return_msg texts, so they must stay distinct.
    assert not issubclass(NotUtf8, XmlError)
    assert not issubclass(XmlError, NotUtf8)


def test_decode_body_of_exactly_max_bytes_is_accepted():
    head, tail = b"<xml><a>", b"</a></xml>"
    body = head + b"x" * (MAX_BODY_BYTES - len(head) - len(tail)) + tail
    assert len(body) == MAX_BODY_BYTES
    assert decode(body) == {"a": "x" * (MAX_BODY_BYTES - len(head) - len(tail))}


def test_decode_body_one_byte_over_max_is_refused():
    head, tail = b"<xml><a>", b"</a></xml>"
    body = head + b"x" * (MAX_BODY_BYTES - len(head) - len(tail) + 1) + tail
    assert len(body) == MAX_BODY_BYTES + 1
    _refused(body)


def test_decode_huge_body_is_refused_quickly():
    _refused(b"<xml><a>" + b"x" * (16 * MAX_BODY_BYTES) + b"</a></xml>")


def test_decode_max_fields_accepted():
    body = "<xml>" + "".join(f"<f{i}>{i}</f{i}>" for i in range(MAX_FIELDS)) + "</xml>"
    assert len(decode(body.encode())) == MAX_FIELDS


def test_decode_one_field_over_max_refused():
    body = "<xml>" + "".join(f"<f{i}>{i}</f{i}>" for i in range(MAX_FIELDS + 1)) + "</xml>"
    _refused(body.encode())


# --- accepted documents -----------------------------------------------------------------------


def test_decode_with_xml_declaration():
    body = b'<?xml version="1.0" encoding="UTF-8"?><xml><a>1</a></xml>'
    assert decode(body) == {"a": "1"}


def test_decode_with_standalone_declaration():
    body = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><xml><a>1</a></xml>'
    assert decode(body) == {"a": "1"}


def test_decode_without_xml_declaration():
    assert decode(b"<xml><a>1</a></xml>") == {"a": "1"}


def test_decode_utf8_bom():
    assert decode(b"\xef\xbb\xbf<xml><a>1</a></xml>") == {"a": "1"}


def test_decode_whitespace_and_newlines_between_elements():
    body = b'<?xml version="1.0" encoding="UTF-8"?>\n<xml>\n  <a>1</a>\n\t<b>2</b>\r\n</xml>\n'
    assert decode(body) == {"a": "1", "b": "2"}


def test_decode_java_sdk_style_document():
    # The official Java SDK: declaration, indentation, escaped text, no CDATA.
    body = (
        '<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'
        "<xml>\n"
        "<appid>wx8888888888888888</appid>\n"
        "<body>测试商城-会员充值</body>\n"
        '<detail>{"goods_detail":[{"goods_id":"1","price":1}]}</detail>\n'
        "<attach>a&amp;b&lt;c&gt;</attach>\n"
        "</xml>\n"
    ).encode()
    assert decode(body) == {
        "appid": "wx8888888888888888",
        "body": "测试商城-会员充值",
        "detail": '{"goods_detail":[{"goods_id":"1","price":1}]}',
        "attach": "a&b<c>",
    }


def test_decode_cdata_and_escaped_text_give_same_value():
    cdata = decode(b"<xml><a><![CDATA[x < y & z]]></a></xml>")
    escaped = decode(b"<xml><a>x &lt; y &amp; z</a></xml>")
    assert cdata == escaped == {"a": "x < y & z"}


def test_decode_predefined_and_numeric_entities():
    body = b"<xml><a>&lt;&gt;&amp;&quot;&apos;&#x4E2D;&#25991;</a></xml>"
    assert decode(body) == {"a": "<>&\"'中文"}


def test_decode_cdata_mixed_with_text_is_concatenated():
    assert decode(b"<xml><a>x<![CDATA[<y>]]>z</a></xml>") == {"a": "x<y>z"}


def test_decode_cdata_section_split_around_terminator():
    assert decode(b"<xml><a><![CDATA[x]]]]><![CDATA[>y]]></a></xml>") == {"a": "x]]>y"}


def test_decode_cdata_containing_markup_is_text():
    body = b"<xml><a><![CDATA[</a><b>evil</b><!DOCTYPE x>]]></a></xml>"
    assert decode(body) == {"a": "</a><b>evil</b><!DOCTYPE x>"}


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"<xml><device_info></device_info></xml>", id="start-end"),
        pytest.param(b"<xml><device_info/></xml>", id="self-closing"),
        pytest.param(b"<xml><device_info><![CDATA[]]></device_info></xml>", id="empty-cdata"),
    ],
)
def test_decode_empty_element_is_empty_string(body):
    assert decode(body) == {"device_info": ""}


def test_decode_empty_root():
    assert decode(b"<xml></xml>") == {}
    assert decode(b"<xml/>") == {}


def test_decode_chinese_text():
    body = "<xml><body><![CDATA[测试商城-会员充值]]></body><m>支付用户零钱</m></xml>".encode()
    assert decode(body) == {"body": "测试商城-会员充值", "m": "支付用户零钱"}


def test_decode_supplementary_plane_text():
    assert decode("<xml><a>😀𠀀</a></xml>".encode()) == {"a": "😀𠀀"}


@pytest.mark.parametrize(
    ("body", "value"),
    [
        pytest.param(b"<xml><a>  x  </a></xml>", "  x  ", id="spaces-text"),
        pytest.param(b"<xml><a><![CDATA[ x ]]></a></xml>", " x ", id="spaces-cdata"),
        pytest.param(b"<xml><a>\tx\n</a></xml>", "\tx\n", id="tab-newline"),
        pytest.param(b"<xml><a> </a></xml>", " ", id="single-space"),
        pytest.param(b"<xml><a>\n  </a></xml>", "\n  ", id="whitespace-only"),
        pytest.param(b"<xml><a>&#13;</a></xml>", "\r", id="char-ref-cr"),
    ],
)
def test_decode_values_are_not_trimmed(body, value):
    assert decode(body) == {"a": value}


def test_decode_preserves_document_order():
    assert list(decode(b"<xml><z>1</z><a>2</a><m>3</m></xml>")) == ["z", "a", "m"]


def test_decode_unknown_and_odd_names_accepted():
    body = b"<xml><coupon_fee_0>1</coupon_fee_0><x.y-z>2</x.y-z><_a>3</_a></xml>"
    assert decode(body) == {"coupon_fee_0": "1", "x.y-z": "2", "_a": "3"}


def test_decode_comment_is_ignored():
    assert decode(b"<xml><!-- note --><a>1</a></xml>") == {"a": "1"}


def test_decode_declared_encoding_ignored_for_utf8_body():
    # The body must be UTF-8 whatever the declaration says; a UTF-8 body is read as UTF-8.
    body = '<?xml version="1.0" encoding="GBK"?><xml><a>中</a></xml>'.encode()
    assert decode(body) == {"a": "中"}


def test_decode_returns_plain_str_values():
    fields = decode(b"<xml><total_fee>1</total_fee></xml>")
    assert type(fields) is dict
    assert fields == {"total_fee": "1"}
    assert all(type(v) is str for v in fields.values())


# --- the spec's documents ---------------------------------------------------------------------

RESPONSE_13 = b"""<xml>
  <return_code><![CDATA[SUCCESS]]></return_code>
  <return_msg><![CDATA[OK]]></return_msg>
  <appid><![CDATA[wx8888888888888888]]></appid>
  <mch_id><![CDATA[1900000109]]></mch_id>
  <nonce_str><![CDATA[IITRi8Iabbblz1Jc]]></nonce_str>
  <sign><![CDATA[3988271B6557459891A41589CEBB5860]]></sign>
  <result_code><![CDATA[SUCCESS]]></result_code>
  <prepay_id><![CDATA[wx201411101639507cbf6ffd8b0779950874]]></prepay_id>
  <trade_type><![CDATA[JSAPI]]></trade_type>
</xml>"""

NOTIFY_48 = b"""<xml>
<appid><![CDATA[wx1234567890abcdef]]></appid>
<attach><![CDATA[store=SZ01]]></attach>
<bank_type><![CDATA[CMB_CREDIT]]></bank_type>
<cash_fee><![CDATA[800]]></cash_fee>
<fee_type><![CDATA[CNY]]></fee_type>
<is_subscribe><![CDATA[N]]></is_subscribe>
<mch_id><![CDATA[1900000109]]></mch_id>
<nonce_str><![CDATA[5f0c3a8e2b7d4c19a6e0f3b2d1c4a597]]></nonce_str>
<openid><![CDATA[o7LFAt0p3Q8sXl2dKqZ9mYbVhR1c]]></openid>
<out_trade_no><![CDATA[T20240430190001]]></out_trade_no>
<result_code><![CDATA[SUCCESS]]></result_code>
<return_code><![CDATA[SUCCESS]]></return_code>
<sign><![CDATA[D9001E3EBAEAB07BF31F2683D008529B]]></sign>
<time_end><![CDATA[20240430190215]]></time_end>
<total_fee>800</total_fee>
<trade_type><![CDATA[JSAPI]]></trade_type>
<transaction_id><![CDATA[4200000000202404300000000001]]></transaction_id>
</xml>"""

REFUNDQUERY_35 = """<xml>
<return_code><![CDATA[SUCCESS]]></return_code>
<return_msg><![CDATA[OK]]></return_msg>
<appid><![CDATA[wx1234567890abcdef]]></appid>
<mch_id><![CDATA[1900000109]]></mch_id>
<nonce_str><![CDATA[Zx8Cv6Bn4Mq2Wp0L]]></nonce_str>
<sign><![CDATA[2AC0F359380FC53261D72FC99CBA3007]]></sign>
<result_code><![CDATA[SUCCESS]]></result_code>
<transaction_id><![CDATA[4200000000202404300000000001]]></transaction_id>
<out_trade_no><![CDATA[T20240430190001]]></out_trade_no>
<total_fee>800</total_fee>
<cash_fee>800</cash_fee>
<refund_fee>500</refund_fee>
<refund_count>2</refund_count>
<out_refund_no_0><![CDATA[R20240501162011001]]></out_refund_no_0>
<refund_id_0><![CDATA[50300000012024050100000000001]]></refund_id_0>
<refund_channel_0><![CDATA[ORIGINAL]]></refund_channel_0>
<refund_fee_0>300</refund_fee_0>
<settlement_refund_fee_0>300</settlement_refund_fee_0>
<refund_status_0><![CDATA[SUCCESS]]></refund_status_0>
<refund_account_0><![CDATA[REFUND_SOURCE_UNSETTLED_FUNDS]]></refund_account_0>
<refund_recv_accout_0><![CDATA[支付用户零钱]]></refund_recv_accout_0>
<refund_success_time_0><![CDATA[2024-05-01 16:20:15]]></refund_success_time_0>
<out_refund_no_1><![CDATA[R20240502093000002]]></out_refund_no_1>
<refund_id_1><![CDATA[50300000012024050200000000002]]></refund_id_1>
<refund_channel_1><![CDATA[ORIGINAL]]></refund_channel_1>
<refund_fee_1>200</refund_fee_1>
<settlement_refund_fee_1>200</settlement_refund_fee_1>
<refund_status_1><![CDATA[PROCESSING]]></refund_status_1>
<refund_account_1><![CDATA[REFUND_SOURCE_UNSETTLED_FUNDS]]></refund_account_1>
<refund_recv_accout_1><![CDATA[支付用户零钱]]></refund_recv_accout_1>
</xml>""".encode()


@pytest.mark.parametrize(
    ("body", "key", "field_count"),
    [
        pytest.param(RESPONSE_13, "Wh7Qx2LmP9sT4vB8nK3dR6yF1gJ5zC0a", 9, id="s1.3-response"),
        pytest.param(NOTIFY_48, "Zk9s3Hq7Lm2Xc8Vb4Nn6Tt1Rr5Ww0PaE", 17, id="rbn-s4.8-notify"),
        pytest.param(REFUNDQUERY_35, "Zk9s3Hq7Lm2Xc8Vb4Nn6Tt1Rr5Ww0PaE", 30, id="rbn-s3.5-refund"),
    ],
)
def test_decode_spec_document_verifies_md5(body, key, field_count):
    fields = decode(body)
    assert len(fields) == field_count
    assert verify(fields, key, SignType.MD5) is True


def test_decode_spec_refund_document_keeps_space_in_value():
    assert decode(REFUNDQUERY_35)["refund_success_time_0"] == "2024-05-01 16:20:15"


# --- encode -----------------------------------------------------------------------------------


def test_encode_strings_in_cdata_ints_bare():
    assert encode({"return_code": "SUCCESS", "total_fee": 800}) == (
        b"<xml><return_code><![CDATA[SUCCESS]]></return_code><total_fee>800</total_fee></xml>"
    )


def test_encode_bare_names_written_without_cdata():
    assert encode({"cash_fee": "800", "a": "x"}, bare=["cash_fee"]) == (
        b"<xml><cash_fee>800</cash_fee><a><![CDATA[x]]></a></xml>"
    )


def test_encode_keeps_given_order():
    body = encode({"z": "1", "a": "2", "m": 3})
    assert list(decode(body)) == ["z", "a", "m"]


def test_encode_empty_mapping():
    assert encode({}) == b"<xml></xml>"
    assert decode(encode({})) == {}


def test_encode_empty_string_value():
    assert encode({"device_info": ""}) == b"<xml><device_info><![CDATA[]]></device_info></xml>"


def test_encode_splits_cdata_terminator():
    body = encode({"a": "x]]>y"})
    assert body == b"<xml><a><![CDATA[x]]]]><![CDATA[>y]]></a></xml>"
    assert decode(body) == {"a": "x]]>y"}


def test_encode_repeated_cdata_terminators_round_trip():
    value = "]]>]]>]]]]>>]]"
    assert decode(encode({"a": value})) == {"a": value}


def test_encode_markup_in_value_cannot_inject_elements():
    value = "</a><sign>FORGED</sign><a>"
    assert decode(encode({"a": value})) == {"a": value}


def test_encode_chinese_is_utf8():
    body = encode({"return_msg": "签名错误"})
    assert "签名错误".encode() in body
    assert decode(body) == {"return_msg": "签名错误"}


def test_encode_negative_and_zero_ints():
    assert decode(encode({"a": 0, "b": -5})) == {"a": "0", "b": "-5"}


# --- round-trip property ----------------------------------------------------------------------

# XML 1.0 Char: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF].
# So: no C0 controls other than tab/newline, no surrogates, no U+FFFE/U+FFFF.
# A carriage return is legal XML, but end-of-line handling (XML 1.0 §2.11, done by expat) turns a
# literal "\r" or "\r\n" into "\n" before the application sees it - CDATA included - so a raw
# "\r" cannot survive encode → decode; it is excluded here (a CR only survives as "&#13;").
_EXCLUDED = "".join(chr(c) for c in range(0x20) if c not in (0x09, 0x0A)) + "\ufffe\uffff"
XML_TEXT_CHARS = st.characters(exclude_categories=("Cs",), exclude_characters=_EXCLUDED)
# Fragments that stress the CDATA encoding and escaping.
TRICKY = st.sampled_from(
    ["]]>", "]]", "]", ">", "<![CDATA[", "<", "&", "&amp;", "&#13;", "<a>", " ", "\t", "\n"]
)
XML_VALUES = st.lists(st.one_of(st.text(XML_TEXT_CHARS, max_size=8), TRICKY), max_size=5).map(
    "".join
)
# Valid XML names (ASCII plus some CJK ideographs, which are name characters too).
_NAME_START = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_测试商户订单号"
XML_NAMES = st.tuples(
    st.sampled_from(_NAME_START),
    st.text(st.sampled_from(_NAME_START + "0123456789.-"), max_size=15),
).map("".join)
XML_MAPPINGS = st.dictionaries(XML_NAMES, XML_VALUES, max_size=8)

PROPS = settings(max_examples=200, deadline=None)
LIGHT_PROPS = settings(max_examples=100, deadline=None)


@PROPS
@given(fields=XML_MAPPINGS)
def test_encode_decode_property_round_trip(fields):
    decoded = decode(encode(fields))
    assert decoded == fields
    assert list(decoded) == list(fields)  # document order is kept


@PROPS
@given(prefix=XML_VALUES, suffix=XML_VALUES)
def test_encode_decode_property_cdata_terminator(prefix, suffix):
    value = prefix + "]]>" + suffix
    assert decode(encode({"v": value})) == {"v": value}


@LIGHT_PROPS
@given(fields=st.dictionaries(XML_NAMES, st.integers(), max_size=8))
def test_encode_decode_property_ints_become_decimal_text(fields):
    assert decode(encode(fields)) == {k: str(v) for k, v in fields.items()}
