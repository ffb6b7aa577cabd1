"""The keys a failed signature is tried against, to name the key a client really used.

A merchant's previous API keys are kept (the last few, with when they were replaced) in the
settings table, so the signature doctor can say "this is the key rotated away at …"; the other
candidates are the merchant's twin in the other environment (the production key on a sandbox
path and the reverse) and every other merchant's key (named as such, never shown).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from wxpay_local.domain.model import LIVE, SANDBOX, Merchant
from wxpay_local.domain.ports import Merchants

#: How many replaced keys a merchant keeps for the doctor (older ones are forgotten).
RETIRED_KEPT = 5
#: Other merchants' keys tried at most (a failed signature must stay cheap on a big store).
OTHER_MERCHANTS_TRIED = 500
_SETTING = "key.retired."


@dataclass(frozen=True, slots=True)
class Candidate:
    """A key the client may have used instead of the right one, and how to say which it was."""

    kind: str  # "retired", "other_env", "other_merchant"
    key: str
    when: str = ""  # for "retired": when it was replaced (platform clock, ISO 8601)


def retire(tx: Merchants, merchant: Merchant, now: datetime) -> None:
    """Remember the key a rotation replaces (call before the merchant row changes)."""
    kept = _retired(tx, merchant.id)
    kept.insert(0, {"api_key": merchant.api_key, "retired_at": now.isoformat(timespec="seconds")})
    tx.put_setting(_SETTING + str(merchant.id), json.dumps(kept[:RETIRED_KEPT]))


def _retired(tx: Merchants, merchant_id: int) -> list[dict[str, str]]:
    text = tx.get_setting(_SETTING + str(merchant_id))
    try:
        found = json.loads(text) if text else []
    except ValueError:
        return []
    return [e for e in found if isinstance(e, dict)] if isinstance(found, list) else []


def candidates(tx: Merchants, merchant: Merchant) -> list[Candidate]:
    """Every key worth trying for a signature that did not verify under ``merchant``'s key,
    most specific first: the other environment's key, the merchant's replaced keys (newest
    first), then other merchants' keys."""
    found: list[Candidate] = []
    twin = tx.merchant(merchant.mch_id, SANDBOX if merchant.env == LIVE else LIVE)
    if twin is not None and twin.api_key != merchant.api_key:
        found.append(Candidate("other_env", twin.api_key))
    owner = merchant.id if merchant.env == LIVE else (twin.id if twin is not None else None)
    if owner is not None:
        found += [
            Candidate("retired", e["api_key"], e.get("retired_at", ""))
            for e in _retired(tx, owner)
            if isinstance(e.get("api_key"), str) and e["api_key"] != merchant.api_key
        ]
    mine = {merchant.api_key, *(c.key for c in found)}
    for other in tx.merchants()[:OTHER_MERCHANTS_TRIED]:
        if other.mch_id != merchant.mch_id and other.api_key not in mine:
            found.append(Candidate("other_merchant", other.api_key))
            mine.add(other.api_key)
    return found
