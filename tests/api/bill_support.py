"""Helpers for the bill tests: an independent bill parser, signed download requests, and a busy
day built through the public API (every trade type, partial refunds, a reversal).

The parser follows the spec (§6.4, §7.2) and node-tenpay's approach (strip the leading
backtick, split on the two characters ,`), not the platform's code.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from wxpay_local.codes import SignType
from wxpay_local.domain.model import LedgerTxn, Posting
from wxpay_local.sdk import Client
from wxpay_local.testing import Harness, MerchantInfo
from wxpay_local.timefmt import SHANGHAI

BOM = "\ufeff"
DAY = "20240501"
NOTIFY_URL = "http://127.0.0.1:9/notify"  # nobody listens: notifications just fail
IP = "203.0.113.10"
MWEB_SCENE = '{"h5_info":{"type":"Wap","wap_url":"https://shop.example","wap_name":"shop"}}'


@dataclass
class Bill:
    header: list[str]
    rows: list[dict[str, str]]
    summary: dict[str, str]

    def column(self, name: str) -> list[str]:
        return [row[name] for row in self.rows]

    def fen(self, name: str, rows: list[dict[str, str]] | None = None) -> int:
        """The sum of a money column, in fen (5-decimal fees are whole fen)."""
        if name == "手续费" and name not in self.header:
            name = "返还手续费"  # RECHARGE_REFUND bills
        return sum(to_fen(row[name]) for row in (self.rows if rows is None else rows))


def to_fen(text: str) -> int:
    sign = -1 if text.startswith("-") else 1
    whole, _, decimals = text.lstrip("-").partition(".")
    assert decimals == "" or set(decimals[2:]) <= {"0"}, text
    return sign * (int(whole) * 100 + int((decimals + "00")[:2]))


def parse(body: bytes) -> Bill:
    """A bill file (§6.4 / §7.2): BOM, header, backtick rows, summary header, summary."""
    text = body.decode("utf-8")
    assert text.startswith(BOM), "bills start with a UTF-8 BOM"
    assert text.endswith("\n") and "\r" not in text
    lines = text.removeprefix(BOM).removesuffix("\n").split("\n")
    header = lines[0].split(",")
    assert not lines[0].startswith("`")
    rows = []
    for line in lines[1:-2]:
        assert line.startswith("`"), line
        values = line[1:].split(",`")
        assert len(values) == len(header), (len(values), len(header), line)
        rows.append(dict(zip(header, values, strict=True)))
    summary_header = lines[-2].split(",")
    summary_values = lines[-1][1:].split(",`")
    assert lines[-1].startswith("`") and len(summary_values) == len(summary_header)
    return Bill(header, rows, dict(zip(summary_header, summary_values, strict=True)))


# requests -------------------------------------------------------------------------------------
def post(h: Harness, client: Client, path: str, **fields: Any) -> httpx.Response:
    """A signed request; the raw answer (bills are not XML)."""
    return h.http.post(client.base_url + path, content=client.body(fields))


def bill(h: Harness, client: Client, **fields: Any) -> httpx.Response:
    return post(h, client, "/pay/downloadbill", **fields)


def fund_flow(h: Harness, client: Client, **fields: Any) -> httpx.Response:
    return post(h, client, "/pay/downloadfundflow", **fields)


def plain(response: httpx.Response) -> bytes:
    """The file, decompressed when it came as GZIP."""
    assert response.status_code == 200
    if response.headers["content-type"] == "application/x-gzip":
        assert response.content[:2] == b"\x1f\x8b"
        return gzip.decompress(response.content)
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    return response.content


def bill_fault(message: str, code: str) -> bytes:
    """downloadbill's failure answer, exactly (§6.8)."""
    return (
        "<xml><return_code><![CDATA[FAIL]]></return_code>\n"
        f"<return_msg><![CDATA[{message}]]></return_msg>\n"
        f"<error_code><![CDATA[{code}]]></error_code>\n</xml>"
    ).encode()


def fund_refusal(err_code: str, des: str) -> bytes:
    """downloadfundflow's business failure, laid out as the real capture (§7.4)."""
    return (
        "<xml><return_code><![CDATA[SUCCESS]]></return_code>\n"
        "<return_msg><![CDATA[OK]]></return_msg>\n"
        "<result_code><![CDATA[FAIL]]></result_code>\n"
        f"<err_code><![CDATA[{err_code}]]></err_code>\n"
        f"<err_code_des><![CDATA[{des}]]></err_code_des>\n</xml>"
    ).encode()


# building a day -------------------------------------------------------------------------------
def set_clock(h: Harness, iso: str) -> None:
    h.control("POST", "/_local/clock", {"now": iso, "freeze": True})


def beijing(iso: str) -> datetime:
    return datetime.fromisoformat(iso).astimezone(SHANGHAI)


