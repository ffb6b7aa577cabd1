"""docs/fields.md is generated from the endpoint catalogue and must not go stale."""

from __future__ import annotations

from pathlib import Path

import pytest

from wxpay_local.codes import TradeState
from wxpay_local.spec.fields_doc import render
from wxpay_local.spec.pay import ORDERQUERY_FIELDS

pytestmark = pytest.mark.unit

DOC = Path(__file__).resolve().parents[2] / "docs" / "fields.md"


def test_committed_fields_doc_matches_the_catalogue() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), (
        "docs/fields.md is stale: python -m wxpay_local.spec.fields_doc > docs/fields.md"
    )


def test_the_doc_shows_what_orderquery_answers_per_state() -> None:
    """Spec §4.3: an unpaid order answers identification and state only."""
    text = render()
    assert (
        "| trade_state NOTPAY CLOSED REVOKED ACCEPT | `device_info`, `trade_state`, `total_fee`,"
        " `out_trade_no`, `trade_state_desc` |"
    ) in text
    assert "`coupon_fee`" in text.split("## micropay", 1)[1].split("## reverse", 1)[0]


def test_orderquery_has_a_field_list_for_every_trade_state() -> None:
    assert set(ORDERQUERY_FIELDS) == {str(s) for s in TradeState}
