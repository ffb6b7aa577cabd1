"""The platform's micropay best practice (spec §5.1, §5.2) as one sans-IO flow.

``flow`` is a generator: it yields ``Call`` (an API call to make) and ``Sleep`` (a pause) and
receives each call's ``Reply``; ``Client.micropay_best_practice`` and its async twin drive it
with their own HTTP and their own (injectable) sleep, so tests never wait in wall time.

1. micropay. SUCCESS → paid. USERPAYING / SYSTEMERROR / BANKERROR, a ``return_code=FAIL``, an
   answer that does not verify or no answer at all → the outcome is unknown: step 2. Any other
   err_code → failed, nothing was charged.
2. orderquery ``first_query`` s later, then every ``poll_interval`` s: SUCCESS → paid;
   USERPAYING / NOTPAY / ACCEPT or a failed query → keep polling; PAYERROR → reverse (staff
   advice); CLOSED / REVOKED / REFUND or ORDERNOTEXIST → failed.
3. After ``give_up_after`` s of waiting: reverse, never sooner than ``reverse_not_before`` s
   after the micropay call, again while the answer says ``recall=Y`` or the call fails, at
   most ``max_reversals`` times.

Elapsed time is the sum of the flow's own pauses: the calls' own durations only add to the
real time, so "never reverse within 15 s" holds in wall time too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Literal

from wxpay_sdk.errors import ResultError, WxPayError

log = logging.getLogger("wxpay_sdk.micropay")

UNKNOWN_ERRORS = frozenset({"USERPAYING", "SYSTEMERROR", "BANKERROR"})
KEEP_POLLING = frozenset({"USERPAYING", "NOTPAY", "ACCEPT"})
NOT_PAID = frozenset({"CLOSED", "REVOKED", "REFUND"})

Status = Literal["PAID", "FAILED", "REVERSED", "UNRESOLVED"]


@dataclass(frozen=True)
class Timings:
    """Seconds; the defaults are the current domestic documentation's (spec §5.2)."""

    first_query: float = 5.0
    poll_interval: float = 10.0
    give_up_after: float = 45.0
    reverse_not_before: float = 15.0
    reverse_pause: float = 1.0
    max_reversals: int = 10


DEFAULT_TIMINGS = Timings()


@dataclass(frozen=True)
class Call:
    endpoint: Literal["micropay", "orderquery", "reverse"]
    fields: dict[str, object]


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class Reply:
    result: Mapping[str, object] | None = None
    error: WxPayError | None = None


@dataclass
class Outcome:
    """PAID (``result`` is the micropay or orderquery answer), FAILED (definitely not paid;
    ``err_code`` says why), REVERSED (unclear, so undone), UNRESOLVED (reversal refused or
    never answered: a person must look, ``err_code`` says what was last heard)."""

    status: Status
    out_trade_no: str
    result: dict[str, object] = field(default_factory=dict)
    err_code: str = ""
    #: (seconds since the micropay call, what happened), also logged to wxpay_sdk.micropay
    steps: list[tuple[float, str]] = field(default_factory=list)

    @property
    def paid(self) -> bool:
        return self.status == "PAID"


def _describe(reply: Reply) -> tuple[str, str]:
    """(err_code or error kind, human text) of a failed reply."""
    error = reply.error
    if isinstance(error, ResultError):
        return error.err_code, f"{error.err_code} {error.err_code_des}"
    return type(error).__name__, f"{type(error).__name__}: {error}"


def flow(
    args: Mapping[str, object],
    timings: Timings = DEFAULT_TIMINGS,
    on_step: Callable[[float, str], None] | None = None,
) -> Generator[Call | Sleep, Reply | None, Outcome]:
    """The flow of one charge; ``on_step(seconds, text)`` hears each step as it happens."""
    out_trade_no = str(args["out_trade_no"])
    outcome = Outcome("UNRESOLVED", out_trade_no)
    elapsed = 0.0

    def note(text: str) -> None:
        outcome.steps.append((elapsed, text))
        log.info("micropay %s +%.0fs: %s", out_trade_no, elapsed, text)
        if on_step is not None:
            on_step(elapsed, text)

    def done(status: Status, result: Mapping[str, object] | None = None, err: str = "") -> Outcome:
        outcome.status, outcome.err_code = status, err
        outcome.result = dict(result or {})
        note(status + (f" ({err})" if err else ""))
        return outcome

    note(f"micropay total_fee={args.get('total_fee')}")
    reply = yield Call("micropay", dict(args))
    assert reply is not None
    if reply.result is not None:
        return done("PAID", reply.result)
    code, text = _describe(reply)
    if isinstance(reply.error, ResultError) and code not in UNKNOWN_ERRORS:
        return done("FAILED", reply.error.fields, code)
    note(f"outcome unknown: {text}")

    wait = timings.first_query
    while elapsed + wait <= timings.give_up_after:
        yield Sleep(wait)
        elapsed += wait
        wait = timings.poll_interval
        reply = yield Call("orderquery", {"out_trade_no": out_trade_no})
        assert reply is not None
        if reply.result is None:
            code, text = _describe(reply)
            if code == "ORDERNOTEXIST":
                return done("FAILED", {}, code)
            note(f"orderquery failed, polling on: {text}")
            continue
        state = str(reply.result.get("trade_state", ""))
        note(f"orderquery: {state}")
        if state == "SUCCESS":
            return done("PAID", reply.result)
        if state in NOT_PAID:
            return done("FAILED", reply.result, state)
        if state not in KEEP_POLLING:
            break  # PAYERROR or a state we do not know: undo it
    else:
        note(f"no final state after {timings.give_up_after:.0f} s: reversing")

    if elapsed < timings.reverse_not_before:
        yield Sleep(timings.reverse_not_before - elapsed)
        elapsed = timings.reverse_not_before
    last = ""
    for attempt in range(timings.max_reversals):
        if attempt:
            yield Sleep(timings.reverse_pause)
            elapsed += timings.reverse_pause
        reply = yield Call("reverse", {"out_trade_no": out_trade_no})
        assert reply is not None
        if reply.result is not None:
            if reply.result.get("recall") != "Y":
                return done("REVERSED", reply.result)
            last = "recall=Y"
            note("reverse: recall=Y, again")
            continue
        last, text = _describe(reply)
        if isinstance(reply.error, ResultError) and last != "SYSTEMERROR":
            return done("UNRESOLVED", reply.error.fields, last)
        note(f"reverse failed, again: {text}")
    return done("UNRESOLVED", {}, last)
