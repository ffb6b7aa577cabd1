"""Which merchant a per-merchant console page shows: a merchant's own, or the operator's pick.

The operator sees a chooser until a merchant is picked (``?mch_id=``); an unknown or foreign
mch_id is a 404, never a hint that it exists elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from wxpay_local.domain.model import LIVE, Merchant
from wxpay_local.domain.ports import Tx
from wxpay_local.web.console.auth import Viewer
from wxpay_local.web.pages.common import PageError, param

if TYPE_CHECKING:
    from starlette.datastructures import ImmutableMultiDict


@dataclass(frozen=True, slots=True)
class Choice:
    """The merchant shown (None: the operator has not picked one) and the operator's options."""

    merchant: Merchant | None
    options: tuple[tuple[str, str], ...]  # (mch_id, name), operator only


def requested_mch_id(values: ImmutableMultiDict[str, str] | dict[str, str]) -> str:
    value = param(values, "mch_id").strip()
    if value and not (value.isascii() and value.isdigit() and len(value) <= 32):
        raise PageError(404, f"no merchant {value[:40]} here", "找不到")
    return value


def choose(tx: Tx, viewer: Viewer, requested: str) -> Choice:
    mch_id = viewer.scope(requested)
    options: tuple[tuple[str, str], ...] = ()
    if viewer.is_operator:
        options = tuple((m.mch_id, m.name) for m in tx.merchants() if m.env == LIVE)
    if mch_id is None:
        return Choice(None, options)
    merchant = tx.merchant(mch_id, LIVE)
    if merchant is None or not viewer.can_see(mch_id):
        raise PageError(404, f"no merchant {mch_id} here", "找不到")
    return Choice(merchant, options)
