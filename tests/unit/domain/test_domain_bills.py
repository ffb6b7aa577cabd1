"""Bill text, pure (refunds spec §6.4–§6.9, §7.2): the spec's sample files reproduced byte for
byte from the equivalent rows, column counts per bill type, totals that add up, the day rules.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime

import pytest

from wxpay_local.domain.bills import (
    BOM,
    HEADERS,
    PAYMENT,
    REFUND,
    REVOKED,
    SUMMARY_HEADER,
    TradeLine,
    availability,
    clean,
    fee_text,
    parse_day,
    rate_text,
    refund_status_at,
    trade_file,
    yuan,
)
from wxpay_local.domain.fundflow import FUND_HEADER, FundLine, FundTotals, fund_file, fund_row
from wxpay_local.timefmt import SHANGHAI

pytestmark = pytest.mark.unit

MCH_ID = "1900000109"
APPID = "wx1234567890abcdef"
RATE = rate_text(6000)


def at(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=SHANGHAI)


# The events of spec §6.9: two payments on 2024-05-01 and a 3.00 refund of an order of 04-30.
PAY_A = TradeLine(
    PAYMENT,
    at("2024-05-01 09:15:02"),
    1,
    APPID,
    "",
    "4200000000202405010000000011",
    "T20240501091455",
    "o7LFAt0p3Q8sXl2dKqZ9mYbVhR1c",
    "JSAPI",
    "CMB_CREDIT",
    "CNY",
    "测试商品A",
    "store=SZ01",
    1000,
    6,
)
PAY_B = TradeLine(
    PAYMENT,
    at("2024-05-01 12:30:45"),
    2,
    APPID,
    "POS-01",
    "4200000000202405010000000012",
    "T20240501123012",
    "oQm2Tn8Vc4Xz6Bk1Lp9Rs3Dw7Fh5",
    "NATIVE",
    "OTHERS",
    "CNY",
    "测试商品B",
    "",
    2550,
    15,
)
REFUND_C = TradeLine(
    REFUND,
    at("2024-05-01 16:20:11"),
    1,
    APPID,
    "",
    "4200000000202404300000000001",
    "T20240430190001",
    "o7LFAt0p3Q8sXl2dKqZ9mYbVhR1c",
    "JSAPI",
    "CMB_CREDIT",
    "CNY",
    "测试商品C",
    "store=SZ01",
    800,
    2,
    refund_id="50300000012024050100000000001",
    out_refund_no="R20240501162011001",
    refund_fee=300,
    refund_channel="ORIGINAL",
    refund_status="SUCCESS",
    refund_success_at=at("2024-05-01 16:20:15"),
)

ALL_SAMPLE = """\
交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注
`2024-05-01 09:15:02,`wx1234567890abcdef,`1900000109,`0,`,`4200000000202405010000000011,`T20240501091455,`o7LFAt0p3Q8sXl2dKqZ9mYbVhR1c,`JSAPI,`SUCCESS,`CMB_CREDIT,`CNY,`10.00,`0.00,`0,`0,`0.00,`0.00,`,`,`测试商品A,`store=SZ01,`0.06000,`0.60%,`10.00,`0.00,`
`2024-05-01 12:30:45,`wx1234567890abcdef,`1900000109,`0,`POS-01,`4200000000202405010000000012,`T20240501123012,`oQm2Tn8Vc4Xz6Bk1Lp9Rs3Dw7Fh5,`NATIVE,`SUCCESS,`OTHERS,`CNY,`25.50,`0.00,`0,`0,`0.00,`0.00,`,`,`测试商品B,`,`0.15000,`0.60%,`25.50,`0.00,`
`2024-05-01 16:20:11,`wx1234567890abcdef,`1900000109,`0,`,`4200000000202404300000000001,`T20240430190001,`o7LFAt0p3Q8sXl2dKqZ9mYbVhR1c,`JSAPI,`REFUND,`CMB_CREDIT,`CNY,`0.00,`0.00,`50300000012024050100000000001,`R20240501162011001,`3.00,`0.00,`ORIGINAL,`SUCCESS,`测试商品C,`store=SZ01,`-0.02000,`0.60%,`0.00,`3.00,`
总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额
`3,`35.50,`3.00,`0.00,`0.19000,`35.50,`3.00
"""  # noqa: E501

SUCCESS_SAMPLE = """\
交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,商品名称,商户数据包,手续费,费率,订单金额,费率备注
`2024-05-01 09:15:02,`wx1234567890abcdef,`1900000109,`0,`,`4200000000202405010000000011,`T20240501091455,`o7LFAt0p3Q8sXl2dKqZ9mYbVhR1c,`JSAPI,`SUCCESS,`CMB_CREDIT,`CNY,`10.00,`0.00,`测试商品A,`store=SZ01,`0.06000,`0.60%,`10.00,`
`2024-05-01 12:30:45,`wx1234567890abcdef,`1900000109,`0,`POS-01,`4200000000202405010000000012,`T20240501123012,`oQm2Tn8Vc4Xz6Bk1Lp9Rs3Dw7Fh5,`NATIVE,`SUCCESS,`OTHERS,`CNY,`25.50,`0.00,`测试商品B,`,`0.15000,`0.60%,`25.50,`
总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额
`2,`35.50,`0.00,`0.00,`0.21000,`35.50,`0.00
"""  # noqa: E501

REFUND_SAMPLE = """\
交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,退款申请时间,退款成功时间,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注
`2024-05-01 16:20:11,`wx1234567890abcdef,`1900000109,`0,`,`4200000000202404300000000001,`T20240430190001,`o7LFAt0p3Q8sXl2dKqZ9mYbVhR1c,`JSAPI,`REFUND,`CMB_CREDIT,`CNY,`0.00,`0.00,`2024-05-01 16:20:11,`2024-05-01 16:20:15,`50300000012024050100000000001,`R20240501162011001,`3.00,`0.00,`ORIGINAL,`SUCCESS,`测试商品C,`store=SZ01,`-0.02000,`0.60%,`0.00,`3.00,`
总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额
`1,`0.00,`3.00,`0.00,`-0.02000,`0.00,`3.00
"""  # noqa: E501

FUND_SAMPLE = """\
记账时间,微信支付业务单号,资金流水单号,业务名称,业务类型,收支类型,收支金额(元),账户结余(元),资金变更提交申请人,备注,业务凭证号
`2024-05-01 09:15:03,`4200000000202405010000000011,`4200000000202405010000000011,`交易,`交易,`收入,`9.94,`109.94,`system,`结算总金额 10.00 元;含手续费 0.06 元,`T20240501091455
`2024-05-01 12:30:46,`4200000000202405010000000012,`4200000000202405010000000012,`交易,`交易,`收入,`25.35,`135.29,`system,`结算总金额 25.50 元;含手续费 0.15 元,`T20240501123012
`2024-05-01 16:20:12,`50300000012024050100000000001,`4200000000202404300000000001,`退款,`退款,`支出,`2.98,`132.31,`1900000109API,`退款总金额3.00元;含手续费0.02元,`R20240501162011001
资金流水总笔数,收入笔数,收入金额,支出笔数,支出金额
`3,`2,`35.29,`1,`2.98
"""  # noqa: E501
#: spec §7.3: the SHA-1 of exactly the sample text (UTF-8, no BOM, final newline).
FUND_SAMPLE_SHA1 = "1d2b96c0a29a50bd49c9616dbe2b6aa87cb649b7"

FUND_LINES = [
    FundLine(
        at("2024-05-01 09:15:03"),
        1,
        "payment",
        "4200000000202405010000000011",
        994,
        10994,
        "4200000000202405010000000011",
        "T20240501091455",
        1000,
        6,
    ),
    FundLine(
        at("2024-05-01 12:30:46"),
        2,
        "payment",
        "4200000000202405010000000012",
        2535,
        13529,
        "4200000000202405010000000012",
        "T20240501123012",
        2550,
        15,
    ),
    FundLine(
        at("2024-05-01 16:20:12"),
        3,
        "refund",
        "50300000012024050100000000001",
        -298,
        13231,
        "4200000000202404300000000001",
        "T20240430190001",
        800,
        5,
        "50300000012024050100000000001",
        "R20240501162011001",
        300,
        2,
    ),
]


def bill(lines: list[TradeLine], bill_type: str, *, bom: bool = False) -> str:
    return "".join(trade_file(lines, bill_type, MCH_ID, RATE, chunk_rows=2, bom=bom))


def parse(text: str) -> tuple[list[str], list[list[str]], list[str], list[str]]:
    """The node-tenpay way: strip the backtick, split on the two characters ,`."""
    lines = text.removeprefix(BOM).rstrip("\n").split("\n")
    rows = [line[1:].split(",`") for line in lines[1:-2]]
    return lines[0].split(","), rows, lines[-2].split(","), lines[-1][1:].split(",`")


# --- the spec's samples, byte for byte ---------------------------------------------------------
@pytest.mark.parametrize(
    ("bill_type", "lines", "sample"),
    [
        ("ALL", [PAY_A, PAY_B, REFUND_C], ALL_SAMPLE),
        ("SUCCESS", [PAY_A, PAY_B], SUCCESS_SAMPLE),
        ("REFUND", [REFUND_C], REFUND_SAMPLE),
    ],
)
def test_the_spec_sample_bills_are_reproduced_exactly(
    bill_type: str, lines: list[TradeLine], sample: str
) -> None:
    assert bill(lines, bill_type) == sample
    with_bom = bill(lines, bill_type, bom=True)
    assert with_bom == BOM + sample
    assert with_bom.encode("utf-8").startswith(b"\xef\xbb\xbf")


def test_the_spec_sample_fund_flow_is_reproduced_exactly_with_its_digest() -> None:
    text = "".join(fund_file(FUND_LINES, MCH_ID, chunk_rows=1, bom=False))
    assert text == FUND_SAMPLE
    assert hashlib.sha1(text.encode()).hexdigest() == FUND_SAMPLE_SHA1


# --- structure and totals ----------------------------------------------------------------------
REVOKED_D = PAY_A._replace(
    kind=REVOKED,
    at=at("2024-05-01 09:15:40"),
    refund_id=PAY_A.transaction_id,
    out_refund_no=PAY_A.out_trade_no,
    refund_fee=1000,
    refund_channel="ORIGINAL",
    refund_status="SUCCESS",
    refund_success_at=at("2024-05-01 09:15:40"),
)


@pytest.mark.parametrize(
    ("bill_type", "columns"),
    [("ALL", 27), ("SUCCESS", 20), ("REFUND", 29), ("RECHARGE_REFUND", 28)],
)
def test_every_row_has_the_headers_column_count(bill_type: str, columns: int) -> None:
    lines = {
        "ALL": [PAY_A, PAY_B, REFUND_C, REVOKED_D],
        "SUCCESS": [PAY_A, PAY_B],
        "REFUND": [REFUND_C, REVOKED_D],
        "RECHARGE_REFUND": [REFUND_C],
    }[bill_type]
    header, rows, summary_header, summary = parse(bill(lines, bill_type))
    assert len(header) == columns == len(HEADERS[bill_type].split(","))
    assert all(len(values) == columns for values in rows)
    assert summary_header == SUMMARY_HEADER.split(",") and len(summary) == 7
    assert int(summary[0]) == len(rows) == len(lines)


def test_the_summary_adds_up_the_rows() -> None:
    lines = sorted([REFUND_C, PAY_B, REVOKED_D, PAY_A], key=lambda line: line.sort_key)
    header, rows, _, summary = parse(bill(lines, "ALL"))
    column = {name: [row[i] for row in rows] for i, name in enumerate(header)}

    def total(name: str) -> int:
        return sum(round(float(v) * 100) for v in column[name])

    assert yuan(total("应结订单金额")) == summary[1] == "35.50"
    assert yuan(total("退款金额")) == summary[2] == "13.00"
    assert summary[3] == "0.00"
    assert fee_text(total("手续费")) == summary[4] == "0.13000"  # 6 + 15 - 2 - 6
    assert yuan(total("订单金额")) == summary[5]
    assert yuan(total("申请退款金额")) == summary[6] == "13.00"
    assert column["交易状态"] == ["SUCCESS", "REVOKED", "SUCCESS", "REFUND"]


def test_rows_are_in_time_order_and_a_reversal_reads_like_a_full_refund() -> None:
    _, rows, _, _ = parse(bill([REVOKED_D], "REFUND"))
    (values,) = rows
    assert values[9] == "REVOKED"
    assert values[14] == values[15] == "2024-05-01 09:15:40"
    assert values[16:22] == [
        PAY_A.transaction_id,
        PAY_A.out_trade_no,
        "10.00",
        "0.00",
        "ORIGINAL",
        "SUCCESS",
    ]
    assert values[24] == "-0.06000"


def test_free_text_cannot_break_a_row() -> None:
    nasty = PAY_A._replace(body="a,`b`\nc\r", attach="x,`y", device_info="d`1")
    header, rows, _, _ = parse(bill([nasty, PAY_B], "ALL"))
    assert all(len(values) == len(header) for values in rows)
    assert rows[0][20] == "a,b c " and rows[0][21] == "x,y" and rows[0][4] == "d1"
    assert clean("plain") == "plain"


def test_a_refund_not_yet_successful_has_no_success_time() -> None:
    waiting = REFUND_C._replace(refund_status="PROCESSING", refund_success_at=None)
    _, rows, _, _ = parse(bill([waiting], "REFUND"))
    assert rows[0][15] == "" and rows[0][21] == "PROCESSING"


def test_recharge_refund_bills_name_the_returned_fee_and_have_no_rate_remark() -> None:
    header, rows, _, _ = parse(bill([REFUND_C], "RECHARGE_REFUND"))
    assert header[3] == "子商户号" and header[24] == "返还手续费" and "费率备注" not in header
    assert rows[0][24] == "-0.02000" and rows[0][-1] == "3.00"


# --- values ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fen", "text"), [(0, "0.00"), (1, "0.01"), (1050, "10.50"), (-2, "-0.02"), (-150, "-1.50")]
)
def test_yuan(fen: int, text: str) -> None:
    assert yuan(fen) == text
    assert fee_text(fen) == text + "000"


@pytest.mark.parametrize(
    ("ppm", "text"), [(6000, "0.60%"), (3800, "0.38%"), (10000, "1.00%"), (2000, "0.20%")]
)
def test_rate(ppm: int, text: str) -> None:
    assert rate_text(ppm) == text


# --- days --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text", ["2024051", "202405011", "2024-5-1", "20240230", "２０２４０５０１", ""]
)
def test_bad_dates(text: str) -> None:
    assert parse_day(text) is None


NOW = datetime(2024, 5, 2, 10, 0, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("day", "now", "immediate", "expected"),
    [
        (date(2024, 5, 1), NOW, False, "ready"),
        (date(2024, 5, 1), NOW.replace(hour=8, minute=59), False, "creating"),
        (date(2024, 5, 1), NOW.replace(hour=8, minute=59), True, "ready"),
        (date(2024, 5, 2), NOW, False, "invalid"),
        (date(2024, 5, 2), NOW, True, "ready"),
        (date(2024, 5, 3), NOW, True, "invalid"),
        (date(2024, 1, 31), NOW, False, "ready"),  # 92 days back
        (date(2024, 1, 30), NOW, False, "invalid"),
        (date(2024, 4, 30), NOW.replace(hour=0), False, "ready"),  # two days back
    ],
)
def test_availability(day: date, now: datetime, immediate: bool, expected: str) -> None:
    assert availability(day, now, generation_hour=9, immediate=immediate) == expected


def test_a_processing_refund_past_its_settling_time_reads_successful() -> None:
    settle = at("2024-05-01 16:20:15")
    assert refund_status_at("PROCESSING", settle, None, NOW) == ("SUCCESS", settle)
    early = at("2024-05-01 16:20:14")
    assert refund_status_at("PROCESSING", settle, None, early) == ("PROCESSING", None)
    assert refund_status_at("CHANGE", settle, None, NOW) == ("CHANGE", None)


# --- the fund flow's other movements -----------------------------------------------------------
def test_fund_flow_rows_for_reversals_and_returned_refunds() -> None:
    reversal = FundLine(
        at("2024-05-01 09:20:00"), 9, "reversal", "4200", -994, 0, "4200", "T1", 1000, 6
    )
    returned = FUND_LINES[2]._replace(kind="refund_returned", amount=298, balance_after=13529)
    other = FundLine(at("2024-05-01 23:00:00"), 12, "deposit", "D-1", 500, 14029)
    texts = [fund_row(line, MCH_ID)[1:-1].split(",`") for line in (reversal, returned, other)]
    assert texts[0][3:6] == ["退款", "撤销", "支出"] and texts[0][8] == "1900000109API"
    assert texts[0][9] == "退款总金额10.00元;含手续费0.06元" and texts[0][10] == "T1"
    assert texts[1][3:6] == ["退款", "退款退回", "收入"] and texts[1][8] == "system"
    assert texts[2][1:6] == ["D-1", "0000000000000000000000000012", "其他", "deposit", "收入"]
    totals = FundTotals()
    for line in (reversal, returned, other):
        totals.add(line)
    assert (totals.count, totals.income_count, totals.income) == (3, 2, 798)
    assert (totals.expense_count, totals.expense) == (1, 994)
    assert FUND_HEADER.count(",") == 10
