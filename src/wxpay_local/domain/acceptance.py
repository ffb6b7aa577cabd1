"""The acceptance checker (支付验收, issue 14 part 2): which cases a run plays, and the grading.

A run arms one fault rule per case, scoped to the merchant and an ``out_trade_no`` prefix (the
merchant's system starts a case by using it); grading reads what that system did, as journal
entries since the run started. Grading is pure: the caller turns journal rows into ``Call`` and
delivery attempts into ``Delivery``. Limits are the platform's (shared spec §4.5, §5): reverse
no sooner than 15 s after the charge, closeorder no sooner than 5 minutes after the order,
USERPAYING polled (~5 s, then ~10 s; only hammering under 2 s fails), and a paid order queried
when its notification never came (notifications doc §9.1, §9.4 case 1.30).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

#: out_trade_no prefixes that start each case (documented in docs/verify-your-integration.md).
PREFIX_SYSTEMERROR = "ACCSYSERR"
PREFIX_USERPAYING = "ACCPAYING"
PREFIX_REVERSE = "ACCREVERSE"
PREFIX_REFUND = "ACCREFUND"
PREFIX_NOTIFY = "ACCNOTIFY"
PREFIX_NO_NOTIFY = "ACCNONOTIFY"  # not a match of "ACCNOTIFY*": the two cases stay apart

REVERSE_MIN_MS = 15_000
CLOSE_MIN_MS = 300_000
POLL_MIN_GAP_MS = 2_000


@dataclass(frozen=True, slots=True)
class RulePlan:
    """One fault rule a run arms (fields as in ``domain.faults.FaultRule``)."""

    case: str
    action: str
    endpoint: str
    out_trade_no: str
    when: str = "before"
    err_code: str = ""
    times: int | None = None


def plan(mch_id: str) -> list[RulePlan]:
    """The rules a run arms for ``mch_id`` (the caller adds mch_id and the run's namespace)."""
    del mch_id  # every rule is scoped by the caller; kept for a per-merchant plan later
    return [
        RulePlan(
            "query_after_systemerror",
            "err_code",
            "micropay",
            f"{PREFIX_SYSTEMERROR}*",
            when="after",
            err_code="SYSTEMERROR",
            times=1,
        ),
        RulePlan(
            "poll_userpaying",
            "err_code",
            "micropay",
            f"{PREFIX_USERPAYING}*",
            when="after",
            err_code="USERPAYING",
            times=1,
        ),
        RulePlan(
            "reverse_when_unclear",
            "err_code",
            "micropay",
            f"{PREFIX_REVERSE}*",
            when="after",
            err_code="SYSTEMERROR",
            times=1,
        ),
        # The query fails too (until the rule is removed), so the outcome stays unclear.
        RulePlan(
            "reverse_when_unclear",
            "err_code",
            "orderquery",
            f"{PREFIX_REVERSE}*",
            err_code="SYSTEMERROR",
        ),
        RulePlan(
            "retry_reverse",
            "err_code",
            "reverse",
            f"{PREFIX_REVERSE}*",
            err_code="SYSTEMERROR",
            times=1,
        ),
        RulePlan(
            "refund_retry_same_out_refund_no",
            "err_code",
            "refund",
            f"{PREFIX_REFUND}*",
            err_code="SYSTEMERROR",
            times=1,
        ),
        RulePlan(
            "notification_dedupe", "notify_twice", "payment_notify", f"{PREFIX_NOTIFY}*", times=1
        ),
        # Every attempt is lost (no ``times``): only a query tells the merchant it was paid.
        RulePlan(
            "query_when_no_notification", "notify_lost", "payment_notify", f"{PREFIX_NO_NOTIFY}*"
        ),
    ]


@dataclass(frozen=True, slots=True)
class Call:
    """One merchant API call from the journal, with its request fields parsed."""

    id: int
    at: int  # platform clock, epoch ms
    endpoint: str
    fields: dict[str, str]
    return_code: str = ""
    result_code: str = ""
    err_code: str = ""

    @property
    def out_trade_no(self) -> str:
        return self.fields.get("out_trade_no", "")

    def evidence(self) -> str:
        outcome = self.err_code or self.result_code or self.return_code
        return f"#{self.id} {self.endpoint} {self.out_trade_no} → {outcome}"


@dataclass(frozen=True, slots=True)
class Delivery:
    """One notification delivery attempt and whether the merchant acknowledged it."""

    out_trade_no: str
    at: int
    acknowledged: bool


@dataclass(frozen=True, slots=True)
class CaseResult:
    case: str
    status: str  # "pass" | "fail" | "not_run"
    why: str
    evidence: list[str] = field(default_factory=list)


def _of(calls: Sequence[Call], endpoint: str, prefix: str) -> list[Call]:
    return [c for c in calls if c.endpoint == endpoint and c.out_trade_no.startswith(prefix)]


def _later(calls: Sequence[Call], endpoint: str, first: Call) -> list[Call]:
    """Calls to ``endpoint`` for exactly ``first``'s order, journaled after it."""
    return [
        c
        for c in calls
        if c.endpoint == endpoint and c.id > first.id and c.out_trade_no == first.out_trade_no
    ]


def _not_run(case: str, prefix: str) -> CaseResult:
    return CaseResult(case, "not_run", f"no micropay with out_trade_no starting {prefix}")


def _query_after_systemerror(calls: Sequence[Call]) -> CaseResult:
    case = "query_after_systemerror"
    faulted = [c for c in _of(calls, "micropay", PREFIX_SYSTEMERROR) if c.err_code == "SYSTEMERROR"]
    if not faulted:
        return _not_run(case, PREFIX_SYSTEMERROR)
    first = faulted[0]
    followed = [
        c
        for c in calls
        if c.at >= first.at
        and c.id > first.id
        and c.out_trade_no == first.out_trade_no
        and c.endpoint == "orderquery"
    ]
    if followed:
        return CaseResult(
            case,
            "pass",
            "queried the order after SYSTEMERROR",
            [first.evidence(), followed[0].evidence()],
        )
    return CaseResult(
        case,
        "fail",
        "SYSTEMERROR leaves the outcome unknown: no orderquery followed",
        [first.evidence()],
    )


def _poll_userpaying(calls: Sequence[Call]) -> CaseResult:
    case = "poll_userpaying"
    faulted = [c for c in _of(calls, "micropay", PREFIX_USERPAYING) if c.err_code == "USERPAYING"]
    if not faulted:
        return _not_run(case, PREFIX_USERPAYING)
    first = faulted[0]
    queries = _later(calls, "orderquery", first)
    if not queries:
        return CaseResult(
            case, "fail", "USERPAYING: the order was never polled", [first.evidence()]
        )
    times = [first.at] + [q.at for q in queries]
    for before, after, q in zip(times, times[1:], queries, strict=False):
        if after - before < POLL_MIN_GAP_MS:
            return CaseResult(
                case,
                "fail",
                f"polled {after - before} ms after the previous "
                f"call (at least {POLL_MIN_GAP_MS} ms)",
                [first.evidence(), q.evidence()],
            )
    return CaseResult(
        case,
        "pass",
        f"polled {len(queries)} time(s)",
        [first.evidence()] + [q.evidence() for q in queries],
    )


def _reverse_when_unclear(calls: Sequence[Call]) -> CaseResult:
    case = "reverse_when_unclear"
    faulted = [c for c in _of(calls, "micropay", PREFIX_REVERSE) if c.err_code == "SYSTEMERROR"]
    if not faulted:
        return _not_run(case, PREFIX_REVERSE)
    first = faulted[0]
    reverses = _later(calls, "reverse", first)
    if not reverses:
        return CaseResult(
            case,
            "fail",
            "the outcome stayed unclear and the order was not reversed",
            [first.evidence()],
        )
    if reverses[0].err_code == "SYSTEMERROR" and len(reverses) < 2:
        return CaseResult(
            case,
            "fail",
            "the reverse failed (SYSTEMERROR) and was not retried",
            [first.evidence(), reverses[0].evidence()],
        )
    return CaseResult(
        case,
        "pass",
        f"reversed ({len(reverses)} call(s))",
        [first.evidence()] + [r.evidence() for r in reverses],
    )


def _reverse_wait(calls: Sequence[Call]) -> CaseResult:
    case = "reverse_waits_15s"
    charged: dict[str, Call] = {}
    for c in calls:
        if c.endpoint == "micropay":
            charged.setdefault(c.out_trade_no, c)
    reverses = [c for c in calls if c.endpoint == "reverse" and c.out_trade_no in charged]
    if not reverses:
        return CaseResult(case, "not_run", "no reverse of a micropay in this run")
    for r in reverses:
        charge = charged[r.out_trade_no]
        if r.at - charge.at < REVERSE_MIN_MS:
            return CaseResult(
                case,
                "fail",
                f"reversed {r.at - charge.at} ms after the charge (at least 15 s)",
                [charge.evidence(), r.evidence()],
            )
    return CaseResult(
        case,
        "pass",
        "every reverse came at least 15 s after its charge",
        [r.evidence() for r in reverses],
    )


def _close_wait(calls: Sequence[Call]) -> CaseResult:
    case = "closeorder_waits_5min"
    created: dict[str, Call] = {}
    for c in calls:
        if c.endpoint == "unifiedorder":
            created.setdefault(c.out_trade_no, c)
    closes = [c for c in calls if c.endpoint == "closeorder" and c.out_trade_no in created]
    if not closes:
        return CaseResult(case, "not_run", "no closeorder of an order created in this run")
    for c in closes:
        order = created[c.out_trade_no]
        if c.at - order.at < CLOSE_MIN_MS:
            return CaseResult(
                case,
                "fail",
                f"closed {c.at - order.at} ms after the order was created (at least 5 minutes)",
                [order.evidence(), c.evidence()],
            )
    return CaseResult(
        case,
        "pass",
        "every close came at least 5 minutes after the order",
        [c.evidence() for c in closes],
    )


def _refund_retry(calls: Sequence[Call]) -> CaseResult:
    case = "refund_retry_same_out_refund_no"
    refunds = _of(calls, "refund", PREFIX_REFUND)
    faulted = [c for c in refunds if c.err_code == "SYSTEMERROR"]
    if not faulted:
        return CaseResult(case, "not_run", f"no refund of an order starting {PREFIX_REFUND}")
    first = faulted[0]
    retries = [c for c in refunds if c.id > first.id and c.out_trade_no == first.out_trade_no]
    if not retries:
        return CaseResult(
            case,
            "fail",
            "the refund failed with SYSTEMERROR and was not retried",
            [first.evidence()],
        )
    wanted = first.fields.get("out_refund_no", "")
    for r in retries:
        if r.fields.get("out_refund_no", "") != wanted:
            return CaseResult(
                case,
                "fail",
                f"retried with out_refund_no "
                f"{r.fields.get('out_refund_no', '')!r}, not {wanted!r} (a new "
                "number may refund twice)",
                [first.evidence(), r.evidence()],
            )
    return CaseResult(
        case,
        "pass",
        f"retried with the same out_refund_no {wanted}",
        [first.evidence()] + [r.evidence() for r in retries],
    )


def _notifications(deliveries: Sequence[Delivery]) -> CaseResult:
    case = "notification_dedupe"
    ours = [d for d in deliveries if d.out_trade_no.startswith(PREFIX_NOTIFY)]
    if not ours:
        return CaseResult(case, "not_run", f"no notification for an order starting {PREFIX_NOTIFY}")
    evidence = [
        f"{d.out_trade_no} at {d.at}: {'SUCCESS' if d.acknowledged else 'not acknowledged'}"
        for d in ours
    ]
    if all(d.acknowledged for d in ours):
        return CaseResult(
            case, "pass", f"acknowledged all {len(ours)} deliveries, duplicates too", evidence
        )
    return CaseResult(
        case,
        "fail",
        "a delivery (a duplicate, or a retry) was not acknowledged "
        "with SUCCESS: the platform keeps retrying",
        evidence,
    )


def _no_notification(calls: Sequence[Call], deliveries: Sequence[Delivery]) -> CaseResult:
    case = "query_when_no_notification"
    orders = _of(calls, "unifiedorder", PREFIX_NO_NOTIFY)
    if not orders:
        return CaseResult(case, "not_run", f"no unifiedorder with out_trade_no {PREFIX_NO_NOTIFY}…")
    order = orders[0]
    lost = [d for d in deliveries if d.out_trade_no == order.out_trade_no]
    # The query must come after the payment: its first (lost) delivery attempt marks it on
    # the platform clock; with no attempt yet, anything after the order counts.
    since = min((d.at for d in lost), default=order.at)
    evidence = [order.evidence()] + [
        f"{d.out_trade_no} at {d.at}: {'SUCCESS' if d.acknowledged else 'lost'}" for d in lost
    ]
    queries = [c for c in _later(calls, "orderquery", order) if c.at >= since]
    if queries:
        why = "queried the paid order without a notification"
        return CaseResult(case, "pass", why, evidence + [queries[0].evidence()])
    why = "no notification came and the order was not queried after the payment: a paid order "
    return CaseResult(case, "fail", why + "stays unpaid in your books", evidence)


def _bill(calls: Sequence[Call]) -> CaseResult:
    case = "download_bill"
    bills = [c for c in calls if c.endpoint == "downloadbill"]
    if bills:
        return CaseResult(case, "pass", "downloaded a bill", [bills[0].evidence()])
    return CaseResult(case, "fail", "no downloadbill during the run (reconciliation)")


def grade(calls: Sequence[Call], deliveries: Sequence[Delivery] = ()) -> list[CaseResult]:
    """The report card: one result per case, in a fixed order. ``calls`` in journal order."""
    ordered = sorted(calls, key=lambda c: c.id)
    return [
        _query_after_systemerror(ordered),
        _poll_userpaying(ordered),
        _reverse_when_unclear(ordered),
        _reverse_wait(ordered),
        _close_wait(ordered),
        _refund_retry(ordered),
        _notifications(deliveries),
        _no_notification(ordered, deliveries),
        _bill(ordered),
    ]