@dataclass
class Day:
    """What a test did on 2024-05-01 (and around it), to compare the bills against."""

    h: Harness
    merchant: MerchantInfo
    payer_id: int
    card_id: int
    paid: dict[str, dict[str, str]] = field(default_factory=dict)  # out_trade_no -> query
    refunds: dict[str, dict[str, str]] = field(default_factory=dict)  # out_refund_no -> answer

    def client(self, kind: str = "official_account", sign: SignType = SignType.MD5) -> Client:
        return self.h.client(self.merchant, kind, sign)

    def unifiedorder(self, kind: str, out_trade_no: str, total_fee: int, **extra: Any) -> None:
        card = extra.pop("card", False)
        trade_type = extra.pop("tt", "") or {"official_account": "JSAPI", "app": "APP"}[kind]
        client = self.client(kind)
        if trade_type == "JSAPI":
            extra["openid"] = self.h.openid(self.payer_id, client.appid)
        answer = client.unifiedorder(
            body=f"Test shop-{out_trade_no}",
            out_trade_no=out_trade_no,
            total_fee=total_fee,
            spbill_create_ip=IP,
            notify_url=NOTIFY_URL,
            trade_type=trade_type,
            **extra,
        )
        handle = (
            {"code_url": answer["code_url"]}
            if trade_type == "NATIVE"
            else {"prepay_id": answer["prepay_id"]}
        )
        paid = self.h.pay(self.payer_id, **handle, **({"card_id": self.card_id} if card else {}))
        assert paid["outcome"] == "SUCCESS", paid
        self.paid[out_trade_no] = client.orderquery(out_trade_no=out_trade_no)

    def micropay(self, out_trade_no: str, total_fee: int) -> None:
        code = self.h.control("POST", f"/_local/payers/{self.payer_id}/codes")["auth_code"]
        client = self.client()
        client.call(
            "/pay/micropay",
            body=f"Test shop-{out_trade_no}",
            out_trade_no=out_trade_no,
            total_fee=total_fee,
            spbill_create_ip=IP,
            auth_code=code,
        )
        self.paid[out_trade_no] = client.orderquery(out_trade_no=out_trade_no)

    def refund(self, out_trade_no: str, out_refund_no: str, fee: int, **extra: Any) -> str:
        total = int(self.paid[out_trade_no]["total_fee"])
        answer = self.client().call(
            "/secapi/pay/refund",
            out_trade_no=out_trade_no,
            out_refund_no=out_refund_no,
            total_fee=total,
            refund_fee=fee,
            **extra,
        )
        self.refunds[out_refund_no] = answer
        return answer["refund_id"]

    def move(self, at: str, **to_accounts: int) -> None:
        """Money from the basic account to the merchant's other accounts (a ledger entry)."""
        basic = f"merchant:{self.merchant.mch_id}:basic"
        postings = [Posting(basic, -sum(to_accounts.values()))]
        postings += [
            Posting(f"merchant:{self.merchant.mch_id}:{name}", amount)
            for name, amount in to_accounts.items()
        ]
        with self.h.app.store.begin() as tx:
            tx.post(LedgerTxn("transfer", f"T-{at}", tuple(postings), at=beijing(at)))

    def balance(self, account: str) -> int:
        return int(self.h.ledger()["accounts"].get(account, 0))


def busy_day(h: Harness) -> Day:
    """Every trade type paid on 05-01, partial refunds (one of an order of 04-30, one from
    recharge funds, one forced to CHANGE), a reversal, transfers to the operation and fees
    accounts; an order on 04-30 and one on 05-02 around it. The clock ends at 05-02 10:00."""
    set_clock(h, "2024-04-30T20:00:00+08:00")
    merchant = h.merchant()
    payer = h.payer(balance=1_000_000, cards=["CMB_CREDIT"])
    payer_id = payer["payer_id"]
    h.control("POST", f"/_local/payers/{payer_id}/policy", {"password_policy": "never"})
    day = Day(h, merchant, payer_id, payer["cards"][0]["card_id"])
    day.unifiedorder("mini_program", "EVE-1", 800, tt="NATIVE", product_id="latte")
    set_clock(h, "2024-05-01T09:15:02+08:00")
    steps = [
        lambda: day.unifiedorder("official_account", "JS-1", 1000, card=True),
        lambda: day.unifiedorder("mini_program", "NA-1", 2550, tt="NATIVE", product_id="p1"),
        lambda: day.unifiedorder("app", "APP-1", 1234),
        lambda: day.unifiedorder("mini_program", "MW-1", 999, tt="MWEB", scene_info=MWEB_SCENE),
        lambda: day.micropay("MP-1", 1800),
        lambda: day.micropay("MP-2", 500),
        lambda: day.refund("JS-1", "R-1", 300),
        lambda: day.refund("EVE-1", "R-2", 200),
        lambda: day.refund("NA-1", "R-3", 250, refund_account="REFUND_SOURCE_RECHARGE_FUNDS"),
        lambda: day.client().call("/secapi/pay/reverse", out_trade_no="MP-2"),
    ]
    for step in steps:
        step()
        h.advance(60)
    change = day.refund("APP-1", "R-4", 100)
    h.control("POST", f"/_local/refunds/{change}/outcome", {"refund_status": "CHANGE"})
    day.move("2024-05-01T18:00:00+08:00", operation=100, fees=50)
    set_clock(h, "2024-05-02T09:30:00+08:00")
    day.unifiedorder("app", "NEXT-1", 700)
    set_clock(h, "2024-05-02T10:00:00+08:00")
    return day
