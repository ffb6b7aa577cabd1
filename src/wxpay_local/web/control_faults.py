"""Control-plane operations for fault rules (issue 12): create, list, show, remove.

A rule matches merchant API requests (merchant, endpoint, Host, out_trade_no glob, amount,
device_info) and acts on them (domain/faults.py; applied by web/faults.py). docs/testing.md is
the cookbook.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from wxpay_local.codes import ErrCode
from wxpay_local.domain import faults
from wxpay_local.domain.faults import FaultRule
from wxpay_local.web import control_openapi as schemas
from wxpay_local.web.control_base import (
    ID,
    Call,
    ControlError,
    Op,
    Param,
    integer,
    not_found,
    one_of,
    text,
)

if TYPE_CHECKING:
    from wxpay_local.web.app import AsgiApp

RULE_ID = Param("rule_id", ID, "path", example=1)

_N = {"type": "number"}
_NULL_I = schemas.nullable({"type": "integer"})
RULE = schemas.obj(
    id={"type": "integer"},
    action={"enum": list(faults.ACTIONS)},
    when={"enum": list(faults.WHEN)},
    mch_id={"type": "string"},
    endpoint={"type": "string"},
    host={"type": "string"},
    out_trade_no={"type": "string"},
    total_fee=_NULL_I,
    device_info={"type": "string"},
    err_code={"type": "string"},
    return_msg={"type": "string"},
    http_status={"type": "integer"},
    delay_ms={"type": "integer"},
    times=_NULL_I,
    fired={"type": "integer"},
    seen={"type": "integer"},
    probability=_N,
    seed={"type": "integer"},
    created_at={"type": "integer"},
    namespace={"type": "string"},
    describes={"type": "string"},
)


def view(rule: FaultRule) -> dict[str, Any]:
    return asdict(rule) | {"describes": f"rule #{rule.id}: {rule.describe()}"}


async def create_fault_rule(app: AsgiApp, call: Call) -> Any:
    body = call.body
    action = body["action"]
    if action == "err_code" and not body.get("err_code"):
        raise ControlError(400, "MISSING_FIELD", "action err_code needs err_code")
    if action == "http_status" and not body.get("http_status"):
        raise ControlError(400, "MISSING_FIELD", "action http_status needs http_status")
    if action == "delay" and not body.get("delay_ms"):
        raise ControlError(400, "MISSING_FIELD", "action delay needs delay_ms")
    rule = FaultRule(
        id=0,
        action=action,
        when=body.get("when", "before"),
        mch_id=body.get("mch_id", ""),
        endpoint=body.get("endpoint", ""),
        host=body.get("host", ""),
        out_trade_no=body.get("out_trade_no", ""),
        total_fee=body.get("total_fee"),
        device_info=body.get("device_info", ""),
        err_code=body.get("err_code", ""),
        return_msg=body.get("return_msg", ""),
        http_status=body.get("http_status", 0),
        delay_ms=body.get("delay_ms", 0),
        times=body.get("times"),
        probability=float(body.get("probability", 1.0)),
        seed=body.get("seed", 0),
        created_at=int(app.clock.now().timestamp() * 1000),
    )

    def work() -> FaultRule:
        with app.store.begin() as tx:
            return tx.insert_fault_rule(rule)

    created = await app.store.run(work)
    app.faults.invalidate()
    return view(created)


async def list_fault_rules(app: AsgiApp, call: Call) -> Any:
    def work() -> list[FaultRule]:
        with app.store.begin(write=False) as tx:
            return tx.fault_rules()

    return {"rules": [view(rule) for rule in await app.store.run(work, write=False)]}


async def show(app: AsgiApp, call: Call) -> Any:
    rule_id = call.whole("rule_id")

    def work() -> FaultRule | None:
        with app.store.begin(write=False) as tx:
            return tx.fault_rule(rule_id)

    rule = await app.store.run(work, write=False)
    if rule is None:
        raise not_found(f"no fault rule {rule_id}")
    return view(rule)


async def remove(app: AsgiApp, call: Call) -> Any:
    rule_id = call.whole("rule_id")

    def work() -> bool:
        with app.store.begin() as tx:
            return tx.delete_fault_rule(rule_id)

    if not await app.store.run(work):
        raise not_found(f"no fault rule {rule_id}")
    app.faults.invalidate()
    return {"removed": rule_id}


async def clear(app: AsgiApp, call: Call) -> Any:
    def work() -> int:
        with app.store.begin() as tx:
            return tx.delete_fault_rules()

    removed = await app.store.run(work)
    app.faults.invalidate()
    return {"removed": removed}


FAULT_OPS: tuple[Op, ...] = (
    Op(
        "POST",
        "/_local/faults",
        "A fault rule: which merchant API requests it matches and what it does to them",
        create_fault_rule,
        {
            "action": one_of(*faults.ACTIONS),
            "when": one_of(*faults.WHEN),
            "mch_id": text(32),
            "endpoint": text(128),
            "host": text(256),
            "out_trade_no": text(64),
            "total_fee": integer(1),
            "device_info": text(32),
            "err_code": one_of(*(str(code) for code in ErrCode)),
            "return_msg": text(128),
            "http_status": integer(100, 599),
            "delay_ms": integer(0, int(faults.MAX_HOLD_SECONDS * 1000)),
            "times": integer(1),
            "probability": {"type": "number", "minimum": 0, "maximum": 1},
            "seed": integer(0),
        },
        ("action",),
        response=RULE,
    ),
    Op(
        "GET",
        "/_local/faults",
        "Every fault rule, oldest first, with how often it matched and fired",
        list_fault_rules,
        response=schemas.listing("rules", RULE),
    ),
    Op("GET", "/_local/faults/{rule_id}", "One fault rule", show, params=(RULE_ID,), response=RULE),
    Op(
        "DELETE",
        "/_local/faults/{rule_id}",
        "Remove a fault rule",
        remove,
        params=(RULE_ID,),
        response=schemas.obj(removed={"type": "integer"}),
    ),
    Op(
        "DELETE",
        "/_local/faults",
        "Remove every fault rule",
        clear,
        response=schemas.obj(removed={"type": "integer"}),
    ),
)
