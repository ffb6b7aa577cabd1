"""Applying fault rules to merchant API requests (issue 12): the web half of ``domain.faults``.

``FaultBook`` keeps this process's copy of the rules. With no rules the hot path pays one
attribute read and one clock comparison (``armed``): the copy is re-read from the database at
most every ``REFRESH_SECONDS`` so that rules created through another server process take effect
within that time, and at once when created through this one. Choosing a rule counts the match
and the firing with one UPDATE each in the database, so "fires N times" holds across processes.

Applying a rule is about the connection (hold it, reset it, answer late, answer garbage), so it
lives here; the sandbox's ``Wechatpay-Negative-Test`` cases are rules made up for one request.
"""

from __future__ import annotations

import asyncio
import functools
import socket
import struct
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from wxpay_local.api import pay
from wxpay_local.api.context import ClientTls
from wxpay_local.api.pipeline import Outcome, Route, process
from wxpay_local.codes import ErrCode, Rejected
from wxpay_local.domain import faults
from wxpay_local.domain.faults import FaultRule, NotifyFault, RequestFacts
from wxpay_local.domain.model import Notification
from wxpay_local.domain.ports import JournalEntry, Store
from wxpay_local.web.journal import Journal
from wxpay_local.wire import envelope
from wxpay_local.wire.xml import XmlError, decode

# ASGI's messages as web.merchant types them (values narrowed where they are read).
Scope = Mapping[str, object]
Message = MutableMapping[str, object]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Handler = Callable[[Any], Any]

REFRESH_SECONDS = 0.5
#: Not XML: what a proxy's error page or a cut connection leaves a client to parse.
GARBLED = b"<xml><return_code><![CDATA[SUCC\x00\xff\xfe garbled"

NEGATIVE_TEST_HEADER = b"wechatpay-negative-test"
#: The sandbox's own wording of USERPAYING in its published negative-test case (docs/behaviour.md).
SANDBOX_USERPAYING_DES = "需要输入密码"


class FaultBook:
    """This process's view of the fault rules."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.rules: list[FaultRule] = []
        #: Where notification faults are written down (the request journal).
        self.journal: Journal | None = None
        self._loaded_at = float("-inf")

    def armed(self) -> bool:
        """Whether a request must look further: rules are known, or the copy is stale."""
        return bool(self.rules) or time.monotonic() - self._loaded_at > REFRESH_SECONDS

    def invalidate(self) -> None:
        self._loaded_at = float("-inf")

    async def refresh(self) -> None:
        if time.monotonic() - self._loaded_at <= REFRESH_SECONDS:
            return

        def read() -> list[FaultRule]:
            with self._store.begin(write=False) as tx:
                return [rule for rule in tx.fault_rules() if not rule.exhausted]

        self.rules = await self._store.run(read, write=False)
        self._loaded_at = time.monotonic()

    async def pick(self, facts: RequestFacts) -> FaultRule | None:
        """The rule that fires on this request, its firing already counted, or None."""
        await self.refresh()
        for rule in faults.candidates(self.rules, facts):
            fired = await self._store.run(functools.partial(self._claim, rule))
            if fired is not None:
                if fired.exhausted:
                    self.invalidate()  # drop it from the copy at the next request
                return fired
        return None

    def _claim(self, rule: FaultRule) -> FaultRule | None:
        with self._store.begin() as tx:
            if rule.probability < 1.0:
                n = tx.count_fault_match(rule.id)
                if n is None or not faults.rolls(rule, n):
                    return None
            if not tx.claim_fault_firing(rule.id):
                return None
            claimed: FaultRule | None = tx.fault_rule(rule.id)
            return claimed

    async def for_notification(self, notification: Notification) -> NotifyFault | None:
        """The dispatcher's hook: the notification fault for this attempt, counted, or None."""
        if not self.armed():
            return None
        fields = {k: str(v) for k, v in notification.fields.items() if isinstance(v, str | int)}
        facts = faults.notify_facts(notification.kind, fields)
        rule = await self.pick(facts)
        if rule is None:
            return None
        if self.journal is not None:
            self.journal.record(
                JournalEntry(
                    at=int(notification.created_at.timestamp() * 1000),
                    method="NOTIFY",
                    path=notification.url[:512],
                    endpoint=facts.endpoint,
                    mch_id=fields.get("mch_id", ""),
                    request="",
                    response="",
                    return_code="",
                    result_code="",
                    err_code="",
                    message=Applied(rule).note(),
                    explanation={"fault": Applied(rule).note(), "notification_id": notification.id},
                    duration_us=0,
                )
            )
        return NotifyFault(rule.action, rule.delay_ms)


def facts_of(endpoint: str, scope: Scope, body: bytes) -> RequestFacts:
    """What rules match on; a body that is not XML matches only rules without field criteria."""
    try:
        fields = decode(body) if body.strip() else {}
    except (XmlError, ValueError):
        fields = {}
    return RequestFacts(endpoint, str(scope["path"]), header(scope, b"host"), fields)


def header(scope: Scope, name: bytes) -> str:
    headers = scope.get("headers")
    if not isinstance(headers, list | tuple):
        return ""
    for key, value in headers:
        if key == name:
            return bytes(value).decode("latin-1")
    return ""


