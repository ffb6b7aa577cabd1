"""The decoder's fast path for simple documents reads exactly what expat reads, or steps aside."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wxpay_local.wire import xml
from wxpay_local.wire.xml import XmlError, decode, encode

pytestmark = pytest.mark.unit

TRICKY = "ab 1\t\n\r]>[<&;'\"\x00\x0b\x1f\x7f\x85\u2028\u3000\ufffe\uffff咖啡😀"
NAMES = ["a", "mch_id", "sign", "xml", "B_2", "_x", "total_fee", "c", "d9", "e", "f", "g"]


def expat_or_error(body: bytes) -> dict[str, str] | type[Exception]:
    try:
        return xml._decode_expat(body)
    except XmlError:
        return XmlError


def assert_same_as_expat(body: bytes) -> None:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return
    fast = xml._decode_simple(text)
    if fast is not None:
        assert fast == expat_or_error(body), body
    if len(body) <= xml.MAX_BODY_BYTES:
        try:
            assert decode(body) == expat_or_error(body)
        except XmlError:
            assert expat_or_error(body) is XmlError


SAFE = "ab 1\t\n>[;'\"\x7f\x85\u2028\u3000咖啡😀"


def field(name: str, value: str, form: str) -> str:
    if form == "plain":
        return f"<{name}>{value}</{name}>"
    if form == "cdata":
        return f"<{name}><![CDATA[{value}]]></{name}>"
    if form == "split":
        return f"<{name}><![CDATA[{value}]]]]><![CDATA[>]]></{name}>"
    if form == "empty":
        return f"<{name}></{name}>"
    return f"<{name}/>"


@st.composite
def clean_documents(draw: st.DrawFn) -> bytes:
    """Documents in the simple shape (plus the odd unsafe character): mostly the fast path."""
    ws = st.text(" \t\n", max_size=3)
    names = draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=8))
    parts = [draw(ws), "<xml>"]
    for name in names:
        form = draw(st.sampled_from(["plain", "cdata", "empty"]))
        parts += [draw(ws), field(name, draw(st.text(SAFE, max_size=16)), form)]
    parts += [draw(ws), "</xml>", draw(ws)]
    text = "".join(parts)
    if draw(st.integers(0, 9)) == 0 and text:  # one character out of place
        at = draw(st.integers(0, len(text) - 1))
        text = text[:at] + draw(st.sampled_from(TRICKY)) + text[at:]
    return text.encode("utf-8")


@st.composite
def documents(draw: st.DrawFn) -> bytes:
    """Anything in between: odd roots and ends, duplicates, CR, controls, entities, nesting."""
    whitespace = st.text(" \t\n\r\x0b\u3000", max_size=3)
    forms = ["plain", "cdata", "split", "empty", "closed"]
    root = draw(st.sampled_from(["<xml>", "<xml >", "<XML>", '<?xml version="1.0"?><xml>']))
    parts = [draw(whitespace), root]
    for _ in range(draw(st.integers(0, 6))):
        name, form = draw(st.sampled_from(NAMES)), draw(st.sampled_from(forms))
        parts += [draw(whitespace), field(name, draw(st.text(TRICKY, max_size=12)), form)]
    end = draw(st.sampled_from(["</xml>", "</xml", "", "</xml><xml/>"]))
    parts += [draw(whitespace), end, draw(whitespace)]
    return "".join(parts).encode("utf-8")


@settings(max_examples=1500, deadline=None)
@given(clean_documents())
def test_the_fast_path_agrees_with_expat(body: bytes) -> None:
    assert_same_as_expat(body)


@settings(max_examples=1000, deadline=None)
@given(documents())
def test_odd_documents_are_read_as_expat_reads_them(body: bytes) -> None:
    assert_same_as_expat(body)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True), st.text(TRICKY + SAFE)
    )
)
def test_encoded_documents_round_trip_either_way(data: dict[str, str]) -> None:
    body = encode(data)
    assert_same_as_expat(body)


@pytest.mark.parametrize(
    "body",
    [
        b"<xml><a>1</a><b><![CDATA[x y]]></b></xml>",
        b"  \n<xml>\t<a>1</a>\n</xml>\n",
        b"<xml></xml>",
        b"<xml><a></a><b><![CDATA[]]></b></xml>",
        "<xml><body><![CDATA[咖啡 😀 <&>]]></body><c>1>2</c></xml>".encode(),
    ],
)
def test_simple_documents_take_the_fast_path(body: bytes) -> None:
    assert xml._decode_simple(body.decode()) is not None
    assert_same_as_expat(body)


@pytest.mark.parametrize(
    "body",
    [
        b"<xml><a>1</a><a>2</a></xml>",  # twice
        b"<xml><a>x\ry</a></xml>",  # expat turns CR into LF
        b"<xml><a>&amp;</a></xml>",
        b"<xml><a>x]]>y</a></xml>",
        b"<xml><a>\x01</a></xml>",
        b"<xml>x<a>1</a></xml>",
        b'<xml><a b="1">1</a></xml>',
        b"<xml><a><b>1</b></a></xml>",
        b"<!DOCTYPE xml><xml><a>1</a></xml>",
        b"<xml><a>1</a></xml><xml></xml>",
        b"\xef\xbb\xbf<xml><a>1</a></xml>",
        b"<xml><a>1</b></xml>",
    ],
)
def test_anything_else_goes_to_expat(body: bytes) -> None:
    assert xml._decode_simple(body.decode()) is None
    assert_same_as_expat(body)


def test_too_many_fields_are_still_refused() -> None:
    body = b"<xml>" + b"".join(b"<f%d>1</f%d>" % (i, i) for i in range(xml.MAX_FIELDS + 1))
    with pytest.raises(XmlError):
        decode(body + b"</xml>")
    ok = b"<xml>" + b"".join(b"<f%d>1</f%d>" % (i, i) for i in range(xml.MAX_FIELDS)) + b"</xml>"
    assert len(decode(ok)) == xml.MAX_FIELDS


@pytest.mark.parametrize(
    "body",
    [
        b"<xml>" + b"<a>" * 20000,
        b"<xml><a>" + b"x" * 65000,
        b"<xml>" + b"<a>1</a>" * 7000 + b"<b>",
        b"<xml>" + b" " * 65000 + b"x</xml>",
        b"<xml>" + b"<a>1</a>   " * 5000 + b"x</xml>",
    ],
)
def test_the_fast_path_gives_up_on_bodies_it_cannot_read(body: bytes) -> None:
    # How fast it gives up: bench/xml_refusals.py.
    assert xml._decode_simple(body[: xml.MAX_BODY_BYTES].decode()) is None
