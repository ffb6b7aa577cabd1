"""下载交易账单 /pay/downloadbill (refunds spec §6; docs/behaviour.md "Bills").

A day with payments of every trade type, partial refunds (one of the day before's order, one
from recharge funds, one that came back as CHANGE) and a reversal: all four bill types
download, parse and add up to the ledger, GZIP equals plain, the control plane and the CLI
serve the same bytes, and every documented error answer comes back. Refunds and reverse need
the client certificate; these tests are about bills, so the platform runs with the check
relaxed, in-process and live, on each database.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from bill_support import (
    DAY,
    Bill,
    bill,
    bill_fault,
    busy_day,
    parse,
    plain,
    set_clock,
    to_fen,
)

from reference_client import OracleHarness
from wxpay_local import cli
from wxpay_local.domain.ledger import fee_of
from wxpay_local.settings import Settings
from wxpay_local.store import SqlStore
from wxpay_local.testing import Harness

pytestmark = pytest.mark.api

NODE_DIR = Path(__file__).resolve().parents[1] / "node"
BILL_TYPES = ("ALL", "SUCCESS", "REFUND", "RECHARGE_REFUND")
COLUMNS = {"ALL": 27, "SUCCESS": 20, "REFUND": 29, "RECHARGE_REFUND": 28}


def returned(bill: Bill) -> int:
    """What refunds that came back (CHANGE, REFUNDCLOSE) gave back to the merchant, in fen."""
    rows = [r for r in bill.rows if r.get("退款状态") in ("CHANGE", "REFUNDCLOSE")]
    return bill.fen("退款金额", rows) + bill.fen("手续费", rows)


def test_a_busy_day_in_every_bill_type_adds_up_to_the_ledger(relaxed: Harness) -> None:
    day = busy_day(relaxed)
    client = day.client()
    bills: dict[str, Bill] = {}
    for bill_type in BILL_TYPES:
        text = plain(bill(relaxed, client, bill_date=DAY, bill_type=bill_type))
        zipped = plain(bill(relaxed, client, bill_date=DAY, bill_type=bill_type, tar_type="GZIP"))
        assert zipped == text
        bills[bill_type] = parsed = parse(text)
        assert len(parsed.header) == COLUMNS[bill_type]
        assert int(parsed.summary["总交易单数"]) == len(parsed.rows)
    assert plain(bill(relaxed, client, bill_date=DAY)) == plain(
        bill(relaxed, client, bill_date=DAY, bill_type="ALL")
    )  # ALL is the default
    every, success, refund, recharge = (bills[t] for t in BILL_TYPES)

    # which rows: the day's payments, the refunds asked for that day, the reversal
    paid = {r["商户订单号"]: r for r in every.rows if r["交易状态"] == "SUCCESS"}
    assert set(paid) == {"JS-1", "NA-1", "APP-1", "MW-1", "MP-1", "MP-2"}  # not EVE-1, NEXT-1
    assert {r["交易类型"] for r in paid.values()} == {"JSAPI", "NATIVE", "APP", "MWEB", "MICROPAY"}
    for out_trade_no, row in paid.items():
        query = day.paid[out_trade_no]
        assert row["微信订单号"] == query["transaction_id"] and row["商户号"] == day.merchant.mch_id
        assert to_fen(row["订单金额"]) == to_fen(row["应结订单金额"]) == int(query["total_fee"])
        assert to_fen(row["手续费"]) == fee_of(int(query["total_fee"]), 6000)
        assert row["费率"] == "0.60%" and row["特约商户号"] == "0" and row["货币种类"] == "CNY"
        assert row["用户标识"] == query["openid"] and row["付款银行"] == query["bank_type"]
    assert paid["JS-1"]["付款银行"] == "CMB_CREDIT"
    refunds = {r["商户退款单号"]: r for r in every.rows if r["交易状态"] == "REFUND"}
    assert set(refunds) == {"R-1", "R-2", "R-4"}  # R-3 was paid from recharge funds
    assert refunds["R-2"]["商户订单号"] == "EVE-1"  # an order of the day before
    assert refunds["R-1"]["退款状态"] == "SUCCESS" and refunds["R-4"]["退款状态"] == "CHANGE"
    for out_refund_no, row in refunds.items():
        assert row["微信退款单号"] == day.refunds[out_refund_no]["refund_id"]
        assert row["退款金额"] == row["申请退款金额"] and row["应结订单金额"] == "0.00"
    (revoked,) = [r for r in every.rows if r["交易状态"] == "REVOKED"]
    assert revoked["商户订单号"] == "MP-2" and revoked["退款金额"] == "5.00"
    assert revoked["手续费"] == "-0.03000"
    assert every.column("交易时间") == sorted(every.column("交易时间"))
    assert [r["微信订单号"] for r in success.rows] == [
        r["微信订单号"] for r in every.rows if r["交易状态"] == "SUCCESS"
    ]
    assert {r["商户退款单号"] for r in refund.rows} == {"R-1", "R-2", "R-4", "MP-2"}
    assert refund.rows[0]["退款申请时间"] == refund.rows[0]["交易时间"]
    assert [r["商户退款单号"] for r in recharge.rows] == ["R-3"]

    # the summaries add up their rows
    for parsed in bills.values():
        for name, column in (("应结订单总金额", "应结订单金额"), ("手续费总金额", "手续费")):
            if column in parsed.header:
                assert to_fen(parsed.summary[name]) == parsed.fen(column)
        if "退款金额" in parsed.header:
            assert to_fen(parsed.summary["退款总金额"]) == parsed.fen("退款金额")
            assert to_fen(parsed.summary["申请退款总金额"]) == parsed.fen("申请退款金额")

    # and the ledger: the merchant's day, and the platform's fee income
    day_net = (
        every.fen("应结订单金额")
        - every.fen("退款金额")
        - every.fen("手续费")
        - recharge.fen("退款金额")
        - recharge.fen("手续费")
        + returned(every)
        + returned(recharge)
    )
    mch = day.merchant.mch_id
    eve, nxt = 800 - fee_of(800, 6000), 700 - fee_of(700, 6000)
    moved = 150  # to the operation and fees accounts
    assert day.balance(f"merchant:{mch}:basic") == eve + day_net - moved + nxt
    fee_income = fee_of(800, 6000) + fee_of(700, 6000) + every.fen("手续费")
    fee_income += recharge.fen("手续费") - every.fen("手续费", refunds_back(every))
    assert day.balance("platform:fee_income") == fee_income


def refunds_back(bill: Bill) -> list[dict[str, str]]:
    return [r for r in bill.rows if r.get("退款状态") in ("CHANGE", "REFUNDCLOSE")]


# --- availability and errors -------------------------------------------------------------------
def one_payment(h: Harness, at: str = "2024-05-01T12:00:00+08:00") -> tuple[object, str]:
    set_clock(h, at)
    merchant = h.merchant()
    payer = h.payer()
    client = h.client(merchant)
    code = h.control("POST", f"/_local/payers/{payer['payer_id']}/codes")["auth_code"]
    client.call(
        "/pay/micropay",
        body="Coffee",
        out_trade_no="ONE-1",
        total_fee=100,
        spbill_create_ip="203.0.113.10",
        auth_code=code,
        device_info="POS-7",
    )
    return client, merchant.mch_id


def test_every_documented_error_answer(relaxed: Harness) -> None:
    client, _ = one_payment(relaxed)
    set_clock(relaxed, "2024-05-02T10:00:00+08:00")
    cases = [
        ({"bill_date": "2024-5-1"}, "invalid bill_date", "20001"),
        ({"bill_date": "202405011"}, "invalid bill_date", "20001"),
        ({"bill_date": "20240230"}, "invalid bill_date", "20001"),
        ({"bill_date": "20240502"}, "invalid bill_date", "20001"),  # today
        ({"bill_date": "20240503"}, "invalid bill_date", "20001"),  # the future
        ({"bill_date": "20240130"}, "invalid bill_date", "20001"),  # more than 92 days ago
        ({"bill_date": DAY, "bill_type": "REVOKED"}, "invalid bill_type", "20001"),
        ({"bill_date": DAY, "bill_type": "all"}, "invalid bill_type", "20001"),
        ({"bill_date": DAY, "tar_type": "ZIP"}, "invalid tar_type, Only GZIP supported", "20001"),
        ({"bill_date": "20240430", "tar_type": "GZIP"}, "No Bill Exist", "20002"),
        ({"bill_date": DAY, "bill_type": "REFUND"}, "No Bill Exist", "20002"),
        ({"bill_type": "ALL"}, "missing parameter", "20001"),
        ({"bill_date": DAY, "nonce_str": "n" * 33}, "nonce_str too long", "20001"),
    ]
    for fields, message, code in cases:
        answer = bill(relaxed, client, **fields)  # type: ignore[arg-type]
        assert answer.status_code == 200
        assert answer.content == bill_fault(message, code), (fields, answer.content)
    body = client.body({"bill_date": DAY}).replace(b"<bill_date>", b"<bill_date>x", 1)
    assert relaxed.http.post("/pay/downloadbill", content=body).content == bill_fault(
        "sign error", "20001"
    )
    assert relaxed.http.post("/pay/downloadbill", content=b"").content == bill_fault(
        "empty post data", "20001"
    )
    assert relaxed.http.get("/pay/downloadbill").content == bill_fault(
        "require POST method", "20001"
    )
    journal = relaxed.journal(failures=1)
    assert any(e["message"] == "No Bill Exist" and e["explanation"]["detail"] for e in journal)


@pytest.mark.parametrize(
    ("now", "ready"),
    [
        ("2024-05-02T08:59:59+08:00", False),
        ("2024-05-02T09:00:00+08:00", True),
        ("2024-05-03T00:30:00+08:00", True),  # the day before yesterday: long generated
    ],
)
def test_yesterdays_bill_exists_from_nine(store: SqlStore, now: str, ready: bool) -> None:
    with OracleHarness.start(store) as h:
        client, _ = one_payment(h)
        set_clock(h, now)
        response = bill(h, client, bill_date=DAY)
        if ready:
            assert len(parse(plain(response)).rows) == 1
        else:
            assert response.content == bill_fault("Bill Creating", "20002")


def test_bills_available_immediately_serves_today(store: SqlStore) -> None:
    settings = Settings(bills_available_immediately=True, bill_generation_hour=11)
    with OracleHarness.start(store, settings=settings) as h:
        client, _ = one_payment(h, "2024-05-01T08:00:00+08:00")
        set_clock(h, "2024-05-01T08:00:01+08:00")
        assert len(parse(plain(bill(h, client, bill_date=DAY))).rows) == 1
        assert bill(h, client, bill_date="20240502").content == bill_fault(
            "invalid bill_date", "20001"
        )


def test_device_info_selects_that_devices_rows(relaxed: Harness) -> None:
    client, _ = one_payment(relaxed)
    set_clock(relaxed, "2024-05-02T10:00:00+08:00")
    rows = parse(plain(bill(relaxed, client, bill_date=DAY, device_info="POS-7"))).rows
    assert [r["设备号"] for r in rows] == ["POS-7"]
    assert bill(relaxed, client, bill_date=DAY, device_info="POS-8").content == bill_fault(
        "No Bill Exist", "20002"
    )


# --- the control plane, the CLI and a third-party parser ---------------------------------------
def test_the_control_plane_serves_the_same_bytes(relaxed: Harness) -> None:
    client, mch_id = one_payment(relaxed)
    set_clock(relaxed, "2024-05-02T10:00:00+08:00")
    for params in ({}, {"bill_type": "SUCCESS"}, {"tar_type": "GZIP"}):
        api = bill(relaxed, client, bill_date=DAY, **params)
        local = relaxed.http.get(f"/_local/bills/{mch_id}/{DAY}", params=params)
        assert local.status_code == 200 and local.content == api.content
        assert local.headers["content-type"] == api.headers["content-type"]
        assert local.headers["x-bill-rows"] == "1"
    # refusals: the control plane's JSON error, the API's answer in "xml"
    missing = relaxed.http.get(f"/_local/bills/{mch_id}/20240430")
    assert missing.status_code == 404
    assert missing.json() == {
        "error": "NO_BILL_EXIST",
        "message": "No Bill Exist",
        "xml": bill_fault("No Bill Exist", "20002").decode(),
    }
    bad_day = relaxed.http.get(f"/_local/bills/{mch_id}/2024-05-01")
    assert bad_day.status_code == 400 and bad_day.json()["error"] == "BAD_FIELD"
    bad = relaxed.http.get(f"/_local/bills/{mch_id}/{DAY}", params={"bill_type": "X"})
    assert bad.status_code == 400 and bad.json() == {
        "error": "BAD_FIELD",
        "message": "bill_type must be one of ALL, SUCCESS, REFUND, RECHARGE_REFUND",
    }
    nobody = relaxed.http.get(f"/_local/bills/1234567890/{DAY}")
    assert nobody.status_code == 404 and nobody.json()["error"] == "NOT_FOUND"


def run_cli(*argv: str) -> int:
    with pytest.raises(SystemExit) as done:
        cli.main(list(argv))
    return int(done.value.code or 0)


def test_the_cli_saves_bills(
    relaxed_live: Harness, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    relaxed = relaxed_live
    client, mch_id = one_payment(relaxed)
    set_clock(relaxed, "2024-05-02T10:00:00+08:00")
    url = ("--url", relaxed.base_url)
    out = tmp_path / "all.csv"
    assert run_cli("bill", mch_id, DAY, "--out", str(out), *url) == 0
    assert out.read_bytes() == bill(relaxed, client, bill_date=DAY).content
    zipped = tmp_path / "success.csv.gz"
    argv = ("bill", mch_id, DAY, "--type", "SUCCESS", "--gzip", "--out", str(zipped), *url)
    assert run_cli(*argv) == 0
    assert zipped.read_bytes()[:2] == b"\x1f\x8b"
    capsys.readouterr()
    assert run_cli("bill", mch_id, "20240430", "--out", str(tmp_path / "none"), *url) == 1
    assert not (tmp_path / "none").exists()
    assert "no bill (404): NO_BILL_EXIST No Bill Exist" in capsys.readouterr().err


def test_node_tenpay_parses_the_bill_the_same_way(relaxed_live: Harness) -> None:
    node = shutil.which("node")
    if node is None or not (NODE_DIR / "node_modules" / "tenpay").is_dir():
        pytest.skip("node or tests/node/node_modules/tenpay missing: tenpay parser not compared")
    relaxed = relaxed_live
    day = busy_day(relaxed)
    client = day.client()
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    for bill_type in BILL_TYPES:
        done = subprocess.run(
            [node, str(NODE_DIR / "parse_bill.js"), "bill", relaxed.base_url, client.appid]
            + [day.merchant.mch_id, day.merchant.api_key, DAY, bill_type],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            check=False,
        )
        answer = json.loads(done.stdout.strip().splitlines()[-1])
        assert answer["ok"], (answer, done.stderr)
        ours = parse(plain(bill(relaxed, client, bill_date=DAY, bill_type=bill_type)))
        theirs = answer["result"]
        assert [t.lstrip("\ufeff") for t in theirs["list_title"]] == ours.header
        assert theirs["list_data"] == [list(r.values()) for r in ours.rows]
        assert theirs["total_title"] == list(ours.summary)
        assert theirs["total_data"] == list(ours.summary.values())
