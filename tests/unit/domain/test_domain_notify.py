"""Notification retry schedules (refunds spec §4.5) and the payment notification's fields (§4.2)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from wxpay_local.codes import SignType, TradeState, TradeType
from wxpay_local.domain.model import Order
from wxpay_local.domain.notify import DEFAULT_SCHEDULE, SCHEDULES, next_attempt_at, payment_fields
from wxpay_local.timefmt import SHANGHAI

pytestmark = pytest.mark.unit

FIRST = datetime(2024, 5, 1, 9, 0, tzinfo=SHANGHAI)


def hm(hours: int = 0, minutes: int = 0, seconds: int = 0) -> timedelta:
    return timedelta(hours=hours, minutes=minutes, seconds=seconds)


#: The table of refunds-bills-notifications.md §4.5: offset of each delivery from the first.
SPEC_OFFSETS = [
    hm(),
    hm(seconds=15),
    hm(seconds=30),
    hm(minutes=1),
    hm(minutes=4),
    hm(minutes=14),
    hm(minutes=34),
    hm(1, 4),
    hm(1, 34),
    hm(2, 4),
    hm(3, 4),
    hm(6, 4),
    hm(9, 4),
    hm(12, 4),
    hm(18, 4),
    hm(24, 4),
]


def test_default_schedule_is_wechat() -> None:
    assert DEFAULT_SCHEDULE == "wechat"


def test_wechat_schedule_offsets_match_the_spec_table() -> None:
    schedule = SCHEDULES["wechat"]
    offsets = [timedelta(0)]  # delivery 1 is immediate
    for made in range(1, 16):
        due = next_attempt_at(FIRST, made, schedule)
        assert due is not None, f"delivery {made + 1} missing"
        offsets.append(due - FIRST)
    assert offsets == SPEC_OFFSETS
    assert len(offsets) == 16


@pytest.mark.parametrize("delivery", range(2, 17))
def test_each_wechat_delivery_is_due_at_its_table_offset(delivery: int) -> None:
    due = next_attempt_at(FIRST, delivery - 1, SCHEDULES["wechat"])
    assert due == FIRST + SPEC_OFFSETS[delivery - 1]


def test_no_delivery_after_the_sixteenth() -> None:
    assert next_attempt_at(FIRST, 16, SCHEDULES["wechat"]) is None
    assert next_attempt_at(FIRST, 17, SCHEDULES["wechat"]) is None


def test_no_retry_before_a_first_delivery() -> None:
    assert next_attempt_at(FIRST, 0, SCHEDULES["wechat"]) is None


def test_wechat_schedule_totals_24h04() -> None:
    schedule = SCHEDULES["wechat"]
    assert len(schedule) == 15
    assert sum(schedule) == int(hm(24, 4).total_seconds())
    assert [*schedule] == [
        15,
        15,
        30,
        180,
        600,
        1200,
        1800,
        1800,
        1800,
        3600,
        10800,
        10800,
        10800,
        21600,
        21600,
    ]


def test_legacy_schedule_is_the_old_doc_list() -> None:
    schedule = SCHEDULES["legacy"]
    assert [*schedule] == [15, 15, 30, 180, 1800, 1800, 1800, 1800, 3600]
    assert sum(schedule) == int(hm(3, 4).total_seconds())
    assert next_attempt_at(FIRST, len(schedule), schedule) == FIRST + hm(3, 4)
    assert next_attempt_at(FIRST, len(schedule) + 1, schedule) is None


def test_fast_schedule_also_makes_sixteen_deliveries() -> None:
    schedule = SCHEDULES["fast"]
    assert len(schedule) == len(SCHEDULES["wechat"])
    assert next_attempt_at(FIRST, 15, schedule) is not None
    assert next_attempt_at(FIRST, 16, schedule) is None


def test_offsets_are_monotonic_for_every_schedule() -> None:
    for name, schedule in SCHEDULES.items():
        dues = [next_attempt_at(FIRST, n, schedule) for n in range(1, len(schedule) + 1)]
        assert all(d is not None for d in dues), name
        assert dues == sorted(dues), name  # type: ignore[type-var]
        assert all(d >= FIRST for d in dues if d is not None), name


def _paid_order(**overrides: object) -> Order:
    base = Order(
        id=7,
        merchant_id=1,
        mch_id="1900000109",
        appid="wx2421b1c4370ec43b",
        out_trade_no="1415659990",
        trade_type=TradeType.JSAPI,
        trade_state=TradeState.SUCCESS,
        total_fee=1,
        body="test",
        spbill_create_ip="203.0.113.7",
        sign_type=SignType.MD5,
        created_at=FIRST,
        notify_url="https://shop.example.com/notify",
        nonce_str="5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
        transaction_id="4200000695202405011234567890",
        payer_openid="oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
        payer_id=3,
        bank_type="CMC",
        cash_fee=1,
        fee=0,
        time_end=datetime(2014, 10, 27, 20, 9, 7, tzinfo=SHANGHAI),
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


def test_payment_fields_are_the_spec_fields() -> None:
    fields = payment_fields(_paid_order(attach="支付测试", device_info="WEB"))
    assert fields == {
        "appid": "wx2421b1c4370ec43b",
        "attach": "支付测试",
        "bank_type": "CMC",
        "cash_fee": 1,
        "device_info": "WEB",
        "fee_type": "CNY",
        "is_subscribe": "N",
        "mch_id": "1900000109",
        "nonce_str": "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
        "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
        "out_trade_no": "1415659990",
        "result_code": "SUCCESS",
        "return_code": "SUCCESS",
        "time_end": "20141027200907",
        "total_fee": 1,
        "trade_type": "JSAPI",
        "transaction_id": "4200000695202405011234567890",
    }
    assert list(fields) == sorted(fields)  # wire order is alphabetical


def test_payment_fields_leave_out_empty_optional_fields() -> None:
    fields = payment_fields(_paid_order())
    assert "attach" not in fields
    assert "device_info" not in fields
    assert all(value != "" for value in fields.values())
    for required in (
        "appid",
        "mch_id",
        "nonce_str",
        "openid",
        "trade_type",
        "bank_type",
        "total_fee",
        "cash_fee",
        "transaction_id",
        "out_trade_no",
        "time_end",
        "result_code",
        "return_code",
    ):
        assert required in fields


def test_payment_fields_time_end_in_beijing_time() -> None:
    fields = payment_fields(_paid_order(time_end=datetime(2024, 4, 30, 20, 0, 5, tzinfo=UTC)))
    assert fields["time_end"] == "20240501040005"
