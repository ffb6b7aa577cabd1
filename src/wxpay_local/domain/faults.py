"""Fault rules: which merchant API request a rule matches, and which rule (if any) fires.

Pure: the rule rows come from the store, the random generator is injected (seeded per rule, so
a failing run replays), and applying the chosen action (a delay, a held or reset connection, a
garbled body) is the web layer's business. ``when`` says whether the platform's state changes
anyway: ``before`` answers without running the request, ``after`` runs (and commits) it first,
then answers with the fault instead — the classic "the payment went through but the answer was
lost".
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from fnmatch import fnmatchcase

from wxpay_local.codes import ErrCode
from wxpay_local.domain import payer_scripts

#: What a rule does to the answer.
ACTIONS = (
    "err_code",  # a signed result_code=FAIL with err_code and the platform's err_code_des
    "return_fail",  # return_code=FAIL with return_msg (unsigned)
    "http_status",  # an HTTP status (e.g. 503) with an empty body
    "empty_body",  # HTTP 200 with no body at all
    "garbled",  # HTTP 200 with a body that is not XML
    "delay",  # the normal answer, late
    "hold",  # no answer: keep the connection open until the client gives up
    "reset",  # drop the connection (TCP reset) without an answer
    # notifications (endpoint "payment_notify" or "refund_notify"):
    "notify_twice",  # deliver again right after the merchant acknowledged
    "notify_together",  # two copies at once
    "notify_delay",  # the attempt waits delay_ms (wall time) before it is sent
    "notify_lost_ack",  # delivered and acknowledged, but counted as timed out: retried
    "notify_lost",  # the attempt never reaches the merchant (counted as failed): retried
    # what the payer does at the till (endpoint "micropay"; domain/payer_scripts.py):
    *payer_scripts.OUTCOMES,
)
NOTIFY_ACTIONS = frozenset(
    ("notify_twice", "notify_together", "notify_delay", "notify_lost_ack", "notify_lost")
)
WHEN = ("before", "after")
#: How long a held request waits at most before the connection is dropped, in wall seconds.
MAX_HOLD_SECONDS = 300.0


@dataclass(frozen=True, slots=True)
class FaultRule:
    """One rule. Empty match fields match anything; ``times=None`` fires until removed.

    ``namespace`` is reserved for isolated worlds (issue 12, part 6): "" is the default one.
    """

    id: int
    action: str
    when: str = "before"
    mch_id: str = ""
    endpoint: str = ""  # an endpoint name (micropay) or a path glob (/pay/*)
    host: str = ""  # a glob over the Host header (api2.mch.weixin.qq.com, localhost:*)
    out_trade_no: str = ""  # a glob (T*)
    total_fee: int | None = None
    device_info: str = ""
    err_code: str = ""
    return_msg: str = ""
    http_status: int = 0
    delay_ms: int = 0
    times: int | None = None
    fired: int = 0
    seen: int = 0  # matching requests so far (the index of the next probability roll)
    probability: float = 1.0
    seed: int = 0
    created_at: int = 0
    namespace: str = ""

    @property
    def payer_script(self) -> payer_scripts.PayerScript | None:
        """The payer outcome a ``payer_*`` rule scripts (delay_ms: when, platform time)."""
        if self.action not in payer_scripts.OUTCOMES:
            return None
        return payer_scripts.PayerScript(self.action, self.delay_ms)

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.fired >= self.times

    def describe(self) -> str:
        """How the journal and the console name an application: "SYSTEMERROR after commit"."""
        script = self.payer_script
        if script is not None:
            return script.describe()
        what = {
            "err_code": self.err_code,
            "return_fail": f"return_code=FAIL {self.return_msg!r}",
            "http_status": f"HTTP {self.http_status}",
            "empty_body": "empty body",
            "garbled": "garbled body",
            "delay": f"delay {self.delay_ms} ms",
            "hold": "no answer (held)",
            "reset": "connection reset",
            "notify_twice": "notification delivered twice",
            "notify_together": "two copies of the notification at once",
            "notify_delay": f"notification delayed {self.delay_ms} ms",
            "notify_lost_ack": "notification acknowledged, answer lost (timeout)",
            "notify_lost": "notification lost on the way (never reached the merchant)",
        }[self.action]
        if self.action in NOTIFY_ACTIONS:
            return what
        return f"{what} {'after commit' if self.when == 'after' else 'before commit'}"


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What a rule can match on, read from the request before the pipeline runs."""

    endpoint: str
    path: str
    host: str
    fields: dict[str, str]


@dataclass(frozen=True, slots=True)
class NotifyFault:
    """What the dispatcher does differently for one delivery attempt."""

    action: str
    delay_ms: int = 0


def notify_facts(kind: str, fields: dict[str, str]) -> RequestFacts:
    """A notification seen as a request for matching: endpoint payment_notify/refund_notify."""
    return RequestFacts(f"{kind}_notify", "", "", fields)


def err_code_des(code: str) -> str:
    """The platform's own wording of an err_code; unknown codes say 系统错误 like the platform."""
    try:
        return ErrCode(code).desc
    except ValueError:
        return ErrCode.SYSTEMERROR.desc


def matches(rule: FaultRule, facts: RequestFacts) -> bool:
    if rule.exhausted:
        return False
    if rule.endpoint and rule.endpoint != facts.endpoint:
        if not fnmatchcase(facts.path, rule.endpoint):
            return False
    if rule.host and not fnmatchcase(facts.host.lower(), rule.host.lower()):
        return False
    if rule.mch_id and facts.fields.get("mch_id") != rule.mch_id:
        return False
    if rule.out_trade_no and not fnmatchcase(
        facts.fields.get("out_trade_no", ""), rule.out_trade_no
    ):
        return False
    if rule.total_fee is not None and facts.fields.get("total_fee") != str(rule.total_fee):
        return False
    return not rule.device_info or facts.fields.get("device_info") == rule.device_info


def rolls(rule: FaultRule, n: int) -> bool:
    """Whether a probabilistic rule fires on its n-th matching request.

    The n-th roll is drawn from ``Random(seed, n)``: the same seed and the same order of
    requests give the same faults, in every process (no generator state to share). ``n`` comes
    from the store's atomic counter of matching requests.
    """
    if rule.probability >= 1.0:
        return True
    if rule.probability <= 0.0:
        return False
    draw = random.Random(f"{rule.seed}:{n}").random()  # noqa: S311 - not crypto
    return draw < rule.probability


def candidates(rules: list[FaultRule], facts: RequestFacts) -> list[FaultRule]:
    """The matching rules in the order they are tried (oldest first); notification rules
    match only notifications, the others only merchant API requests."""
    notify = facts.endpoint.endswith("_notify")
    return sorted(
        (
            r
            for r in rules
            if (r.action in NOTIFY_ACTIONS) == notify
            # a payer outcome is about micropay only, whatever endpoint the rule names
            and (r.payer_script is None or facts.endpoint == "micropay")
            and matches(r, facts)
        ),
        key=lambda r: r.id,
    )
