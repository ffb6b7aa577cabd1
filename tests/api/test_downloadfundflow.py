"""下载资金账单 /pay/downloadfundflow (refunds spec §7; docs/behaviour.md "Bills").

The busy day of ``bill_support`` in all three accounts: every movement with its running balance,
ending at the ledger's balance, the Digest header, GZIP; the business failures laid out as the
real captures; mutual TLS and HMAC-SHA256 only; and a property test: for random payments,
refunds (some coming back) and reversals, the trade bill's totals are the ledger's sums and the
fund flow's running balance ends at the account's balance.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from bill_support import (
    DAY,
    Bill,
    bill,
    bill_fault,
    busy_day,
    fund_flow,
    fund_refusal,
    parse,
    plain,
    set_clock,
    to_fen,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reference_client import OracleHarness
from wxpay_local.codes import SignType
from wxpay_local.domain.ledger import fee_of
from wxpay_local.settings import Settings
from wxpay_local.store import SqlStore, open_store
from wxpay_local.testing import Harness

pytestmark = pytest.mark.api

HMAC = SignType.HMAC_SHA256
NODE_DIR = Path(__file__).resolve().parents[1] / "node"
NO_BILL = "流水账单不存在"
PARAM_FAULT = b"<xml><return_code><![CDATA[FAIL]]></return_code>"
PARAM_FAULT += b"<return_msg><![CDATA[Param Error]]></return_msg></xml>"


def check_running_balance(flow: Bill, opening: int) -> int:
    """Every row's balance is the one before plus its movement; returns the closing balance."""
    balance = opening
    for row in flow.rows:
        sign = 1 if row["收支类型"] == "收入" else -1
        assert row["收支类型"] in ("收入", "支出")
        balance += sign * to_fen(row["收支金额(元)"])
        assert to_fen(row["账户结余(元)"]) == balance, row
    income = [r for r in flow.rows if r["收支类型"] == "收入"]
    expense = [r for r in flow.rows if r["收支类型"] == "支出"]
    assert flow.summary == {
        "资金流水总笔数": str(len(flow.rows)),
        "收入笔数": str(len(income)),
        "收入金额": flow.summary["收入金额"],
        "支出笔数": str(len(expense)),
        "支出金额": flow.summary["支出金额"],
    }
    assert to_fen(flow.summary["收入金额"]) == flow.fen("收支金额(元)", income)
    assert to_fen(flow.summary["支出金额"]) == flow.fen("收支金额(元)", expense)
    assert flow.column("记账时间") == sorted(flow.column("记账时间"))
    return balance


def digest_of(response: httpx.Response) -> str:
    return "SHA=" + hashlib.sha1(plain(response)).hexdigest()


