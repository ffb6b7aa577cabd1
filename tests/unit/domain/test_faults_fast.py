"""Fault-rule matching and seeded rolls (domain/faults.py): pure, no I/O."""

from __future__ import annotations

from wxpay_local.domain.faults import FaultRule, RequestFacts, candidates, matches, rolls


def facts(**fields: str) -> RequestFacts:
    return RequestFacts("micropay", "/pay/micropay", "api2.mch.weixin.qq.com", fields)


def test_empty_criteria_match_anything_and_each_criterion_narrows() -> None:
    request = facts(mch_id="1900000109", out_trade_no="T-42", total_fee="1800", device_info="P1")
    assert matches(FaultRule(1, "reset"), request)
    assert matches(FaultRule(1, "reset", endpoint="/pay/*", out_trade_no="T-*"), request)
    assert matches(FaultRule(1, "reset", host="API2.*", total_fee=1800), request)
    assert not matches(FaultRule(1, "reset", endpoint="orderquery"), request)
    assert not matches(FaultRule(1, "reset", mch_id="1900000110"), request)
    assert not matches(FaultRule(1, "reset", total_fee=1801), request)
    assert not matches(FaultRule(1, "reset", device_info="P2"), request)
    assert not matches(FaultRule(1, "reset", host="api.mch.*"), request)


def test_an_exhausted_rule_no_longer_matches() -> None:
    assert not matches(FaultRule(1, "reset", times=2, fired=2), facts())
    assert matches(FaultRule(1, "reset", times=2, fired=1), facts())


def test_notification_rules_match_only_notifications() -> None:
    notify = RequestFacts("payment_notify", "", "", {})
    rules = [FaultRule(2, "notify_twice"), FaultRule(1, "reset")]
    assert [r.id for r in candidates(rules, notify)] == [2]
    assert [r.id for r in candidates(rules, facts())] == [1]


def test_rolls_depend_only_on_seed_and_index() -> None:
    rule = FaultRule(7, "reset", probability=0.5, seed=3)
    sequence = [rolls(rule, n) for n in range(40)]
    assert sequence == [
        rolls(FaultRule(99, "reset", probability=0.5, seed=3), n) for n in range(40)
    ]
    assert 5 < sum(sequence) < 35
    assert all(rolls(FaultRule(1, "reset"), n) for n in range(5))
    assert not any(rolls(FaultRule(1, "reset", probability=0.0), n) for n in range(5))


def test_describe_names_the_fault_the_journal_shows() -> None:
    rule = FaultRule(3, "err_code", "after", err_code="SYSTEMERROR")
    assert rule.describe() == "SYSTEMERROR after commit"
    assert FaultRule(4, "http_status", http_status=502).describe() == "HTTP 502 before commit"


def test_payer_outcomes_match_only_micropay_and_describe_themselves() -> None:
    rules = [FaultRule(1, "payer_pays", delay_ms=20_000), FaultRule(2, "payer_bankerror")]
    query = RequestFacts("orderquery", "/pay/orderquery", "", {})
    assert candidates(rules, query) == []
    assert [r.id for r in candidates(rules, facts())] == [1, 2]
    assert rules[0].describe() == "payer enters the password after 20 s"
    assert rules[1].describe() == "payer's bank refuses (BANKERROR)"
    assert FaultRule(3, "reset").payer_script is None
