"""Control-plane operation for scripted payer outcomes (issue 12, part 2).

``POST /_local/payer-outcomes`` says what the payer does at the next matching micropay: enter
the password after a while, never, three wrong passwords, not enough money, a bank refusing, a
payment code expiring. It is stored as a fault rule (action ``payer_<outcome>``, endpoint
micropay; listed and removed with the fault rules), so it is shared by every server process
and counted like them. domain/payer_scripts.py says what each outcome does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wxpay_local.domain import payer_scripts
from wxpay_local.domain.faults import FaultRule
from wxpay_local.web import control_faults
from wxpay_local.web.control_base import Call, Op, integer, one_of, text

if TYPE_CHECKING:
    from wxpay_local.web.app import AsgiApp

#: The outcome names of the control plane, the CLI and the harness: the actions without payer_.
OUTCOMES = tuple(action.removeprefix("payer_") for action in payer_scripts.OUTCOMES)
#: The longest a scripted payer waits: a day of platform time.
MAX_AT_SECONDS = 86_400


async def script_payer(app: AsgiApp, call: Call) -> Any:
    body = call.body
    rule = FaultRule(
        id=0,
        action=f"payer_{body['outcome']}",
        endpoint="micropay",
        mch_id=body.get("mch_id", ""),
        out_trade_no=body.get("out_trade_no", ""),
        total_fee=body.get("total_fee"),
        device_info=body.get("device_info", ""),
        delay_ms=int(body.get("at_seconds", 0) * 1000),
        times=body.get("times", 1),
        created_at=int(app.clock.now().timestamp() * 1000),
    )

    def work() -> FaultRule:
        with app.store.begin() as tx:
            return tx.insert_fault_rule(rule)

    created = await app.store.run(work)
    app.faults.invalidate()
    return control_faults.view(created)


PAYER_OUTCOME_OPS: tuple[Op, ...] = (
    Op(
        "POST",
        "/_local/payer-outcomes",
        "Script what the payer does at the next matching micropay (a fault rule on micropay)",
        script_payer,
        {
            "outcome": one_of(*OUTCOMES),
            "at_seconds": {"type": "number", "minimum": 0, "maximum": MAX_AT_SECONDS},
            "mch_id": text(32),
            "out_trade_no": text(64),
            "total_fee": integer(1),
            "device_info": text(32),
            "times": integer(1),
        },
        ("outcome",),
        response=control_faults.RULE,
    ),
)