def test_a_busy_day_in_all_three_accounts(relaxed: Harness) -> None:
    day = busy_day(relaxed)
    client = day.client(sign=HMAC)
    mch = day.merchant.mch_id
    flows: dict[str, Bill] = {}
    for account in ("Basic", "Operation", "Fees"):
        answer = fund_flow(relaxed, client, bill_date=DAY, account_type=account)
        zipped = fund_flow(relaxed, client, bill_date=DAY, account_type=account, tar_type="GZIP")
        assert plain(zipped) == plain(answer)
        assert answer.headers["digest"] == zipped.headers["digest"] == digest_of(answer)
        flows[account] = parse(plain(answer))
    for spelling in ({}, {"account_type": "BASIC"}, {"account_type": "basic"}):
        same = fund_flow(relaxed, client, bill_date=DAY, **spelling)
        assert plain(same) == plain(fund_flow(relaxed, client, bill_date=DAY, account_type="Basic"))
    basic = flows["Basic"]
    assert len(basic.header) == 11 and basic.header[6:8] == ["收支金额(元)", "账户结余(元)"]

    # every movement with its running balance, from the day before's close to the ledger's
    eve, nxt = 800 - fee_of(800, 6000), 700 - fee_of(700, 6000)
    closing = check_running_balance(basic, eve)
    assert closing == day.balance(f"merchant:{mch}:basic") - nxt
    assert check_running_balance(flows["Operation"], 0) == 100
    assert check_running_balance(flows["Fees"], 0) == 50
    assert day.balance(f"merchant:{mch}:operation") == 100

    # what each movement is called, and who asked for it
    by_voucher = {r["业务凭证号"]: r for r in basic.rows}
    for out_trade_no in ("JS-1", "NA-1", "APP-1", "MW-1", "MP-1", "MP-2"):
        row = by_voucher[out_trade_no] if out_trade_no != "MP-2" else basic.rows[5]
        query = day.paid[out_trade_no]
        total, fee = int(query["total_fee"]), fee_of(int(query["total_fee"]), 6000)
        assert row["微信支付业务单号"] == row["资金流水单号"] == query["transaction_id"]
        assert (row["业务名称"], row["业务类型"], row["收支类型"]) == ("交易", "交易", "收入")
        assert to_fen(row["收支金额(元)"]) == total - fee and row["资金变更提交申请人"] == "system"
        assert row["备注"] == f"结算总金额 {total / 100:.2f} 元;含手续费 {fee / 100:.2f} 元"
    r1 = by_voucher["R-1"]
    assert (r1["业务名称"], r1["业务类型"], r1["收支类型"]) == ("退款", "退款", "支出")
    assert r1["微信支付业务单号"] == day.refunds["R-1"]["refund_id"]
    assert r1["资金流水单号"] == day.paid["JS-1"]["transaction_id"]
    assert (
        r1["资金变更提交申请人"] == f"{mch}API" and r1["备注"] == "退款总金额3.00元;含手续费0.02元"
    )
    # recharge-funded: the basic account pays 2.50 less round_half_up(2.50 × 0.6 %) = 0.02
    assert by_voucher["R-3"]["收支金额(元)"] == "2.48"
    reversal = [r for r in basic.rows if r["业务类型"] == "撤销"]
    assert [r["业务凭证号"] for r in reversal] == ["MP-2"] and reversal[0]["收支金额(元)"] == "4.97"
    back = [r for r in basic.rows if r["业务类型"] == "退款退回"]
    assert [(r["业务凭证号"], r["收支类型"], r["收支金额(元)"]) for r in back] == [
        ("R-4", "收入", "0.99")
    ]
    assert basic.rows[-1]["业务名称"] == "其他" and basic.rows[-1]["收支金额(元)"] == "1.50"

    # the trade bill and the fund flow tell the same day
    every = parse(plain(bill(relaxed, day.client(), bill_date=DAY)))
    recharge = parse(plain(bill(relaxed, day.client(), bill_date=DAY, bill_type="RECHARGE_REFUND")))
    back_rows = [r for r in every.rows if r["退款状态"] == "CHANGE"]
    trade_net = every.fen("应结订单金额") - every.fen("退款金额") - every.fen("手续费")
    trade_net -= recharge.fen("退款金额") + recharge.fen("手续费")
    trade_net += every.fen("退款金额", back_rows) + every.fen("手续费", back_rows)
    flow_net = to_fen(basic.summary["收入金额"]) - to_fen(basic.summary["支出金额"])
    assert flow_net == trade_net - 150


