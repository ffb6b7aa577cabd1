"""Scripted payer outcomes for micropay (issue 12, part 2): what the payer does at the till.

A script is chosen per request by a rule (domain/faults.py, actions ``payer_*``) and handed to
``micropay``. Everything happens on the platform clock, so a test moves the clock instead of
sleeping:

- ``payer_pays``: the answer is USERPAYING; the payer enters the password ``at_ms`` after the
  order was created, and from then on the order reads SUCCESS (time_end = that moment).
- ``payer_never``: USERPAYING, the payer never answers: PAYERROR when the 30-second password
  window ends (the platform's own timeout).
- ``payer_wrong_password``: USERPAYING; the payer's third wrong password is at ``at_ms``, and
  from then on the order reads PAYERROR.
- ``payer_notenough`` / ``payer_bankerror`` / ``payer_code_expired``: refused at once with
  NOTENOUGH, BANKERROR or AUTHCODEEXPIRE and the platform's wording; no order is created.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from wxpay_local.codes import ErrCode, Rejected

#: The payer actions a fault rule can carry.
OUTCOMES = (
    "payer_pays",
    "payer_never",
    "payer_wrong_password",
    "payer_notenough",
    "payer_bankerror",
    "payer_code_expired",
)
#: When the payer acts if the rule does not say (platform milliseconds after the micropay).
DEFAULT_AT_MS = 10_000

_REFUSALS = {
    "payer_notenough": (ErrCode.NOTENOUGH, "101 余额不足"),
    "payer_bankerror": (ErrCode.BANKERROR, ErrCode.BANKERROR.desc),
    "payer_code_expired": (ErrCode.AUTHCODEEXPIRE, ErrCode.AUTHCODEEXPIRE.desc),
}


@dataclass(frozen=True, slots=True)
class PayerScript:
    outcome: str
    at_ms: int = 0

    @property
    def at(self) -> timedelta:
        return timedelta(milliseconds=self.at_ms or DEFAULT_AT_MS)

    def refusal(self) -> Rejected | None:
        """The immediate refusal of a refusing outcome, None for the password outcomes."""
        found = _REFUSALS.get(self.outcome)
        return None if found is None else Rejected(found[0], found[1])

    def describe(self) -> str:
        seconds = self.at.total_seconds()
        return {
            "payer_pays": f"payer enters the password after {seconds:g} s",
            "payer_never": "payer never enters the password",
            "payer_wrong_password": f"payer's third wrong password after {seconds:g} s",
            "payer_notenough": "payer's balance is not enough (NOTENOUGH)",
            "payer_bankerror": "payer's bank refuses (BANKERROR)",
            "payer_code_expired": "payment code expired while the cashier waited",
        }[self.outcome]
