"""Control-plane refusals: every input error is a 4xx {"error": CODE, "message": text}.

The cases that used to be 500s, and one example of each error code (docs/control-plane.md).
"""

from __future__ import annotations

from typing import Any

import pytest

from wxpay_local.testing import Harness

pytestmark = pytest.mark.api


def _refused(response: Any, status: int, code: str, message: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"error": code, "message": message}


def _native_order(platform: Harness) -> tuple[dict[str, Any], dict[str, Any]]:
    shop = platform.merchant()
    order = platform.client(shop).unifiedorder(
        body="Latte",
        out_trade_no="E1",
        total_fee=1800,
        spbill_create_ip="127.0.0.1",
        trade_type="NATIVE",
        product_id="latte",
        notify_url="http://127.0.0.1:9/notify",
    )
    return order, platform.payer(balance=5000)


# the 500s of issue 10 ---------------------------------------------------------------------------
def test_journal_limit_not_a_number_is_bad_field(platform: Harness) -> None:
    response = platform.http.get("/_local/journal", params={"limit": "abc"})
    _refused(response, 400, "BAD_FIELD", "limit must be a whole number")


def test_pay_with_non_ascii_password_is_a_wrong_password(platform: Harness) -> None:
    order, payer = _native_order(platform)
    answer = platform.pay(payer["payer_id"], code_url=order["code_url"], password="密码一二三四")
    assert answer["outcome"] == "WRONG_PASSWORD"
    assert answer["message"] == "支付密码错误，请重试"
    assert answer["order"]["trade_state"] == "NOTPAY"
    assert platform.control("GET", f"/_local/payers/{payer['payer_id']}")["balance"] == 5000


# parameters -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "params", "message"),
    [
        ("/_local/orders", {"offset": "-1"}, "offset must be between 0 and 100000000000"),
        ("/_local/orders", {"limit": "1e3"}, "limit must be a whole number"),
        ("/_local/orders", {"limit": "١٢"}, "limit must be a whole number"),  # int() takes it
        ("/_local/orders", {"limit": "1_000"}, "limit must be a whole number"),
        ("/_local/journal", {"failures": "maybe"}, "failures must be true or false"),
        (
            "/_local/journal",
            {"before_id": "1000000000000"},
            "before_id must be between 1 and 100000000000",
        ),
        ("/_local/notifications", {"kind": "other"}, "kind must be one of payment, refund"),
        ("/_local/payers/abc", {}, "payer_id must be a whole number"),
        ("/_local/merchants/12ab", {}, "mch_id must match ^[0-9]+$"),
    ],
)
def test_bad_parameters_are_bad_field(
    platform: Harness, path: str, params: dict[str, str], message: str
) -> None:
    _refused(platform.http.get(path, params=params), 400, "BAD_FIELD", message)


def test_empty_query_parameter_is_the_default(platform: Harness) -> None:
    answer = platform.http.get("/_local/journal", params={"limit": "", "failures": ""})
    assert answer.status_code == 200 and answer.json() == {"entries": []}


def test_journal_failures_takes_true_and_1(platform: Harness) -> None:
    for value in ("true", "1", "false", "0"):
        assert platform.http.get("/_local/journal", params={"failures": value}).status_code == 200


# paths and methods ------------------------------------------------------------------------------
def test_unknown_control_path_is_json_not_found(platform: Harness) -> None:
    response = platform.http.get("/_local/nothing/here")
    _refused(response, 404, "NOT_FOUND", "no such control-plane operation")


def test_wrong_method_is_json_method_not_allowed(platform: Harness) -> None:
    response = platform.http.delete("/_local/reset")
    _refused(response, 405, "METHOD_NOT_ALLOWED", "/_local/reset takes POST")
    assert response.headers["allow"] == "POST"


def test_missing_record_is_not_found(platform: Harness) -> None:
    response = platform.http.get("/_local/merchants/1234567890")
    _refused(response, 404, "NOT_FOUND", "no merchant 1234567890")


# bodies -----------------------------------------------------------------------------------------
def _post(platform: Harness, path: str, content: bytes) -> Any:
    return platform.http.post(path, content=content, headers={"content-type": "application/json"})


def test_body_not_utf8_is_bad_json(platform: Harness) -> None:
    response = _post(platform, "/_local/payers", b'{"name": "\xff"}')
    _refused(response, 400, "BAD_JSON", "the body is not valid JSON")


def test_body_nested_too_deep_is_bad_json(platform: Harness) -> None:
    response = _post(platform, "/_local/payers", b"[" * 100_000 + b"]" * 100_000)
    _refused(response, 400, "BAD_JSON", "the body is not valid JSON")


def test_body_not_an_object_is_bad_json(platform: Harness) -> None:
    response = _post(platform, "/_local/payers", b"[1, 2]")
    _refused(response, 400, "BAD_JSON", "the body must be a JSON object")


def test_lone_surrogate_is_bad_field(platform: Harness) -> None:
    response = _post(platform, "/_local/payers", b'{"name": "\\ud800"}')
    _refused(response, 400, "BAD_FIELD", "name must be valid Unicode text")


