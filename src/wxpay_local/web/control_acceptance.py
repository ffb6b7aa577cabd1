"""The acceptance checker's control-plane operations (issue 14 part 2).

``POST /_local/acceptance/{mch_id}`` starts a run: it arms the case rules of
``domain.acceptance.plan`` as fault rules scoped to the merchant and answers the run's mark
(the last journal id and the platform time). ``GET /_local/acceptance/{mch_id}?since_id=N``
grades what the merchant's system did since that mark. A run keeps no state of its own: the
mark is all a report needs, so any server process can grade it (and a run survives a restart).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING, Any

from wxpay_local.domain import acceptance
from wxpay_local.domain.acceptance import Call as Entry
from wxpay_local.domain.acceptance import Delivery
from wxpay_local.domain.faults import FaultRule
from wxpay_local.domain.model import LIVE
from wxpay_local.domain.ports import Keyset
from wxpay_local.web import control_openapi as schemas
from wxpay_local.web.control_base import Call, Op, Param, integer, not_found
from wxpay_local.wire import xml

if TYPE_CHECKING:
    from wxpay_local.web.app import AsgiApp

#: How many journal entries (newest first) a report reads at most.
JOURNAL_WINDOW = 5000
NOTIFICATION_WINDOW = 200
SINCE_ID = Param(
    "since_id", integer(0), "query", default=0, description="the run's mark (journal id)"
)

HOW_TO = {
    "query_after_systemerror": "micropay with out_trade_no ACCSYSERR…: answered SYSTEMERROR "
    "after the payment went through; query the order",
    "poll_userpaying": "micropay with out_trade_no ACCPAYING…: answered USERPAYING; poll "
    "orderquery (first after ~5 s, then every ~10 s)",
    "reverse_when_unclear": "micropay with out_trade_no ACCREVERSE…: SYSTEMERROR, and the "
    "first reverse fails too; reverse (at least 15 s after the charge) and retry the reverse",
    "reverse_waits_15s": "any reverse of a micropay in the run: at least 15 s after the charge",
    "closeorder_waits_5min": "any closeorder of an order made in the run: at least 5 minutes "
    "after the unifiedorder",
    "refund_retry_same_out_refund_no": "refund an order whose out_trade_no starts ACCREFUND: "
    "the first refund answers SYSTEMERROR; retry with the same out_refund_no",
    "notification_dedupe": "pay an order whose out_trade_no starts ACCNOTIFY: its notification "
    "comes twice; answer SUCCESS to both (process once)",
    "query_when_no_notification": "pay an order whose out_trade_no starts ACCNONOTIFY: its "
    "notification never arrives (every delivery is lost); query the order (orderquery)",
    "download_bill": "download a bill (downloadbill) during the run",
}


def entries_of(rows: list[dict[str, Any]], since_id: int) -> list[Entry]:
    """Journal rows after the mark, request XML parsed (a body that is not XML has no fields)."""
    found = []
    for row in rows:
        if int(row["id"]) <= since_id or row["method"] == "NOTIFY":
            continue
        try:
            fields = xml.decode(str(row["request"]).encode())
        except ValueError:  # XmlError, NotUtf8: a body that is not XML is graded fieldless
            fields = {}
        found.append(
            Entry(
                id=int(row["id"]),
                at=int(row["at"]),
                endpoint=str(row["endpoint"]),
                fields=fields,
                return_code=str(row["return_code"] or ""),
                result_code=str(row["result_code"] or ""),
                err_code=str(row["err_code"] or ""),
            )
        )
    return found


async def start(app: AsgiApp, call: Call) -> Any:
    mch_id = call.text("mch_id")
    now = int(app.clock.now().timestamp() * 1000)
    await app.journal.flush()

    def work() -> tuple[int, list[int]]:
        with app.store.begin() as tx:
            if tx.merchant(mch_id, LIVE) is None:
                raise not_found(f"no merchant {mch_id}")
            newest = tx.journal(None, 1, None, False)
            mark = int(str(newest[0]["id"])) if newest else 0
            ids = []
            for rule in acceptance.plan(mch_id):
                created = tx.insert_fault_rule(
                    FaultRule(
                        id=0,
                        action=rule.action,
                        when=rule.when,
                        mch_id=mch_id,
                        endpoint=rule.endpoint,
                        out_trade_no=rule.out_trade_no,
                        err_code=rule.err_code,
                        times=rule.times,
                        created_at=now,
                    )
                )
                ids.append(created.id)
            return mark, ids

    mark, ids = await app.store.run(work)
    app.faults.invalidate()
    return {"mch_id": mch_id, "since_id": mark, "started_at": now, "rule_ids": ids, "cases": HOW_TO}


async def report(app: AsgiApp, call: Call) -> Any:
    mch_id = call.text("mch_id")
    since_id = call.whole("since_id")
    await app.journal.flush()

    def work() -> tuple[list[dict[str, Any]], list[Delivery]]:
        with app.store.begin(write=False) as tx:
            merchant = tx.merchant(mch_id, LIVE)
            if merchant is None:
                raise not_found(f"no merchant {mch_id}")
            rows = tx.journal(mch_id, JOURNAL_WINDOW, None, False)
            found = tx.console_notifications(
                merchant.id, Keyset(NOTIFICATION_WINDOW), "payment", ""
            )
            notes = [n for n, _, _ in found]
            attempts = tx.attempts_of([n.id for n in notes])
            deliveries = [
                Delivery(str(n.fields.get("out_trade_no", "")), _ms(a.at), a.ok)
                for n in notes
                for a in attempts.get(n.id, [])
            ]
            return rows, deliveries

    rows, deliveries = await app.store.run(work, write=False)
    results = acceptance.grade(entries_of(rows, since_id), deliveries)
    return {
        "mch_id": mch_id,
        "since_id": since_id,
        "passed": sum(r.status == "pass" for r in results),
        "failed": sum(r.status == "fail" for r in results),
        "cases": [asdict(r) | {"how": HOW_TO[r.case]} for r in results],
    }


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


RESULT = schemas.obj(
    case={"type": "string"},
    status={"enum": ["pass", "fail", "not_run"]},
    why={"type": "string"},
    evidence={"type": "array", "items": {"type": "string"}},
    how={"type": "string"},
)

ACCEPTANCE_OPS: tuple[Op, ...] = (
    Op(
        "POST",
        "/_local/acceptance/{mch_id}",
        "Start an acceptance run: arm the case rules for the merchant and answer the run's mark",
        start,
        response=schemas.obj(
            mch_id={"type": "string"},
            since_id={"type": "integer"},
            started_at={"type": "integer"},
            rule_ids={"type": "array", "items": {"type": "integer"}},
            cases={"type": "object"},
        ),
        errors=(404,),
    ),
    Op(
        "GET",
        "/_local/acceptance/{mch_id}",
        "The report card of an acceptance run: each case graded, with journal entries as evidence",
        report,
        params=(SINCE_ID,),
        response=schemas.obj(
            mch_id={"type": "string"},
            since_id={"type": "integer"},
            passed={"type": "integer"},
            failed={"type": "integer"},
            cases={"type": "array", "items": RESULT},
        ),
        errors=(404,),
    ),
)
