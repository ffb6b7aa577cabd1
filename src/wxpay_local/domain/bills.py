"""Trade bills (refunds spec §6): which days exist, and every line's text; shared formatting.

Pure: rows come in as typed values (``TradeLine``, ``FundLine``) and leave as text lines; the
caller streams them from the store and writes the header, the rows and the totals. Money stays
integer fen until it is formatted here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import NamedTuple, Protocol

from wxpay_local.timefmt import SHANGHAI

BOM = "\ufeff"
BILL_TYPES = ("ALL", "SUCCESS", "REFUND", "RECHARGE_REFUND")
RECHARGE_FUNDS = "REFUND_SOURCE_RECHARGE_FUNDS"
#: Bills older than this many days cannot be downloaded ("three months").
OLDEST_DAYS = 92

_HEAD = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额"  # noqa: E501
_TAIL = "商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注"
_REFUND_MID = "微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态"
HEADERS = {
    "ALL": f"{_HEAD},{_REFUND_MID},{_TAIL}",
    "SUCCESS": f"{_HEAD},商品名称,商户数据包,手续费,费率,订单金额,费率备注",
    "REFUND": f"{_HEAD},退款申请时间,退款成功时间,{_REFUND_MID},{_TAIL}",
    "RECHARGE_REFUND": (
        f"{_HEAD.replace('特约商户号', '子商户号')},退款申请时间,退款成功时间,{_REFUND_MID},"
        "商品名称,商户数据包,返还手续费,费率,订单金额,申请退款金额"
    ),
}
SUMMARY_HEADER = (
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"  # noqa: E501
)
PAYMENT, REFUND, REVOKED = "payment", "refund", "revoked"
_RANK = {PAYMENT: 0, REFUND: 1, REVOKED: 2}


class TradeLine(NamedTuple):
    """One event of the day for the trade bill: a payment, a refund, or a reversal."""

    kind: str  # PAYMENT, REFUND or REVOKED
    at: datetime  # 交易时间: payment success, refund application, reversal
    row_id: int  # the order's (payment, reversal) or the refund's id: the tie-breaker
    appid: str
    device_info: str
    transaction_id: str
    out_trade_no: str
    openid: str
    trade_type: str
    bank_type: str
    fee_type: str
    body: str
    attach: str
    total_fee: int
    #: payment: the fee charged; refund: the fee share given back; reversal: the whole fee.
    fee: int
    refund_id: str = ""
    out_refund_no: str = ""
    refund_fee: int = 0
    refund_channel: str = ""
    refund_status: str = ""
    refund_success_at: datetime | None = None

    @property
    def sort_key(self) -> tuple[datetime, int, int]:
        return (self.at, _RANK[self.kind], self.row_id)


Key = tuple[datetime, int]


@dataclass(frozen=True, slots=True)
class DayQuery:
    """Which rows one bill reads: a merchant, a Beijing day, and the rows that existed when the
    bill was started (ids up to ``upto_*``: a bill streamed in pieces is one consistent file)."""

    merchant_id: int
    start: datetime
    end: datetime
    upto_order: int
    upto_refund: int
    #: When the bill is generated: refund statuses are read as of this moment.
    as_of: datetime
    device_info: str = ""
    #: Refund rows: True for recharge-funded refunds only, False for all others.
    recharge: bool = False


class BillReads(Protocol):
    """What bills need from a transaction, in keyset-paginated batches (``after`` exclusive)."""

    def bill_bounds(self) -> tuple[int, int, int]:
        """The highest order, refund and ledger transaction ids."""
        ...

    def bill_payments(self, q: DayQuery, after: Key | None, limit: int) -> list[TradeLine]: ...
    def bill_refunds(self, q: DayQuery, after: Key | None, limit: int) -> list[TradeLine]: ...
    def bill_reversals(self, q: DayQuery, after: Key | None, limit: int) -> list[TradeLine]: ...
    def bill_count(self, q: DayQuery, kinds: tuple[str, ...]) -> int: ...


def kinds_of(bill_type: str) -> tuple[str, ...]:
    """Which events a bill type lists (RECHARGE_REFUND: refunds paid from recharge funds)."""
    return {
        "ALL": (PAYMENT, REFUND, REVOKED),
        "SUCCESS": (PAYMENT,),
        "REFUND": (REFUND, REVOKED),
        "RECHARGE_REFUND": (REFUND,),
    }[bill_type]


# days -----------------------------------------------------------------------------------------
def parse_day(text: str) -> date | None:
    """``yyyyMMdd`` as a date, or None."""
    if len(text) != 8 or not text.isascii() or not text.isdigit():
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def day_range(day: date) -> tuple[datetime, datetime]:
    """The Beijing natural day, as [start, end)."""
    start = datetime.combine(day, time(0), SHANGHAI)
    return start, start + timedelta(days=1)


def availability(day: date, now: datetime, *, generation_hour: int, immediate: bool) -> str:
    """``ready``, ``creating`` (yesterday, before the generation hour) or ``invalid`` (today, the
    future, or older than ``OLDEST_DAYS``). ``immediate`` makes today's bill ready as well."""
    today = now.astimezone(SHANGHAI).date()
    if day > today or (today - day).days > OLDEST_DAYS:
        return "invalid"
    if day == today:
        return "ready" if immediate else "invalid"
    if day == today - timedelta(days=1) and not immediate:
        if now.astimezone(SHANGHAI).hour < generation_hour:
            return "creating"
    return "ready"