def test_unknown_field_is_named(platform: Harness) -> None:
    response = _post(platform, "/_local/payers", b'{"nmae": "Alice"}')
    _refused(response, 400, "UNKNOWN_FIELD", "unknown field 'nmae'")


def test_field_out_of_range_is_bad_field(platform: Harness) -> None:
    response = platform.http.post("/_local/payers", json={"balance": -1})
    _refused(response, 400, "BAD_FIELD", "balance must be between 0 and 100000000000")


def test_required_field_missing_from_an_empty_body(platform: Harness) -> None:
    response = _post(platform, "/_local/clock/advance", b"")
    _refused(response, 400, "MISSING_FIELD", "seconds is required")


def test_integral_float_is_an_integer_and_a_fraction_is_not(platform: Harness) -> None:
    payer_id = platform.payer(balance=0)["payer_id"]
    topup = f"/_local/payers/{payer_id}/topup"
    assert platform.http.post(topup, json={"amount": 100.0}).json() == {"balance": 100}
    response = platform.http.post(topup, json={"amount": 1.5})
    _refused(response, 400, "BAD_FIELD", "amount must be of type integer")


def test_pay_needs_a_payer(platform: Harness) -> None:
    order, _ = _native_order(platform)
    response = platform.http.post("/_local/pay", json={"code_url": order["code_url"]})
    _refused(response, 400, "MISSING_FIELD", "give payer_id or openid")


def test_pay_by_unknown_openid_is_not_found(platform: Harness) -> None:
    order, _ = _native_order(platform)
    body = {"code_url": order["code_url"], "openid": "o-nobody"}
    response = platform.http.post("/_local/pay", json=body)
    _refused(response, 404, "NOT_FOUND", "no payer has openid o-nobody")


def test_payer_for_unknown_app_is_not_found_and_not_created(platform: Harness) -> None:
    response = platform.http.post("/_local/payers", json={"appid": "wx-nobody"})
    _refused(response, 404, "NOT_FOUND", "no app wx-nobody")
    assert platform.control("GET", "/_local/payers") == {"payers": []}


def test_domain_refusal_carries_the_platform_err_code(platform: Harness) -> None:
    platform.merchant(mch_id="1900000109")
    response = platform.http.post("/_local/merchants", json={"mch_id": "1900000109"})
    _refused(response, 400, "PARAM_ERROR", "merchant 1900000109 already exists")


def test_clock_stays_within_the_years_it_can_show(platform: Harness) -> None:
    early = platform.http.post("/_local/clock", json={"now": "1999-12-31T23:00:00+08:00"})
    _refused(early, 400, "BAD_FIELD", "the clock shows years 2000 to 2099 only")
    platform.control("POST", "/_local/clock", {"now": "2099-12-31T12:00:00+08:00", "freeze": True})
    late = platform.http.post("/_local/clock/advance", json={"seconds": 86400})
    _refused(late, 400, "BAD_FIELD", "the clock shows years 2000 to 2099 only")
    assert platform.control("GET", "/_local/clock")["now"] == "2099-12-31T12:00:00+08:00"
    platform.control("POST", "/_local/clock", {"real": True})


# the OpenAPI document ---------------------------------------------------------------------------
def test_openapi_types_integers_and_describes_answers_and_alternatives(
    platform: Harness,
) -> None:
    doc = platform.control("GET", "/_local/openapi.json")
    journal = doc["paths"]["/_local/journal"]["get"]
    types = {p["name"]: p["schema"]["type"] for p in journal["parameters"]}
    assert types == {
        "mch_id": "string",
        "failures": "boolean",
        "limit": "integer",
        "before_id": "integer",
    }
    payer = doc["paths"]["/_local/payers/{payer_id}"]["get"]
    assert payer["parameters"][0]["schema"]["type"] == "integer"

    pay = doc["paths"]["/_local/pay"]["post"]
    body = pay["requestBody"]["content"]["application/json"]["schema"]
    assert body["allOf"] == [
        {"oneOf": [{"required": ["prepay_id"]}, {"required": ["code_url"]}]},
        {"anyOf": [{"required": ["payer_id"]}, {"required": ["openid"]}]},
    ]
    answer = pay["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer == {"$ref": "#/components/schemas/PayResult"}
    result = doc["components"]["schemas"]["PayResult"]
    assert result["required"] == ["outcome", "message", "order"]
    assert "WRONG_PASSWORD" in result["properties"]["outcome"]["enum"]
    order = {"$ref": "#/components/schemas/Order"}
    assert result["properties"]["order"] == {"oneOf": [order, {"type": "null"}]}
    error = {"$ref": "#/components/schemas/Error"}
    assert pay["responses"]["400"]["content"]["application/json"]["schema"] == error
    assert pay["responses"]["404"]["content"]["application/json"]["schema"] == error
    assert doc["components"]["schemas"]["Error"]["required"] == ["error", "message"]

    bill = doc["paths"]["/_local/bills/{mch_id}/{bill_date}"]["get"]["responses"]
    assert set(bill["200"]["content"]) == {"text/plain", "application/x-gzip"}
    assert {"400", "404", "409"} <= set(bill)
