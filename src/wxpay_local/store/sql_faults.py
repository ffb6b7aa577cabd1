"""The fault-rule statements of ``SqlTx`` (issue 12): rules live in the database so that every
server process sees the same ones, and "fires N times" is counted by one conditional UPDATE.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields, replace
from typing import Any

from wxpay_local.domain.faults import FaultRule
from wxpay_local.store.base import Statements

#: Columns in FaultRule's field order; the ``when`` field is stored as ``timing``.
RULE_FIELDS = tuple(f.name for f in fields(FaultRule))
_COLUMNS = tuple("timing" if name == "when" else name for name in RULE_FIELDS)
_SELECT = "SELECT " + ", ".join(_COLUMNS) + " FROM fault_rules"


def _rule(row: Sequence[Any]) -> FaultRule:
    data = dict(zip(RULE_FIELDS, row, strict=True))
    data["probability"] = float(data["probability"])
    return FaultRule(**data)


class FaultStatements(Statements):
    """Mixed into SqlTx."""

    def insert_fault_rule(self, rule: FaultRule) -> FaultRule:
        names = _COLUMNS[1:]
        values = [getattr(rule, name) for name in RULE_FIELDS[1:]]
        marks = ", ".join("?" for _ in values)
        row = self._one(
            f"INSERT INTO fault_rules ({', '.join(names)}) VALUES ({marks}) RETURNING id", values
        )
        return replace(rule, id=row[0])

    def fault_rules(self, namespace: str = "") -> list[FaultRule]:
        rows = self._all(_SELECT + " WHERE namespace = ? ORDER BY id", (namespace,))
        return [_rule(row) for row in rows]

    def fault_rule(self, rule_id: int) -> FaultRule | None:
        row = self._one(_SELECT + " WHERE id = ?", (rule_id,))
        return None if row is None else _rule(row)

    def delete_fault_rule(self, rule_id: int) -> bool:
        return bool(self._exec("DELETE FROM fault_rules WHERE id = ?", (rule_id,)).rowcount)

    def delete_fault_rules(self, namespace: str = "") -> int:
        cur = self._exec("DELETE FROM fault_rules WHERE namespace = ?", (namespace,))
        return int(cur.rowcount)

    def count_fault_match(self, rule_id: int) -> int | None:
        """Count one matching request; the count before it (the roll's index), or None when
        the rule is gone."""
        row = self._one(
            "UPDATE fault_rules SET seen = seen + 1 WHERE id = ? RETURNING seen", (rule_id,)
        )
        return None if row is None else int(row[0]) - 1

    def claim_fault_firing(self, rule_id: int) -> bool:
        """Count one firing unless the rule has fired its N times (atomic across processes)."""
        cur = self._exec(
            "UPDATE fault_rules SET fired = fired + 1"
            " WHERE id = ? AND (times IS NULL OR fired < times)",
            (rule_id,),
        )
        return bool(cur.rowcount)