def refund_status_at(
    status: str, settle_at: datetime | None, success_time: datetime | None, now: datetime
) -> tuple[str, datetime | None]:
    """A refund's status when the bill is generated: a PROCESSING refund whose settling time
    has passed reads SUCCESS at that time (as refundquery would settle it)."""
    if status == "PROCESSING" and settle_at is not None and settle_at <= now:
        return "SUCCESS", settle_at
    return status, success_time


# values -------------------------------------------------------------------------------------
def yuan(fen: int) -> str:
    """Fen as yuan with two decimals: 1050 -> ``10.50``, -2 -> ``-0.02``."""
    if fen < 0:
        return "-" + yuan(-fen)
    whole, cents = divmod(fen, 100)
    return f"{whole}.{cents:02d}"


def fee_text(fen: int) -> str:
    """A fee with five decimals (whole fen): 6 -> ``0.06000``, -2 -> ``-0.02000``."""
    return yuan(fen) + "000"


def rate_text(ppm: int) -> str:
    """The merchant's rate as a percentage with two decimals: 6000 ppm -> ``0.60%``."""
    hundredths = (ppm + 50) // 100
    return f"{hundredths // 100}.{hundredths % 100:02d}%"


def clean(text: str) -> str:
    """Free text safe in a bill row: no backticks or line breaks (so `` ,` `` splits exactly)."""
    if "`" in text or "\n" in text or "\r" in text:
        return text.replace("`", "").replace("\r", " ").replace("\n", " ")
    return text


_WHEN: dict[tuple[int, ...], str] = {}


def when(moment: datetime) -> str:
    """``yyyy-MM-dd HH:mm:ss``, Beijing time (memoised per second: rows come in time order)."""
    if moment.tzinfo is not SHANGHAI:
        moment = moment.astimezone(SHANGHAI)
    key = (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)
    text = _WHEN.get(key)
    if text is None:
        if len(_WHEN) > 100_000:
            _WHEN.clear()
        text = _WHEN[key] = moment.isoformat(" ", "seconds")[:19]
    return text


def row(values: list[str]) -> str:
    """Values as one bill row: each prefixed with a backtick, then the line break."""
    return "`" + ",`".join(values) + "\n"


# the trade bill -----------------------------------------------------------------------------
class TradeTotals:
    """The summary line (§6.7), accumulated row by row."""

    __slots__ = ("count", "settle", "refund", "fee", "order", "requested")

    def __init__(self) -> None:
        self.count = self.settle = self.refund = self.fee = self.order = self.requested = 0

    def add(self, line: TradeLine) -> None:
        self.count += 1
        if line.kind == PAYMENT:
            self.settle += line.total_fee
            self.order += line.total_fee
            self.fee += line.fee
        else:
            self.refund += line.refund_fee
            self.requested += line.refund_fee
            self.fee -= line.fee

    def line(self) -> str:
        return (
            SUMMARY_HEADER
            + "\n"
            + row(
                [
                    str(self.count),
                    yuan(self.settle),
                    yuan(self.refund),
                    "0.00",
                    fee_text(self.fee),
                    yuan(self.order),
                    yuan(self.requested),
                ]
            )
        )


def trade_row(line: TradeLine, bill_type: str, mch_id: str, rate: str) -> str:
    """One detail row of a trade bill of ``bill_type`` (written as one f-string: a million-row
    day formats in seconds)."""
    head = (
        f"`{when(line.at)},`{line.appid},`{mch_id},`0,`{clean(line.device_info)},"
        f"`{line.transaction_id},`{line.out_trade_no},`{line.openid},`{line.trade_type}"
    )
    goods = f"`{clean(line.body)},`{clean(line.attach)}"
    if line.kind == PAYMENT:
        total, fee = yuan(line.total_fee), fee_text(line.fee)
        paid = f"{head},`SUCCESS,`{line.bank_type},`{line.fee_type},`{total},`0.00"
        if bill_type == "SUCCESS":
            return f"{paid},{goods},`{fee},`{rate},`{total},`\n"
        return f"{paid},`0,`0,`0.00,`0.00,`,`,{goods},`{fee},`{rate},`{total},`0.00,`\n"
    state = "REVOKED" if line.kind == REVOKED else "REFUND"
    times = ""
    if bill_type in ("REFUND", "RECHARGE_REFUND"):
        success = "" if line.refund_success_at is None else when(line.refund_success_at)
        times = f",`{when(line.at)},`{success}"
    refunded = yuan(line.refund_fee)
    remark = "" if bill_type == "RECHARGE_REFUND" else ",`"
    return (
        f"{head},`{state},`{line.bank_type},`{line.fee_type},`0.00,`0.00{times},"
        f"`{line.refund_id},`{line.out_refund_no},`{refunded},`0.00,`{line.refund_channel},"
        f"`{line.refund_status},{goods},`{fee_text(-line.fee)},`{rate},`0.00,`{refunded}{remark}\n"
    )


# whole files ----------------------------------------------------------------------------------
def trade_file(
    lines: Iterable[TradeLine],
    bill_type: str,
    mch_id: str,
    rate: str,
    *,
    chunk_rows: int = 2000,
    bom: bool = True,
) -> Iterator[str]:
    """The trade bill (§6.4) in chunks of text: BOM and header, the rows, the summary."""
    totals = TradeTotals()
    out = [(BOM if bom else "") + HEADERS[bill_type] + "\n"]
    for line in lines:
        out.append(trade_row(line, bill_type, mch_id, rate))
        totals.add(line)
        if len(out) >= chunk_rows:
            yield "".join(out)
            out = []
    out.append(totals.line())
    yield "".join(out)
