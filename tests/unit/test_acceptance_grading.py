"""Grading of the acceptance checker over journal entries: pure, no I/O.

Two merchant systems' journals, written by hand: a careful one passes every case, a careless
one (no query after SYSTEMERROR, an immediate reverse, no notification dedupe) fails exactly
those cases, with the journal entries as evidence.
"""

from __future__ import annotations

from wxpay_local.domain.acceptance import Call, Delivery, grade

T0 = 1_700_000_000_000


def call(
    n: int, at_s: float, endpoint: str, out_trade_no: str, err_code: str = "", **more: str
) -> Call:
    return Call(
        id=n,
        at=T0 + int(at_s * 1000),
        endpoint=endpoint,
        fields={"out_trade_no": out_trade_no, **more},
        return_code="SUCCESS",
        result_code="FAIL" if err_code else "SUCCESS",
        err_code=err_code,
    )


def careful() -> tuple[list[Call], list[Delivery]]:
    calls = [
        call(1, 0, "micropay", "ACCSYSERR1", "SYSTEMERROR"),
        call(2, 5, "orderquery", "ACCSYSERR1"),
        call(3, 10, "micropay", "ACCPAYING1", "USERPAYING"),
        call(4, 15, "orderquery", "ACCPAYING1"),
        call(5, 25, "orderquery", "ACCPAYING1"),
        call(6, 30, "micropay", "ACCREVERSE1", "SYSTEMERROR"),
        call(7, 35, "orderquery", "ACCREVERSE1", "SYSTEMERROR"),
        call(8, 46, "reverse", "ACCREVERSE1", "SYSTEMERROR"),
        call(9, 48, "reverse", "ACCREVERSE1"),
        call(10, 50, "unifiedorder", "ACCNOTIFY1"),
        call(11, 60, "refund", "ACCREFUND1", "SYSTEMERROR", out_refund_no="R1"),
        call(12, 65, "refund", "ACCREFUND1", out_refund_no="R1"),
        call(13, 400, "closeorder", "ACCNOTIFY1"),
        call(14, 405, "unifiedorder", "ACCNONOTIFY1"),
        call(15, 440, "orderquery", "ACCNONOTIFY1"),
        call(16, 410, "downloadbill", ""),
    ]
    deliveries = [
        Delivery("ACCNOTIFY1", T0 + 55_000, True),
        Delivery("ACCNOTIFY1", T0 + 55_100, True),
        Delivery("ACCNONOTIFY1", T0 + 406_000, False),
        Delivery("ACCNONOTIFY1", T0 + 421_000, False),
    ]
    return calls, deliveries


def careless() -> tuple[list[Call], list[Delivery]]:
    calls = [
        call(1, 0, "micropay", "ACCSYSERR1", "SYSTEMERROR"),
        call(2, 10, "micropay", "ACCPAYING1", "USERPAYING"),
        call(3, 15, "orderquery", "ACCPAYING1"),
        call(4, 25, "orderquery", "ACCPAYING1"),
        call(5, 30, "micropay", "ACCREVERSE1", "SYSTEMERROR"),
        call(6, 31, "reverse", "ACCREVERSE1", "SYSTEMERROR"),
        call(7, 33, "reverse", "ACCREVERSE1"),
        call(8, 50, "unifiedorder", "ACCNOTIFY1"),
        call(9, 60, "refund", "ACCREFUND1", "SYSTEMERROR", out_refund_no="R1"),
        call(10, 65, "refund", "ACCREFUND1", out_refund_no="R1"),
        call(11, 400, "closeorder", "ACCNOTIFY1"),
        call(12, 405, "unifiedorder", "ACCNONOTIFY1"),
        call(13, 410, "downloadbill", ""),
    ]
    deliveries = [
        Delivery("ACCNOTIFY1", T0 + 55_000, True),
        Delivery("ACCNOTIFY1", T0 + 55_100, False),
        Delivery("ACCNONOTIFY1", T0 + 406_000, False),
    ]
    return calls, deliveries


def statuses(calls: list[Call], deliveries: list[Delivery]) -> dict[str, str]:
    return {r.case: r.status for r in grade(calls, deliveries)}


def test_careful_integration_passes_every_case() -> None:
    assert statuses(*careful()) == {
        "query_after_systemerror": "pass",
        "poll_userpaying": "pass",
        "reverse_when_unclear": "pass",
        "reverse_waits_15s": "pass",
        "closeorder_waits_5min": "pass",
        "refund_retry_same_out_refund_no": "pass",
        "notification_dedupe": "pass",
        "query_when_no_notification": "pass",
        "download_bill": "pass",
    }