def test_every_documented_error_answer(relaxed: Harness) -> None:
    day = busy_day(relaxed)
    client = day.client(sign=HMAC)
    md5 = day.client()
    bad_date = "bill_date参数错误，只能下载近三个月内当日以前的账单"
    bad_account = "account_type参数错误，取值Basic、Operation或Fees"
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"account_type": "basics"}, "PARAM_ERROR", bad_account),
        ({"bill_date": "2024-5-1"}, "PARAM_ERROR", "bill_date参数错误，格式为yyyyMMdd"),
        ({"bill_date": "20240502"}, "PARAM_ERROR", bad_date),  # today
        ({"bill_date": "20240130"}, "PARAM_ERROR", bad_date),  # more than 92 days ago
        ({"tar_type": "ZIP"}, "PARAM_ERROR", "tar_type参数错误，仅支持GZIP"),
        ({"bill_date": "20240429", "tar_type": "GZIP"}, "NO_BILL_EXIST", NO_BILL),
    ]
    for fields, err_code, des in cases:
        answer = fund_flow(relaxed, client, **({"bill_date": DAY} | fields))
        expected = fund_refusal(err_code, des)
        assert answer.status_code == 200 and answer.content == expected, (fields, answer.content)
        assert "digest" not in answer.headers
    other = relaxed.merchant()
    quiet = relaxed.client(other, sign_type=HMAC)
    assert fund_flow(relaxed, quiet, bill_date=DAY).content == fund_refusal(
        "NO_BILL_EXIST", "流水账单不存在"
    )
    # HMAC-SHA256 only: MD5 (or no sign_type, which means MD5) is a protocol failure
    assert fund_flow(relaxed, md5, bill_date=DAY).content == PARAM_FAULT
    entry = relaxed.journal(failures=1)[0]
    assert entry["message"] == "Param Error" and "HMAC-SHA256" in entry["explanation"]["detail"]
    body = client.body({"bill_date": DAY}).replace(b"<bill_date>", b"<bill_date>x", 1)
    signed_wrong = relaxed.http.post("/pay/downloadfundflow", content=body).content
    assert b"FAIL" in signed_wrong and "签名错误".encode() in signed_wrong
    missing = fund_flow(relaxed, client, account_type="Basic")
    assert "缺少参数".encode() in missing.content
    set_clock(relaxed, "2024-05-02T08:30:00+08:00")
    assert fund_flow(relaxed, client, bill_date=DAY).content == fund_refusal(
        "BILL_CREATING", "账单生成中，请于10点后再下载"
    )
    # the control plane: the same bytes, a status that says what happened
    path = f"/_local/fundflow/{day.merchant.mch_id}/{DAY}"
    creating = relaxed.http.get(path)
    assert creating.status_code == 409 and creating.json() == {
        "error": "BILL_CREATING",
        "message": "账单生成中，请于10点后再下载",
        "xml": fund_refusal("BILL_CREATING", "账单生成中，请于10点后再下载").decode(),
    }
    bad_account = relaxed.http.get(path, params={"account_type": "basics"})
    assert bad_account.status_code == 400 and bad_account.json() == {
        "error": "BAD_FIELD",
        "message": "account_type must be one of Basic, Operation, Fees",
    }
    set_clock(relaxed, "2024-05-02T10:00:00+08:00")
    local = relaxed.http.get(path, params={"account_type": "Fees", "tar_type": "GZIP"})
    api = fund_flow(relaxed, client, bill_date=DAY, account_type="Fees", tar_type="GZIP")
    assert local.status_code == 200 and local.content == api.content
    assert local.headers["digest"] == api.headers["digest"] and local.headers["x-bill-rows"] == "1"
    none = relaxed.http.get(f"/_local/fundflow/{other.mch_id}/{DAY}")
    assert none.status_code == 404 and none.json() == {
        "error": "NO_BILL_EXIST",
        "message": "流水账单不存在",
        "xml": fund_refusal("NO_BILL_EXIST", "流水账单不存在").decode(),
    }


# --- mutual TLS --------------------------------------------------------------------------------
def tls_client(h: Harness, mch_id: str | None, folder: Path) -> httpx.Client:
    assert h.ca_file is not None
    context = ssl.create_default_context(cafile=str(h.ca_file))
    if mch_id is not None:
        data = h.control("GET", f"/_local/merchants/{mch_id}/cert")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "cert.pem").write_text(data["apiclient_cert.pem"])
        (folder / "key.pem").write_text(data["apiclient_key.pem"])
        context.load_cert_chain(str(folder / "cert.pem"), str(folder / "key.pem"))
    return httpx.Client(base_url=h.tls_url, verify=context, timeout=30, trust_env=False)


