"""Unit tests for wxpay_local.wire.fields: field kinds and their Fault messages (spec §1.4, §2)."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wxpay_local.codes import Fault
from wxpay_local.wire.fields import Choice, Fen, Ip, Json, Kind, Str, Time14, Url

pytestmark = pytest.mark.unit

PROPS = settings(max_examples=200, deadline=None)


def _format_fault(kind: Kind, name: str, raw: str) -> Fault:
    with pytest.raises(Fault) as info:
        kind.parse(name, raw)
    assert info.value.return_msg == f"{name}参数格式错误"
    assert isinstance(info.value.detail, str) and info.value.detail
    return info.value


def _length_fault(kind: Kind, name: str, raw: str) -> Fault:
    with pytest.raises(Fault) as info:
        kind.parse(name, raw)
    assert info.value.return_msg == f"{name}参数长度有误"
    assert isinstance(info.value.detail, str) and info.value.detail
    return info.value


# --- Kind / Str -------------------------------------------------------------------------------


def test_str_length_exactly_max_is_accepted():
    assert Str(32).parse("nonce_str", "a" * 32) == "a" * 32


def test_str_length_max_plus_one_is_refused():
    _length_fault(Str(32), "nonce_str", "a" * 33)


def test_str_length_counts_chinese_characters_not_bytes():
    body = "测" * 128  # 384 UTF-8 bytes, 128 characters
    assert Str(128).parse("body", body) == body


def test_str_chinese_max_plus_one_is_refused():
    _length_fault(Str(128), "body", "测" * 129)


def test_str_length_counts_supplementary_characters_once():
    assert Str(2).parse("a", "😀😀") == "😀😀"
    _length_fault(Str(2), "a", "😀😀😀")


def test_str_empty_is_accepted_without_pattern():
    assert Str(8).parse("attach", "") == ""


def test_str_value_returned_untrimmed():
    assert Str(8).parse("attach", " x ") == " x "


def test_kind_default_max_is_32():
    assert Kind().parse("f", "x" * 32) == "x" * 32
    _length_fault(Kind(), "f", "x" * 33)


def test_str_pattern_match_is_accepted():
    kind = Str(32, pattern=r"[0-9A-Za-z_\-|*@]+")
    assert kind.parse("out_trade_no", "ORDER_2024-01|*@") == "ORDER_2024-01|*@"


@pytest.mark.parametrize("raw", ["订单1", "A B", "A\n", "ＡＢＣ", ""])
def test_str_pattern_mismatch_is_format_error(raw):
    _format_fault(Str(32, pattern=r"[0-9A-Za-z_\-|*@]+"), "out_trade_no", raw)


def test_str_pattern_is_full_match():
    _format_fault(Str(32, pattern=r"[0-9]+"), "mch_id", "123abc")
    _format_fault(Str(32, pattern=r"[0-9]+"), "mch_id", "abc123")


def test_str_length_checked_before_pattern():
    # An over-long value is a length error even if it also breaks the pattern.
    _length_fault(Str(4, pattern=r"[0-9]+"), "mch_id", "abcdefgh")


def test_fault_message_uses_the_field_name():
    fault = _length_fault(Str(16), "appid", "x" * 17)
    assert str(fault) == "appid参数长度有误"


# --- Fen --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "value"), [("1", 1), ("800", 800), ("01", 1), ("9" * 12, 10**12 - 1)]
)
def test_fen_accepts_whole_positive_amounts(raw, value):
    result = Fen().parse("total_fee", raw)
    assert result == value
    assert type(result) is int


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("0", id="zero"),
        pytest.param("00", id="zeros"),
        pytest.param("-1", id="negative"),
        pytest.param("+1", id="plus-sign"),
        pytest.param("1.00", id="decimal-point"),
        pytest.param("1.", id="trailing-point"),
        pytest.param(" 1", id="leading-space"),
        pytest.param("1 ", id="trailing-space"),
        pytest.param("１", id="full-width-digit"),
        pytest.param("١", id="arabic-indic-digit"),
        pytest.param("²", id="superscript-two"),
        pytest.param("1e3", id="exponent"),
        pytest.param("0x1", id="hex"),
        pytest.param("1_000", id="underscore"),
        pytest.param("", id="empty"),
        pytest.param("abc", id="letters"),
    ],
)
def test_fen_refuses_non_amounts(raw):
    _format_fault(Fen(), "total_fee", raw)


def test_fen_thirteen_digits_is_length_error():
    _length_fault(Fen(), "total_fee", "1" * 13)


def test_fen_minimum_zero_accepts_zero():
    assert Fen(minimum=0).parse("coupon_fee", "0") == 0


def test_fen_custom_minimum():
    assert Fen(minimum=100).parse("total_fee", "100") == 100
    _format_fault(Fen(minimum=100), "total_fee", "99")


@PROPS
@given(value=st.integers(min_value=1, max_value=10**12 - 1))
def test_fen_property_accepts_every_positive_decimal(value):
    assert Fen().parse("total_fee", str(value)) == value


# --- Choice -----------------------------------------------------------------------------------

TRADE_TYPES = Choice(16, values=("JSAPI", "NATIVE", "APP", "MWEB"))


@pytest.mark.parametrize("raw", ["JSAPI", "NATIVE", "APP", "MWEB"])
def test_choice_accepts_listed_values(raw):
    assert TRADE_TYPES.parse("trade_type", raw) == raw


@pytest.mark.parametrize("raw", ["jsapi", "MICROPAY", " JSAPI", "JSAPI ", "", "JS"])
def test_choice_refuses_other_values(raw):
    _format_fault(TRADE_TYPES, "trade_type", raw)


def test_choice_too_long_is_length_error():
    _length_fault(TRADE_TYPES, "trade_type", "X" * 17)


# --- Time14 -----------------------------------------------------------------------------------


def test_time14_returns_aware_beijing_datetime():
    moment = Time14().parse("time_start", "20240101120000")
    assert moment.tzinfo is not None
    assert moment.utcoffset() == timedelta(hours=8)
    assert (moment.year, moment.month, moment.day) == (2024, 1, 1)
    assert (moment.hour, moment.minute, moment.second) == (12, 0, 0)
    assert moment == datetime(2024, 1, 1, 4, 0, 0, tzinfo=UTC)


def test_time14_london_midnight_example():
    # §2.2: London 2014-11-11 00:00:00 → 20141111080000.
    moment = Time14().parse("time_expire", "20141111080000")
    assert moment == datetime(2014, 11, 11, 0, 0, 0, tzinfo=UTC)


def test_time14_leap_day_accepted():
    assert Time14().parse("time_end", "20240229235959").day == 29


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("20241301000000", id="month-13"),
        pytest.param("20240001000000", id="month-00"),
        pytest.param("20240100000000", id="day-00"),
        pytest.param("20240230120000", id="feb-30"),
        pytest.param("20230229120000", id="feb-29-non-leap"),
        pytest.param("20240101240000", id="hour-24"),
        pytest.param("20240101126000", id="minute-60"),
        pytest.param("20241231235960", id="second-60"),
        pytest.param("2024010112000", id="13-digits"),
        pytest.param("2024010112000a", id="letter"),
        pytest.param("2024-01-011200", id="dashes"),
        pytest.param(" 2024010112000", id="leading-space"),
        pytest.param("２０２４０１０１１２００００", id="full-width-digits"),
        pytest.param("", id="empty"),
    ],
)
def test_time14_refuses_bad_times(raw):
    _format_fault(Time14(), "time_start", raw)


@pytest.mark.parametrize("raw", ["202401011200000", "2024-01-01 12:00:00"])
def test_time14_over_14_characters_is_length_error(raw):
    _length_fault(Time14(), "time_start", raw)


@PROPS
@given(
    moment=st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2099, 12, 31, 23, 59))
)
def test_time14_property_round_trips_wall_clock(moment):
    moment = moment.replace(microsecond=0)
    parsed = Time14().parse("time_end", moment.strftime("%Y%m%d%H%M%S"))
    assert parsed.replace(tzinfo=None) == moment
    assert parsed.utcoffset() == timedelta(hours=8)


# --- Json -------------------------------------------------------------------------------------


def test_json_returns_exact_text():
    raw = '{ "goods_detail" : [ {"goods_id": "1", "price": 1} ] }'
    assert Json(6144).parse("detail", raw) == raw


@pytest.mark.parametrize("raw", ['{"a":1', "{'a': 1}", "not json", "", '{"a":1}x'])
def test_json_refuses_malformed(raw):
    _format_fault(Json(6144), "detail", raw)


def test_json_length_exactly_max_accepted_and_over_refused():
    raw = '"' + "x" * 254 + '"'
    assert len(raw) == 256
    assert Json(256).parse("scene_info", raw) == raw
    _length_fault(Json(256), "scene_info", '"' + "x" * 255 + '"')


def test_json_deeply_nested_within_max_len_is_not_an_internal_error():
    # 6144 characters is the detail limit in the endpoint catalogue; 3000 nested arrays fit.
    # Valid JSON may be accepted or refused, but only ever with a Fault (never RecursionError).
    raw = "[" * 3000 + "]" * 3000
    try:
        result = Json(6144).parse("detail", raw)
    except Fault as fault:
        assert fault.return_msg == "detail参数格式错误"
    else:
        assert result == raw


# --- Ip ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw", ["203.0.113.10", "127.0.0.1", "0.0.0.0", "::1", "2001:db8::1", "fe80::1:2:3:4"]
)
def test_ip_accepts_ipv4_and_ipv6(raw):
    assert Ip().parse("spbill_create_ip", raw) == raw


@pytest.mark.parametrize(
    "raw", ["256.1.1.1", "1.2.3", "localhost", "", " 1.2.3.4", "1.2.3.4 ", "1.2.3.4/24", "::g"]
)
def test_ip_refuses_non_addresses(raw):
    _format_fault(Ip(), "spbill_create_ip", raw)


_OCTETS = st.one_of(
    st.integers(0, 300).map(str),
    st.sampled_from(["00", "01", "007", "010", "0255", "", "-1", "+1", "1 ", "\u0661", "0x1"]),
)


@settings(max_examples=400, deadline=None)
@given(st.tuples(_OCTETS, _OCTETS, _OCTETS, _OCTETS))
def test_ipv4_is_judged_exactly_as_the_ipaddress_module_does(octets):
    # The dotted-quad check is a regex of its own (cheaper than ipaddress): it must accept
    # and refuse exactly what ipaddress does, leading zeros and 256 included.
    raw = ".".join(octets)
    try:
        ipaddress.ip_address(raw)
    except ValueError:
        _format_fault(Ip(), "spbill_create_ip", raw)
    else:
        assert Ip().parse("spbill_create_ip", raw) == raw


def test_ip_over_max_len_is_length_error():
    _length_fault(Ip(), "spbill_create_ip", "1" * 65)


# --- Url --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "https://merchant.example.com/wxpay/notify",
        "http://merchant.example.com/notify",
        "https://merchant.example.com:8443/a/b.php",
        "https://merchant.example.com",
    ],
)
def test_url_accepts_absolute_http_urls(raw):
    assert Url().parse("notify_url", raw) == raw


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("https://merchant.example.com/notify?order=1", id="query"),
        pytest.param("https://merchant.example.com/notify?", id="empty-query"),
        pytest.param("https://merchant.example.com/notify#frag", id="fragment"),
        pytest.param("ftp://merchant.example.com/notify", id="ftp"),
        pytest.param("merchant.example.com/notify", id="no-scheme"),
        pytest.param("/notify", id="relative"),
        pytest.param("https://", id="no-host"),
        pytest.param("https:///notify", id="empty-host"),
        pytest.param("https://merchant.example.com/no tify", id="space"),
        pytest.param("", id="empty"),
    ],
)
def test_url_refuses_non_notify_urls(raw):
    _format_fault(Url(), "notify_url", raw)


def test_url_length_boundary():
    base = "https://merchant.example.com/"
    exact = base + "a" * (256 - len(base))
    assert Url().parse("notify_url", exact) == exact
    _length_fault(Url(), "notify_url", exact + "a")


# --- describe ---------------------------------------------------------------------------------


def test_describe_texts():
    assert Str(32).describe() == "String(32)"
    assert Fen().describe() == "Int (fen)"
    assert TRADE_TYPES.describe() == "JSAPI | NATIVE | APP | MWEB"
    assert Time14().describe() == "yyyyMMddHHmmss"
    assert Json(256).describe() == "JSON, String(256)"
