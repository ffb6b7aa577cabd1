"""Trade bills (refunds file §6): parse the downloaded text into typed rows and totals.

The format: a header line, one row per payment / refund with every field prefixed by a
backtick, a summary header starting with 总交易单数 and one summary line. Amounts are yuan
with two decimals (fees five); here they become fen (``int``) and ``Decimal`` yuan for fees.
The legacy column names (总金额, 代金券或立减优惠金额, 子商户号) are read too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from wxpay_sdk.errors import ProtocolError

SUMMARY_FIRST = "总交易单数"
_ALIASES = {
    "应结订单金额": ("应结订单金额", "总金额"),
    "代金券金额": ("代金券金额", "代金券或立减优惠金额", "企业红包金额"),
}


def fen(yuan: str) -> int:
    """``"25.50"`` → 2550 (exact: Decimal, never float)."""
    if not yuan:
        return 0
    try:
        return int((Decimal(yuan) * 100).to_integral_value())
    except InvalidOperation:
        raise ProtocolError(f"not an amount: {yuan!r}") from None


@dataclass(frozen=True)
class BillRow:
    time: str
    appid: str
    mch_id: str
    device_info: str
    transaction_id: str
    out_trade_no: str
    openid: str
    trade_type: str
    #: SUCCESS (a payment), REFUND (a refund) or REVOKED (a reversed micropay)
    trade_state: str
    bank_type: str
    fee_type: str
    #: 应结订单金额 in fen
    settlement_total_fee: int
    coupon_fee: int
    refund_id: str
    out_refund_no: str
    #: 退款金额 in fen
    refund_fee: int
    refund_type: str
    refund_status: str
    body: str
    attach: str
    #: 手续费 in yuan (five decimals; negative on refund rows)
    poundage: Decimal
    rate: str
    #: 订单金额 in fen
    total_fee: int
    #: 申请退款金额 in fen
    applied_refund_fee: int
    #: every column by its header name, as text
    columns: dict[str, str] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class BillTotals:
    count: int
    settlement_total_fee: int
    refund_fee: int
    recharge_refund_fee: int
    poundage: Decimal
    total_fee: int
    applied_refund_fee: int
    columns: dict[str, str] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Bill:
    header: list[str]
    rows: list[BillRow]
    totals: BillTotals


def _cells(line: str) -> list[str]:
    # every field starts with a backtick; splitting on ",`" keeps commas inside values
    return line[1:].split(",`") if line.startswith("`") else line.split(",")


def _get(columns: dict[str, str], name: str) -> str:
    for alias in _ALIASES.get(name, (name,)):
        if alias in columns:
            return columns[alias]
    return ""


def _row(columns: dict[str, str]) -> BillRow:
    g = columns.get
    return BillRow(
        time=g("交易时间", ""),
        appid=g("公众账号ID", ""),
        mch_id=g("商户号", ""),
        device_info=g("设备号", ""),
        transaction_id=g("微信订单号", ""),
        out_trade_no=g("商户订单号", ""),
        openid=g("用户标识", ""),
        trade_type=g("交易类型", ""),
        trade_state=g("交易状态", ""),
        bank_type=g("付款银行", ""),
        fee_type=g("货币种类", ""),
        settlement_total_fee=fen(_get(columns, "应结订单金额")),
        coupon_fee=fen(_get(columns, "代金券金额")),
        refund_id=g("微信退款单号", ""),
        out_refund_no=g("商户退款单号", ""),
        refund_fee=fen(g("退款金额", "")),
        refund_type=g("退款类型", ""),
        refund_status=g("退款状态", ""),
        body=g("商品名称", ""),
        attach=g("商户数据包", ""),
        poundage=Decimal(g("手续费", "") or g("返还手续费", "") or "0"),
        rate=g("费率", ""),
        total_fee=fen(g("订单金额", "")),
        applied_refund_fee=fen(g("申请退款金额", "")),
        columns=columns,
    )


def parse(text: str | bytes) -> Bill:
    """A trade bill (UTF-8, with or without its BOM) as rows and totals."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    lines = [line for line in text.lstrip("\ufeff").splitlines() if line.strip()]
    if not lines or lines[0].startswith("<"):
        raise ProtocolError("not a bill")
    header = lines[0].split(",")
    try:
        cut = next(i for i, line in enumerate(lines) if line.startswith(SUMMARY_FIRST))
    except StopIteration:
        raise ProtocolError("the bill has no summary (总交易单数) line") from None
    rows = []
    for line in lines[1:cut]:
        cells = _cells(line)
        if len(cells) != len(header):
            raise ProtocolError(f"a bill row has {len(cells)} fields, the header {len(header)}")
        rows.append(_row(dict(zip(header, cells, strict=True))))
    names = lines[cut].split(",")
    values = _cells(lines[cut + 1]) if cut + 1 < len(lines) else []
    summary = dict(zip(names, values, strict=False))
    amounts = [fen(v) for v in values[1:]] + [0] * 7
    totals = BillTotals(
        count=int(values[0]) if values and values[0].isdigit() else 0,
        settlement_total_fee=amounts[0],
        refund_fee=fen(summary.get("退款总金额", "")),
        recharge_refund_fee=fen(summary.get("充值券退款总金额", "")),
        poundage=Decimal(summary.get("手续费总金额", "0") or "0"),
        total_fee=fen(summary.get("订单总金额", "")),
        applied_refund_fee=fen(summary.get("申请退款总金额", "")),
        columns=summary,
    )
    return Bill(header, rows, totals)