def test_the_merchants_certificate_is_required(live: Harness, tmp_path: Path) -> None:
    set_clock(live, "2024-05-01T12:00:00+08:00")
    merchant, stranger = live.merchant(), live.merchant(name="Other")
    payer = live.payer()
    code = live.control("POST", f"/_local/payers/{payer['payer_id']}/codes")["auth_code"]
    live.client(merchant).call(
        "/pay/micropay",
        body="Coffee",
        out_trade_no="TLS-1",
        total_fee=1000,
        spbill_create_ip="203.0.113.10",
        auth_code=code,
    )
    set_clock(live, "2024-05-02T10:00:00+08:00")
    body = live.client(merchant, sign_type=HMAC).body({"bill_date": DAY})
    refused = b"<xml><return_code><![CDATA[FAIL]]></return_code>"
    refused += "<return_msg><![CDATA[证书错误]]></return_msg></xml>".encode()
    assert live.http.post("/pay/downloadfundflow", content=body).content == refused
    for owner, ok in ((None, False), (stranger.mch_id, False), (merchant.mch_id, True)):
        with tls_client(live, owner, tmp_path / str(owner)) as https:
            answer = https.post("/pay/downloadfundflow", content=body)
        if ok:
            flow = parse(plain(answer))
            assert [r["业务凭证号"] for r in flow.rows] == ["TLS-1"]
            assert answer.headers["digest"] == digest_of(answer)
        else:
            assert answer.content == refused


def test_node_tenpay_parses_the_fund_flow(store: SqlStore) -> None:
    node = shutil.which("node")
    if node is None or not (NODE_DIR / "node_modules" / "tenpay").is_dir():
        pytest.skip("node or tests/node/node_modules/tenpay missing: tenpay parser not compared")
    settings = Settings(notify_timeout_seconds=2.0, require_client_cert=False)
    with OracleHarness.start(store, live=True, settings=settings) as h:
        day = busy_day(h)
        client = day.client(sign=HMAC)
        ours = parse(plain(fund_flow(h, client, bill_date=DAY)))
        done = subprocess.run(
            [node, str(NODE_DIR / "parse_bill.js"), "fundflow", h.base_url, client.appid]
            + [day.merchant.mch_id, day.merchant.api_key, DAY, "Basic"],
            capture_output=True,
            text=True,
            timeout=60,
            env={k: v for k, v in os.environ.items() if "proxy" not in k.lower()},
            check=False,
        )
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["ok"], (answer, done.stderr)
    theirs = answer["result"]
    assert [t.lstrip("\ufeff") for t in theirs["list_title"]] == ours.header
    assert theirs["list_data"] == [list(r.values()) for r in ours.rows]
    assert theirs["total_data"] == list(ours.summary.values())


# --- the property ------------------------------------------------------------------------------
@pytest.fixture
def sqlite_platform(tmp_path: Path) -> Iterator[Harness]:
    store = open_store(str(tmp_path / "property.sqlite3"))
    settings = Settings(require_client_cert=False, dispatcher=False)
    try:
        with OracleHarness.start(store, settings=settings) as harness:
            yield harness
            harness.assert_ledger_balanced()
    finally:
        store.close()