def test_careless_integration_fails_exactly_its_mistakes_with_evidence() -> None:
    results = {r.case: r for r in grade(*careless())}
    failed = sorted(case for case, r in results.items() if r.status == "fail")
    assert failed == [
        "notification_dedupe",
        "query_after_systemerror",
        "query_when_no_notification",
        "reverse_waits_15s",
    ]
    assert results["query_after_systemerror"].evidence == ["#1 micropay ACCSYSERR1 → SYSTEMERROR"]
    assert results["reverse_waits_15s"].why == "reversed 1000 ms after the charge (at least 15 s)"
    assert results["reverse_waits_15s"].evidence == [
        "#5 micropay ACCREVERSE1 → SYSTEMERROR",
        "#6 reverse ACCREVERSE1 → SYSTEMERROR",
    ]
    assert (
        "ACCNOTIFY1 at 1700000055100: not acknowledged" in results["notification_dedupe"].evidence
    )
    assert results["query_when_no_notification"].why == (
        "no notification came and the order was not queried after the payment: "
        "a paid order stays unpaid in your books"
    )
    assert results["query_when_no_notification"].evidence == [
        "#12 unifiedorder ACCNONOTIFY1 → SUCCESS",
        "ACCNONOTIFY1 at 1700000406000: lost",
    ]


def test_a_query_before_the_payment_does_not_answer_a_lost_notification() -> None:
    calls = [
        call(1, 0, "unifiedorder", "ACCNONOTIFY2"),
        call(2, 1, "orderquery", "ACCNONOTIFY2"),  # still NOTPAY: it says nothing of the payment
        call(3, 60, "orderquery", "ACCNOTIFY2"),  # another order: the prefixes do not overlap
    ]
    lost = [Delivery("ACCNONOTIFY2", T0 + 30_000, False)]
    result = {r.case: r for r in grade(calls, lost)}["query_when_no_notification"]
    assert result.status == "fail"
    assert result.evidence == [
        "#1 unifiedorder ACCNONOTIFY2 → SUCCESS",
        "ACCNONOTIFY2 at 1700000030000: lost",
    ]
    later = calls + [call(4, 45, "orderquery", "ACCNONOTIFY2")]
    result = {r.case: r for r in grade(later, lost)}["query_when_no_notification"]
    assert result.status == "pass"
    assert result.evidence[-1] == "#4 orderquery ACCNONOTIFY2 → SUCCESS"


def test_new_out_refund_no_on_retry_fails() -> None:
    calls = [
        call(1, 0, "refund", "ACCREFUND2", "SYSTEMERROR", out_refund_no="R1"),
        call(2, 5, "refund", "ACCREFUND2", out_refund_no="R2"),
    ]
    result = {r.case: r for r in grade(calls)}["refund_retry_same_out_refund_no"]
    assert result.status == "fail"
    assert result.evidence == [
        "#1 refund ACCREFUND2 → SYSTEMERROR",
        "#2 refund ACCREFUND2 → SUCCESS",
    ]


def test_hammering_a_userpaying_order_fails_and_a_close_too_soon_fails() -> None:
    calls = [
        call(1, 0, "micropay", "ACCPAYING2", "USERPAYING"),
        call(2, 0.5, "orderquery", "ACCPAYING2"),
        call(3, 1, "unifiedorder", "O1"),
        call(4, 61, "closeorder", "O1"),
    ]
    results = {r.case: r for r in grade(calls)}
    assert results["poll_userpaying"].status == "fail"
    assert results["closeorder_waits_5min"].why == (
        "closed 60000 ms after the order was created (at least 5 minutes)"
    )


def test_an_empty_run_plays_no_case_and_misses_the_bill() -> None:
    results = {r.case: r.status for r in grade([])}
    assert results.pop("download_bill") == "fail"
    assert set(results.values()) == {"not_run"}


def test_journal_rows_become_calls_after_the_mark_and_garbage_has_no_fields() -> None:
    from wxpay_local.web.control_acceptance import entries_of

    row = {"method": "POST", "endpoint": "micropay", "return_code": "SUCCESS",
           "result_code": "FAIL", "err_code": "SYSTEMERROR", "at": T0}  # fmt: skip
    rows = [
        row | {"id": 3, "request": "<xml><out_trade_no>ACCSYSERR1</out_trade_no></xml>"},
        row | {"id": 2, "request": "not xml at all"},
        row | {"id": 1, "request": "<xml><out_trade_no>OLD</out_trade_no></xml>"},
        row | {"id": 4, "method": "NOTIFY", "request": ""},
    ]
    calls = entries_of(rows, since_id=1)
    assert [(c.id, c.out_trade_no) for c in calls] == [(3, "ACCSYSERR1"), (2, "")]