# --- the sandbox's negative tests --------------------------------------------------------------
def negative_test(endpoint: str, scope: Scope) -> FaultRule | None:
    """The rule a ``Wechatpay-Negative-Test`` header asks for on a sandbox request (inferred
    from the published case list; docs/behaviour.md says what each one does here)."""
    case = header(scope, NEGATIVE_TEST_HEADER).strip().upper()
    if not case:
        return None
    if endpoint == "micropay":
        return {
            "MICROPAY_USERPAYING": FaultRule(
                0, "err_code", "after", err_code="USERPAYING", return_msg=SANDBOX_USERPAYING_DES
            ),
            "MICROPAY_TIMEOUT": FaultRule(0, "hold", "after"),
            "MICROPAY_PAYERROR": FaultRule(0, "hold", "before"),
            "MICROPAY_PAY_QUERY_TIMEOUT": FaultRule(0, "hold", "after"),
        }.get(case)
    if endpoint == "orderquery" and case == "MICROPAY_PAY_QUERY_TIMEOUT":
        return FaultRule(0, "hold", "before")
    return None


# --- applying a rule ---------------------------------------------------------------------------
def handlers_for(rule: FaultRule, handlers: Mapping[str, Handler], name: str) -> dict[str, Any]:
    """The handler table with the endpoint's handler wrapped to answer the rule's refusal.

    Before commit the refusal is raised, so the pipeline rolls the transaction back; after
    commit the real handler runs and its result is replaced by the refusal, which the pipeline
    answers (signed, like any refusal) while the transaction commits.
    """
    real = handlers[name]

    def refusal() -> Rejected:
        des = rule.return_msg or faults.err_code_des(rule.err_code)
        # reverse answers a platform-side failure with recall=Y: "call reverse again".
        extra = {"recall": "Y"} if name == "reverse" else {}
        return Rejected(ErrCode(rule.err_code), des, **extra)

    def wrapped(call: Any) -> Any:
        if rule.when == "before":
            raise refusal()
        real(call)
        return refusal()

    return {**handlers, name: wrapped}


async def hold(receive: Receive, seconds: float = faults.MAX_HOLD_SECONDS) -> None:
    """Keep the request unanswered until the client gives up (or ``seconds`` pass)."""
    try:
        async with asyncio.timeout(seconds):
            while (await receive())["type"] != "http.disconnect":
                pass
    except TimeoutError:
        pass


def reset(send: Send) -> bool:
    """Drop the connection with a TCP reset (SO_LINGER 0, then abort): the client sees
    "connection reset by peer". False when the server's transport cannot be reached."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        return False
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    transport.abort()
    return True


@dataclass(frozen=True, slots=True)
class Applied:
    """What the journal says about an application."""

    rule: FaultRule

    def note(self) -> str:
        label = f"rule #{self.rule.id}" if self.rule.id else "Wechatpay-Negative-Test"
        return f"{label} applied: {self.rule.describe()}"


#: Actions that replace the answer on the wire instead of inside the pipeline.
WIRE_ACTIONS = frozenset(("http_status", "empty_body", "garbled", "hold", "reset"))


async def run_faulted(
    app: Any,
    route: Route,
    scope: Scope,
    receive: Receive,
    send: Send,
    body: bytes,
    client: ClientTls,
    rule: FaultRule,
) -> tuple[Outcome, bool]:
    """Run one request under a rule: the outcome for the journal, and whether it was answered
    (or deliberately left unanswered) here; False leaves the normal answer to the caller."""
    endpoint = route.endpoint
    if rule.action == "delay" and rule.when == "before":
        await asyncio.sleep(rule.delay_ms / 1000)
    script = rule.payer_script
    runs = rule.when == "after" or rule.action in ("delay", "err_code") or script is not None
    if runs:
        handlers: Mapping[str, Any] = app.handlers
        if rule.action == "err_code":
            handlers = handlers_for(rule, app.handlers, endpoint.name)
        elif script is not None and endpoint.name == "micropay":
            handlers = {**handlers, "micropay": functools.partial(pay.micropay, script=script)}
        outcome = await app.store.run(
            lambda: process(app.store, app.platform, handlers, route, body, client),
            write=endpoint.writes,
        )
    else:
        mch_id = facts_of(endpoint.name, scope, body).fields.get("mch_id", "")[:32]
        outcome = Outcome(
            b"", return_code="", mch_id=mch_id, message="not run: the fault answered first"
        )
    outcome.explanation["fault"] = Applied(rule).note()
    if rule.action == "delay" and rule.when == "after":
        await asyncio.sleep(rule.delay_ms / 1000)
    if rule.action == "return_fail":
        message = rule.return_msg or "SYSTEMERROR"
        if outcome.body:
            outcome.explanation["answer_not_sent"] = outcome.body.decode("utf-8", "replace")
        outcome.body, outcome.download = envelope.fault(message), None
        outcome.return_code, outcome.result_code, outcome.err_code = "FAIL", "", ""
        outcome.message = message
        return outcome, False
    if rule.action not in WIRE_ACTIONS:
        return outcome, False
    if outcome.body:
        outcome.explanation["answer_not_sent"] = outcome.body.decode("utf-8", "replace")
    outcome.download = None
    if rule.action == "http_status":
        outcome.body = b""
        await _send_raw(send, b"", rule.http_status or 503)
    elif rule.action == "empty_body":
        outcome.body = b""
        await _send_raw(send, b"", 200)
    elif rule.action == "garbled":
        outcome.body = GARBLED
        await _send_raw(send, GARBLED, 200)
    elif rule.action == "hold":
        outcome.body = b""
        await hold(receive, rule.delay_ms / 1000 if rule.delay_ms else faults.MAX_HOLD_SECONDS)
        reset(send)
    else:
        outcome.body = b""
        reset(send)
    return outcome, True


async def _send_raw(send: Send, body: bytes, status: int) -> None:
    length = str(len(body)).encode()
    headers = [(b"content-type", b"text/xml; charset=utf-8"), (b"content-length", length)]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