OPS = st.lists(
    st.one_of(
        st.tuples(st.just("pay"), st.integers(1, 30_000), st.sampled_from(["NATIVE", "MICROPAY"])),
        st.tuples(
            st.just("refund"),
            st.integers(0, 30),
            st.integers(1, 100),
            st.sampled_from(["", "", "CHANGE", "REFUNDCLOSE"]),
        ),
        st.tuples(st.just("reverse"), st.integers(0, 30)),
    ),
    max_size=12,
)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=OPS)
def test_bill_totals_are_the_ledgers_sums(sqlite_platform: Harness, ops: list[Any]) -> None:
    h = sqlite_platform
    set_clock(h, "2024-05-01T09:00:00+08:00")
    merchant = h.merchant()
    payer = h.payer(balance=10_000_000)["payer_id"]
    h.control("POST", f"/_local/payers/{payer}/policy", {"password_policy": "never"})
    client = h.client(merchant)
    orders: list[dict[str, Any]] = []
    for op in ops:
        h.advance(30)
        if op[0] == "pay":
            orders.append(pay(h, client, payer, f"P{len(orders)}", op[1], op[2]))
        elif orders and op[0] == "refund":
            order = orders[op[1] % len(orders)]
            left = order["total"] - order["refunded"]
            if order["reversed"] or left == 0:
                continue
            amount = max(1, left * op[2] // 100)
            answer = client.call(
                "/secapi/pay/refund",
                out_trade_no=order["no"],
                out_refund_no=f"{order['no']}-R{order['refunds']}",
                total_fee=order["total"],
                refund_fee=amount,
            )
            order["refunds"] += 1
            order["refunded"] += amount
            if op[3]:
                path = f"/_local/refunds/{answer['refund_id']}/outcome"
                h.control("POST", path, {"refund_status": op[3]})
                if op[3] == "REFUNDCLOSE":
                    order["refunded"] -= amount
        elif orders:
            order = orders[op[1] % len(orders)]
            if order["type"] == "MICROPAY" and not order["refunds"] and not order["reversed"]:
                client.call("/secapi/pay/reverse", out_trade_no=order["no"])
                order["reversed"] = True
    set_clock(h, "2024-05-02T10:00:00+08:00")
    basic = int(h.ledger()["accounts"].get(f"merchant:{merchant.mch_id}:basic", 0))
    trade = bill(h, client, bill_date=DAY)
    flow = fund_flow(h, h.client(merchant, sign_type=HMAC), bill_date=DAY)
    if not orders:
        assert trade.content == bill_fault("No Bill Exist", "20002") and basic == 0
        assert flow.content == fund_refusal("NO_BILL_EXIST", NO_BILL)
        return
    every = parse(plain(trade))
    assert int(every.summary["总交易单数"]) == len(every.rows)
    for name, column in (("应结订单总金额", "应结订单金额"), ("退款总金额", "退款金额")):
        assert to_fen(every.summary[name]) == every.fen(column)
    assert to_fen(every.summary["手续费总金额"]) == every.fen("手续费")
    back = [r for r in every.rows if r["退款状态"] in ("CHANGE", "REFUNDCLOSE")]
    returned = every.fen("退款金额", back) + every.fen("手续费", back)
    settled = every.fen("应结订单金额") - every.fen("退款金额") - every.fen("手续费")
    assert settled + returned == basic
    assert check_running_balance(parse(plain(flow)), 0) == basic


def pay(
    h: Harness, client: Any, payer: int, no: str, total: int, trade_type: str
) -> dict[str, Any]:
    if trade_type == "MICROPAY":
        code = h.control("POST", f"/_local/payers/{payer}/codes")["auth_code"]
        client.call(
            "/pay/micropay",
            body="Goods",
            out_trade_no=no,
            total_fee=total,
            spbill_create_ip="203.0.113.10",
            auth_code=code,
        )
    else:
        answer = client.unifiedorder(
            body="Goods",
            out_trade_no=no,
            total_fee=total,
            spbill_create_ip="203.0.113.10",
            notify_url="http://127.0.0.1:9/notify",
            trade_type="NATIVE",
            product_id="p",
        )
        assert h.pay(payer, code_url=answer["code_url"])["outcome"] == "SUCCESS"
    return {"no": no, "total": total, "type": trade_type, "refunded": 0, "refunds": 0,
            "reversed": False}  # fmt: skip
