"""The signature doctor's other keys: which key a failed sign was really made with, in words.

``wire.signing.find_cause`` tries the wrong constructions with the right key; these are the
wrong keys worth trying (``domain.keys``), each with the sentence that names it. Another
merchant's key is named as such and never identified: the journal entry belongs to this
merchant, and whose key it was (let alone the key) is not theirs to see.
"""

from __future__ import annotations

from wxpay_local.domain import keys
from wxpay_local.domain.model import LIVE, Merchant
from wxpay_local.domain.ports import Tx
from wxpay_local.wire.signing import AltKey

PRODUCTION_KEY_ON_SANDBOX = (
    "the sign was made with the production API key, but this is a sandbox path: "
    "sign with the sandbox key that /sandboxnew/pay/getsignkey returned"
)
SANDBOX_KEY_ON_PRODUCTION = (
    "the sign was made with the sandbox key (from getsignkey), but this is a production "
    "path: sign with the merchant's API key"
)
OTHER_MERCHANT = (
    "the sign was made with another merchant's API key, not this mch_id's: check which "
    "merchant's key your configuration loads"
)


def retired(when: str) -> str:
    return (
        f"the sign was made with this merchant's previous API key, replaced at {when} "
        "(platform clock): use the current key (console, Keys)"
    )


def alt_keys(tx: Tx, merchant: Merchant) -> list[AltKey]:
    """The keys to try after ``merchant``'s own, each with the words that name it."""
    found = []
    for candidate in keys.candidates(tx, merchant):
        if candidate.kind == "other_env":
            text = PRODUCTION_KEY_ON_SANDBOX if merchant.env != LIVE else SANDBOX_KEY_ON_PRODUCTION
        elif candidate.kind == "retired":
            text = retired(candidate.when or "an unknown time")
        else:
            text = OTHER_MERCHANT
        found.append(AltKey(candidate.key, text))
    return found
