"""The /_local control plane: OpenAPI, merchants, payers, paying, clock, reset, ledger."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest

from wxpay_local.testing import Harness, MerchantInfo
from wxpay_local.timefmt import SHANGHAI
from wxpay_local.web.control import all_ops

pytestmark = pytest.mark.api

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def _order(trade_type: str = "NATIVE", **extra: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "body": "Test shop-Coffee",
        "out_trade_no": "CP0001",
        "total_fee": 1800,
        "spbill_create_ip": "203.0.113.10",
        "notify_url": "http://127.0.0.1:9/notify",
        "trade_type": trade_type,
    }
    if trade_type == "NATIVE":
        fields["product_id"] = "latte"
    fields.update(extra)
    return fields


def _clock(platform: Harness) -> dict[str, Any]:
    result: dict[str, Any] = platform.control("GET", "/_local/clock")
    return result


def _now(platform: Harness) -> datetime:
    return datetime.fromisoformat(_clock(platform)["now"])


def _wallet(platform: Harness, payer_id: int) -> int:
    return int(platform.control("GET", f"/_local/payers/{payer_id}")["balance"])


def _state(platform: Harness, merchant: MerchantInfo, out_trade_no: str = "CP0001") -> str:
    return platform.client(merchant).orderquery(out_trade_no=out_trade_no)["trade_state"]


def _raw(platform: Harness, method: str, path: str, content: bytes) -> Any:
    response = platform.http.request(
        method, path, content=content, headers={"content-type": "application/json"}
    )
    return response.status_code, response.json()


# OpenAPI --------------------------------------------------------------------------------------
def test_openapi_document_is_openapi_3_1_listing_every_operation(platform: Harness) -> None:
    response = platform.http.get("/_local/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    doc = response.json()

    assert re.fullmatch(r"3\.1\.\d+", doc["openapi"])
    assert isinstance(doc["info"]["title"], str) and doc["info"]["title"]
    assert isinstance(doc["info"]["version"], str) and doc["info"]["version"]
    paths = doc["paths"]
    assert all(path.startswith("/") for path in paths)

    listed = {(path, method) for path, item in paths.items() for method in item}
    expected = {(op.path, op.method.lower()) for op in all_ops()}
    assert listed == expected

    operation_ids: list[str] = []
    for path, item in paths.items():
        assert set(item) <= HTTP_METHODS, item.keys()
        templated = set(re.findall(r"\{([^}]+)\}", path))
        for method, operation in item.items():
            operation_ids.append(operation["operationId"])
            assert operation["summary"]
            responses = operation["responses"]
            assert responses and all(
                re.fullmatch(r"[1-5]\d\d|[1-5]XX|default", code) for code in responses
            )
            assert all(r["description"] for r in responses.values())
            parameters = operation.get("parameters", [])
            in_path = {p["name"] for p in parameters if p["in"] == "path"}
            assert in_path == templated, (path, method)
            for parameter in parameters:
                assert parameter["in"] in ("path", "query", "header", "cookie")
                assert "schema" in parameter
                if parameter["in"] == "path":
                    assert parameter["required"] is True
            if "requestBody" in operation:
                schema = operation["requestBody"]["content"]["application/json"]["schema"]
                assert schema["type"] == "object"
                assert set(schema.get("required", [])) <= set(schema["properties"])
    assert len(operation_ids) == len(set(operation_ids)), operation_ids
    assert all(re.fullmatch(r"[A-Za-z0-9_.-]+", op_id) for op_id in operation_ids)

    # Every POST with fields documents them: the request-body schema equals the OPS table.
    by_key = {(op.path, op.method.lower()): op for op in all_ops()}
    for (path, method), op in by_key.items():
        if op.body:
            schema = paths[path][method]["requestBody"]["content"]["application/json"]["schema"]
            assert schema["properties"] == op.body
            assert schema["required"] == list(op.required)


# merchants ------------------------------------------------------------------------------------
def test_merchant_create_returns_32_char_key_and_one_app_of_each_kind(platform: Harness) -> None:
    created = platform.control("POST", "/_local/merchants", {"name": "Coffee shop"})
    assert re.fullmatch(r"\d+", created["mch_id"])
    assert len(created["api_key"]) == 32
    assert created["name"] == "Coffee shop"
    kinds = sorted(app["kind"] for app in created["apps"])
    assert kinds == ["app", "mini_program", "official_account"]
    for app in created["apps"]:
        assert re.fullmatch(r"wx[0-9a-f]{16}", app["appid"]), app
        assert isinstance(app["secret"], str) and len(app["secret"]) == 32
    assert len({app["appid"] for app in created["apps"]}) == 3

    fetched = platform.control("GET", f"/_local/merchants/{created['mch_id']}")
    by_appid = sorted(created["apps"], key=lambda a: a["appid"])
    assert sorted(fetched.pop("apps"), key=lambda a: a["appid"]) == by_appid
    assert fetched == {k: v for k, v in created.items() if k != "apps"}
    listed = platform.control("GET", "/_local/merchants")["merchants"]
    assert [m["mch_id"] for m in listed] == [created["mch_id"]]


def test_merchant_create_with_given_mch_id_and_key_uses_them(platform: Harness) -> None:
    key = "Wh7Qx2LmP9sT4vB8nK3dR6yF1gJ5zC0a"
    created = platform.control(
        "POST", "/_local/merchants", {"mch_id": "1900000109", "api_key": key}
    )
    assert (created["mch_id"], created["api_key"]) == ("1900000109", key)


def test_merchant_create_duplicate_mch_id_refused_400(platform: Harness) -> None:
    platform.control("POST", "/_local/merchants", {"mch_id": "1900000109"})
    refused = platform.control("POST", "/_local/merchants", {"mch_id": "1900000109"}, expect=400)
    assert refused["error"]
    assert "1900000109" in refused["message"]
    assert len(platform.control("GET", "/_local/merchants")["merchants"]) == 1


@pytest.mark.parametrize("length", [31, 33, 1])
def test_merchant_create_api_key_not_32_chars_refused_400(platform: Harness, length: int) -> None:
    refused = platform.control(
        "POST", "/_local/merchants", {"mch_id": "1900000109", "api_key": "k" * length}, expect=400
    )
    assert refused["error"]
    platform.control("GET", "/_local/merchants/1900000109", expect=404)


def test_merchant_unknown_mch_id_404(platform: Harness) -> None:
    missing = platform.control("GET", "/_local/merchants/1999999999", expect=404)
    assert missing["error"] == "NOT_FOUND"


# payers ---------------------------------------------------------------------------------------
def test_payer_create_with_balance_and_cards_returns_them(platform: Harness) -> None:
    payer = platform.payer(balance=12_345, cards=["CMB_CREDIT", "ICBC_DEBIT"])
    assert isinstance(payer["payer_id"], int)
    assert payer["balance"] == 12_345
    assert [(c["bank_type"], c["credit"]) for c in payer["cards"]] == [
        ("CMB_CREDIT", True),
        ("ICBC_DEBIT", False),
    ]
    assert len({c["card_id"] for c in payer["cards"]}) == 2
    assert all(isinstance(c["card_id"], int) for c in payer["cards"])
    assert platform.control("GET", f"/_local/payers/{payer['payer_id']}") == payer
    listed = platform.control("GET", "/_local/payers")["payers"]
    assert [p["payer_id"] for p in listed] == [payer["payer_id"]]


def test_payer_create_gets_openids_under_existing_apps(platform: Harness) -> None:
    merchant = platform.merchant()
    payer = platform.payer()
    assert set(payer["openids"]) == set(merchant.apps.values())
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{28}", o) for o in payer["openids"].values())


def test_payer_openid_is_issued_by_a_post_and_stable(platform: Harness) -> None:
    payer = platform.payer()  # created before the merchant: no openid yet
    merchant = platform.merchant()
    appid = merchant.apps["mini_program"]
    assert appid not in payer["openids"]
    path = f"/_local/payers/{payer['payer_id']}"
    platform.control("GET", path)
    assert appid not in platform.control("GET", path)["openids"], "a GET never issues one"
    issued = platform.control("POST", f"{path}/openids", {"appid": appid})
    again = platform.control("POST", f"{path}/openids", {"appid": appid})
    assert issued == again == {"appid": appid, "openid": issued["openid"]}
    first = platform.control("GET", path)
    assert first["openids"][appid] == issued["openid"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{28}", first["openids"][appid])
    # Another app gets another openid; the same payer is the same user.
    other = platform.openid(payer["payer_id"], merchant.apps["official_account"])
    assert other != first["openids"][appid]


def test_payer_unknown_id_404(platform: Harness) -> None:
    assert platform.control("GET", "/_local/payers/999999", expect=404)["error"] == "NOT_FOUND"
    refused = platform.control("POST", "/_local/payers/999999/topup", {"amount": 1}, expect=404)
    assert refused["error"] == "NOT_FOUND"


def test_payer_openid_for_unknown_app_or_payer_404(platform: Harness) -> None:
    payer = platform.payer()
    path = f"/_local/payers/{payer['payer_id']}/openids"
    platform.control("POST", path, {"appid": "wxnope"}, expect=404)
    platform.control("POST", "/_local/payers/999999/openids", {"appid": "wxnope"}, expect=404)


def test_payer_topup_adds_to_wallet(platform: Harness) -> None:
    payer = platform.payer(balance=100)
    answer = platform.control("POST", f"/_local/payers/{payer['payer_id']}/topup", {"amount": 900})
    assert answer["balance"] == 1000
    assert _wallet(platform, payer["payer_id"]) == 1000
    for amount in (0, -5):
        platform.control(
            "POST", f"/_local/payers/{payer['payer_id']}/topup", {"amount": amount}, expect=400
        )


# request validation ---------------------------------------------------------------------------
def test_control_bad_json_400_with_error_code(platform: Harness) -> None:
    status, answer = _raw(platform, "POST", "/_local/payers", b'{"name": "x",')
    assert status == 400
    assert answer["error"] == "BAD_JSON" and answer["message"]
    status, answer = _raw(platform, "POST", "/_local/merchants", b"[1, 2]")
    assert status == 400 and answer["error"] == "BAD_JSON"
    assert platform.control("GET", "/_local/payers")["payers"] == []


def test_control_unknown_field_400(platform: Harness) -> None:
    refused = platform.control("POST", "/_local/payers", {"name": "x", "balence": 5}, expect=400)
    assert refused["error"] == "UNKNOWN_FIELD"
    assert "balence" in refused["message"]
    assert platform.control("GET", "/_local/payers")["payers"] == []


def test_control_wrong_field_type_400(platform: Harness) -> None:
    for body in ({"balance": "100"}, {"balance": True}, {"cards": "CMB_DEBIT"}):
        refused = platform.control("POST", "/_local/payers", body, expect=400)
        assert refused["error"] == "BAD_FIELD", body


def test_control_missing_required_field_400(platform: Harness) -> None:
    refused = platform.control("POST", "/_local/clock/advance", {}, expect=400)
    assert refused["error"] == "MISSING_FIELD"


# the clock ------------------------------------------------------------------------------------
def test_clock_advance_moves_now_forward_by_seconds(platform: Harness) -> None:
    before = _now(platform)
    answer = platform.control("POST", "/_local/clock/advance", {"seconds": 3600})
    after = _now(platform)
    moved = (after - before).total_seconds()
    assert 3600 <= moved < 3600 + 5
    assert answer["offset_seconds"] >= 3600
    assert after.utcoffset() == timedelta(hours=8)  # Beijing time


def test_clock_advance_while_frozen_moves_exactly(platform: Harness) -> None:
    platform.control("POST", "/_local/clock", {"now": "2024-01-01T12:00:00+08:00", "freeze": True})
    platform.advance(90)
    assert _now(platform) == datetime(2024, 1, 1, 12, 1, 30, tzinfo=SHANGHAI)


def test_clock_advance_negative_refused_400(platform: Harness) -> None:
    before = _now(platform)
    refused = platform.control("POST", "/_local/clock/advance", {"seconds": -60}, expect=400)
    assert refused["error"] == "BAD_FIELD"
    assert _now(platform) >= before


def test_clock_set_with_freeze_keeps_time_constant_until_real(platform: Harness) -> None:
    answer = platform.control(
        "POST", "/_local/clock", {"now": "2024-02-29T23:59:58+08:00", "freeze": True}
    )
    assert answer["frozen"] is True
    first = _clock(platform)
    # What the app's periodic refresh from the store does (every CLOCK_REFRESH_SECONDS), run
    # now rather than slept through: a refresh must not move a frozen clock.
    platform.app.load_clock()
    second = _clock(platform)
    assert first["now"] == second["now"]
    assert datetime.fromisoformat(second["now"]) == datetime(
        2024, 2, 29, 23, 59, 58, tzinfo=SHANGHAI
    )
    assert second["frozen"] is True

    real = platform.control("POST", "/_local/clock", {"real": True})
    assert real["frozen"] is False and real["offset_seconds"] == 0
    drift = abs((datetime.fromisoformat(real["now"]) - datetime.now(SHANGHAI)).total_seconds())
    assert drift < 5
    later = _now(platform)
    assert later >= datetime.fromisoformat(real["now"])


def test_clock_set_without_freeze_runs_from_given_time(platform: Harness) -> None:
    platform.control("POST", "/_local/clock", {"now": "2030-05-01T00:00:00+00:00"})
    now = _now(platform)
    target = datetime(2030, 5, 1, 8, 0, 0, tzinfo=SHANGHAI)
    assert target <= now < target + timedelta(seconds=5)
    assert _clock(platform)["frozen"] is False


def test_clock_set_naive_time_refused_400(platform: Harness) -> None:
    refused = platform.control("POST", "/_local/clock", {"now": "2024-01-01T12:00:00"}, expect=400)
    assert refused["error"] == "BAD_FIELD"
    refused = platform.control("POST", "/_local/clock", {"now": "yesterday"}, expect=400)
    assert refused["error"] == "BAD_FIELD"


# reset and the ledger -------------------------------------------------------------------------
def test_reset_empties_merchants_payers_and_orders(platform: Harness) -> None:
    merchant = platform.merchant()
    payer = platform.payer(balance=5000)
    answer = platform.client(merchant).unifiedorder(**_order())
    platform.pay(payer["payer_id"], code_url=answer["code_url"])
    platform.advance(86400)

    assert platform.control("POST", "/_local/reset", {}) == {"reset": True}

    assert platform.control("GET", "/_local/merchants")["merchants"] == []
    assert platform.control("GET", "/_local/payers")["payers"] == []
    assert platform.control("GET", "/_local/orders")["orders"] == []
    assert platform.ledger() == {"accounts": {}, "total": 0}
    platform.control("GET", f"/_local/merchants/{merchant.mch_id}", expect=404)
    clock = _clock(platform)
    assert clock["offset_seconds"] == 0 and clock["frozen"] is False


def test_ledger_total_zero_after_mix_of_payments(platform: Harness) -> None:
    merchant = platform.merchant()
    other = platform.merchant(fee_rate_ppm=0)
    payer = platform.payer(balance=3000, cards=["CMB_DEBIT", "ICBC_CREDIT"])
    cards = {c["bank_type"]: c["card_id"] for c in payer["cards"]}
    client, other_client = platform.client(merchant), platform.client(other, "app")

    wallet = client.unifiedorder(**_order(out_trade_no="MIX1", total_fee=1800))
    debit = client.unifiedorder(**_order(out_trade_no="MIX2", total_fee=2500))
    credit = other_client.unifiedorder(**_order("APP", out_trade_no="MIX3", total_fee=999))
    too_much = client.unifiedorder(**_order(out_trade_no="MIX4", total_fee=5000))
    pid = payer["payer_id"]
    assert platform.pay(pid, code_url=wallet["code_url"])["outcome"] == "SUCCESS"
    assert (
        platform.pay(pid, code_url=debit["code_url"], card_id=cards["CMB_DEBIT"])["outcome"]
        == "SUCCESS"
    )
    assert (
        platform.pay(pid, prepay_id=credit["prepay_id"], card_id=cards["ICBC_CREDIT"])["outcome"]
        == "SUCCESS"
    )
    assert platform.pay(pid, code_url=too_much["code_url"])["outcome"] == "NOTENOUGH"
    platform.control("POST", f"/_local/payers/{pid}/topup", {"amount": 4000})
    assert platform.pay(pid, code_url=too_much["code_url"])["outcome"] == "SUCCESS"

    ledger = platform.ledger()
    accounts = ledger["accounts"]
    assert ledger["total"] == 0 == sum(accounts.values())
    fees = 11 + 15 + 30  # 0.6 % of 1800, 2500, 5000, rounded half up
    assert accounts[f"merchant:{merchant.mch_id}:basic"] == 1800 + 2500 + 5000 - fees
    assert accounts[f"merchant:{other.mch_id}:basic"] == 999
    assert accounts.get("platform:fee_income", 0) == fees
    assert accounts[f"payer:{pid}:wallet"] == 3000 + 4000 - 1800 - 5000
    assert accounts["external:bank:CMB_DEBIT"] == -2500
    assert accounts["external:bank:ICBC_CREDIT"] == -999
    assert accounts["external:topup"] == -7000
    prefixed = platform.control("GET", "/_local/ledger", prefix="external:")
    assert set(prefixed["accounts"]) == {
        "external:bank:CMB_DEBIT",
        "external:bank:ICBC_CREDIT",
        "external:topup",
    }


# paying as a payer: every outcome ---------------------------------------------------------------
def test_pay_balance_below_amount_notenough_then_topup_and_retry_succeeds(
    platform: Harness,
) -> None:
    merchant = platform.merchant()
    payer = platform.payer(balance=100)
    pid = payer["payer_id"]
    answer = platform.client(merchant).unifiedorder(**_order())
    before = platform.ledger()

    refused = platform.pay(pid, code_url=answer["code_url"])
    assert refused["outcome"] == "NOTENOUGH"
    assert refused["message"]
    assert _state(platform, merchant) == "NOTPAY"
    assert platform.ledger() == before

    topped = platform.control("POST", f"/_local/payers/{pid}/topup", {"amount": 1700})
    assert topped["balance"] == 1800
    paid = platform.pay(pid, code_url=answer["code_url"])
    assert paid["outcome"] == "SUCCESS", paid
    assert paid["order"]["trade_state"] == "SUCCESS"
    assert _state(platform, merchant) == "SUCCESS"
    assert _wallet(platform, pid) == 0
    assert platform.ledger()["accounts"][f"merchant:{merchant.mch_id}:basic"] == 1800 - 11


def test_pay_cancel_cancelled_order_stays_notpay(platform: Harness) -> None:
    merchant = platform.merchant()
    payer = platform.payer()
    answer = platform.client(merchant).unifiedorder(**_order())
    before = platform.ledger()
    cancelled = platform.pay(payer["payer_id"], code_url=answer["code_url"], action="cancel")
    assert cancelled["outcome"] == "CANCELLED"
    assert _state(platform, merchant) == "NOTPAY"
    assert platform.ledger() == before
    # Still payable afterwards.
    assert platform.pay(payer["payer_id"], code_url=answer["code_url"])["outcome"] == "SUCCESS"


def test_pay_wrong_password_wrong_password_and_right_one_pays(platform: Harness) -> None:
    merchant = platform.merchant()
    payer = platform.payer(pay_password="246810")
    answer = platform.client(merchant).unifiedorder(**_order())
    before = platform.ledger()
    wrong = platform.pay(payer["payer_id"], code_url=answer["code_url"], password="123456")
    assert wrong["outcome"] == "WRONG_PASSWORD"
    assert _state(platform, merchant) == "NOTPAY"
    assert platform.ledger() == before
    right = platform.pay(payer["payer_id"], code_url=answer["code_url"], password="246810")
    assert right["outcome"] == "SUCCESS", right


def test_pay_jsapi_order_by_another_payer_buyer_mismatch(platform: Harness) -> None:
    merchant = platform.merchant()
    buyer, stranger = platform.payer(), platform.payer()
    openid = platform.openid(buyer["payer_id"], merchant.apps["official_account"])
    answer = platform.client(merchant).unifiedorder(**_order("JSAPI", openid=openid))
    before = platform.ledger()

    mismatch = platform.pay(stranger["payer_id"], prepay_id=answer["prepay_id"])
    assert mismatch["outcome"] == "BUYER_MISMATCH"
    assert _state(platform, merchant) == "NOTPAY"
    assert platform.ledger() == before

    paid = platform.pay(buyer["payer_id"], prepay_id=answer["prepay_id"])
    assert paid["outcome"] == "SUCCESS", paid
    assert platform.client(merchant).orderquery(out_trade_no="CP0001")["openid"] == openid


def test_pay_already_paid_order_order_paid_money_moved_once(platform: Harness) -> None:
    merchant = platform.merchant()
    payer = platform.payer(balance=10_000)
    answer = platform.client(merchant).unifiedorder(**_order())
    first = platform.pay(payer["payer_id"], code_url=answer["code_url"])
    assert first["outcome"] == "SUCCESS"
    after_first = platform.ledger()

    again = platform.pay(payer["payer_id"], code_url=answer["code_url"])
    assert again["outcome"] == "ORDER_PAID"
    by_prepay = platform.pay(payer["payer_id"], prepay_id=answer["prepay_id"])
    assert by_prepay["outcome"] == "ORDER_PAID"
    assert again["order"]["transaction_id"] == first["order"]["transaction_id"]

    assert platform.ledger() == after_first
    assert _wallet(platform, payer["payer_id"]) == 10_000 - 1800
    assert after_first["accounts"][f"merchant:{merchant.mch_id}:basic"] == 1800 - 11
    notes = platform.notifications(merchant.mch_id)
    assert len(notes) == 1


def test_pay_unknown_prepay_id_order_not_found(platform: Harness) -> None:
    payer = platform.payer()
    missing = platform.pay(payer["payer_id"], prepay_id="wx20240101120000" + "0" * 20)
    assert missing["outcome"] == "ORDER_NOT_FOUND"
    assert missing["order"] is None


def test_pay_neither_or_both_handles_400(platform: Harness) -> None:
    payer = platform.payer()
    refused = platform.control("POST", "/_local/pay", {"payer_id": payer["payer_id"]}, expect=400)
    assert refused["error"] == "MISSING_FIELD"
    refused = platform.control(
        "POST",
        "/_local/pay",
        {"payer_id": payer["payer_id"], "prepay_id": "wx1", "code_url": "weixin://wxpay/x?pr=1"},
        expect=400,
    )
    assert refused["error"] == "MISSING_FIELD"
    refused = platform.control(
        "POST", "/_local/pay", {"payer_id": payer["payer_id"], "code_url": "https://x"}, expect=400
    )
    assert refused["error"] == "BAD_FIELD"


def test_pay_by_openid_instead_of_payer_id_succeeds(platform: Harness) -> None:
    merchant = platform.merchant()
    payer = platform.payer()
    openid = platform.openid(payer["payer_id"], merchant.apps["official_account"])
    answer = platform.client(merchant).unifiedorder(**_order("JSAPI", openid=openid))
    paid = platform.control(
        "POST", "/_local/pay", {"openid": openid, "prepay_id": answer["prepay_id"]}
    )
    assert paid["outcome"] == "SUCCESS", paid
    assert _wallet(platform, payer["payer_id"]) == 100_000 - 1800


def test_pay_non_ascii_password_is_a_wrong_password_not_a_500(platform: Harness) -> None:
    merchant = platform.merchant()
    payer = platform.payer(pay_password="246810")
    answer = platform.client(merchant).unifiedorder(**_order())
    before = platform.ledger()
    wrong = platform.pay(payer["payer_id"], code_url=answer["code_url"], password="密码٣٤٥٦")
    assert wrong["outcome"] == "WRONG_PASSWORD"
    assert _state(platform, merchant) == "NOTPAY"
    assert platform.ledger() == before
