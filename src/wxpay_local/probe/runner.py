"""Sending the battery and grading each answer; which hosts the probe may send to."""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from wxpay_local.dispatch.delivery import judge
from wxpay_local.probe.battery import Case
from wxpay_local.settings import is_loopback

#: Longest a receiver may take on one check; a parser chewing on a bomb shows up here.
ANSWER_LIMIT_SECONDS = 5.0
#: After the XXE case, how long a late canary fetch is still waited for.
CANARY_GRACE_SECONDS = 0.5


class HostRefused(ValueError):
    """The URL's host is neither loopback nor one an operator allowed."""


def check_target(url: str, allowed: tuple[str, ...]) -> str:
    """``url`` if the probe may send to it. Names are compared as written, never resolved:
    a DNS answer could point an innocent-looking name at any machine."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HostRefused("the probe takes an http:// or https:// URL")
    host = parts.hostname.lower()
    if is_loopback(host) or host in {h.lower() for h in allowed}:
        return url
    raise HostRefused(
        f"the probe sends only to loopback or to hosts the operator allowed; {host} is neither "
        "(serve --allow-probe-host HOST or WXPAY_PROBE_HOSTS)"
    )


class Canaries:
    """The tokens whose canary URL was fetched (by a receiver resolving an external entity)."""

    def __init__(self) -> None:
        self._hit: dict[str, str] = {}

    def hit(self, token: str, who: str) -> None:
        self._hit[token] = who

    def fetched_by(self, token: str) -> str | None:
        return self._hit.pop(token, None)


@dataclass(frozen=True, slots=True)
class Result:
    name: str
    title: str
    expect: str
    passed: bool
    skipped: bool
    detail: str  # what the receiver did, in a few words
    http_status: int | None
    latency_ms: int
    answer: str  # the start of its answer
    fix: str

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int | None
    body: bytes
    ms: int
    failure: str  # why there was no answer ("" when there was one)


async def _send(client: httpx.AsyncClient, url: str, body: bytes) -> _Answer:
    started = time.perf_counter()
    try:
        response = await client.post(
            url, content=body, headers={"Content-Type": "text/xml"}, timeout=ANSWER_LIMIT_SECONDS
        )
    except httpx.TimeoutException:
        return _Answer(None, b"", _ms(started), f"no answer within {ANSWER_LIMIT_SECONDS:g} s")
    except httpx.HTTPError as exc:
        return _Answer(None, b"", _ms(started), f"connection failed: {exc.__class__.__name__}")
    return _Answer(response.status_code, response.content, _ms(started), "")


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def _grade(case: Case, answers: list[_Answer], canary: str | None) -> tuple[bool, str]:
    if canary is not None:
        return False, f"the canary URL was fetched ({canary}): the parser resolves entities"
    verdicts: list[tuple[bool | None, str]] = []  # None: no answer at all
    for answer in answers:
        if answer.failure:
            verdicts.append((None, answer.failure))
        else:
            verdicts.append(judge(answer.status or 0, answer.body))
    if case.expect == "accept":
        bad = [reason for ok, reason in verdicts if not ok]
        return (not bad), ("answered SUCCESS" if not bad else f"not acknowledged: {bad[0]}")
    if case.expect == "refuse":
        if any(ok is True for ok, _ in verdicts):
            return False, "answered SUCCESS to a notification it must refuse"
        if any(ok is None for ok, _ in verdicts):
            return False, f"no answer: {verdicts[0][1]}"
        return True, f"refused ({verdicts[0][1]})"
    # harmless: an answer in time that is not SUCCESS (none of these is a valid notification);
    # a receiver that closes the connection on the oversized body has refused it, too.
    ok, reason = verdicts[0]
    if ok is True:
        return False, "answered SUCCESS to a body that is no valid notification"
    if ok is None:
        if case.name == "oversized" and "connection failed" in reason:
            return True, "closed the connection (refused the body)"
        return False, reason
    return True, f"refused in time ({reason})"


async def run_case(client: httpx.AsyncClient, url: str, case: Case, canaries: Canaries) -> Result:
    if case.skipped:
        return Result(
            case.name,
            case.title,
            case.expect,
            True,
            True,
            f"skipped: {case.skipped}",
            None,
            0,
            "",
            case.fix,
        )
    if case.together:
        answers = list(await asyncio.gather(*(_send(client, url, b) for b in case.bodies)))
    else:
        answers = [await _send(client, url, b) for b in case.bodies]
    canary = None
    if case.canary:
        canary = canaries.fetched_by(case.canary)
        if canary is None:  # a receiver may fetch it after answering: give it a moment
            await asyncio.sleep(CANARY_GRACE_SECONDS)
            canary = canaries.fetched_by(case.canary)
    passed, detail = _grade(case, answers, canary)
    last = answers[-1]
    return Result(
        case.name,
        case.title,
        case.expect,
        passed,
        False,
        detail,
        last.status,
        max(a.ms for a in answers),
        last.body[:200].decode("utf-8", "replace"),
        case.fix,
    )


async def run(url: str, cases: list[Case], canaries: Canaries) -> list[Result]:
    # No redirects followed and no proxy from the environment: the probe talks to that URL only.
    async with httpx.AsyncClient(follow_redirects=False, trust_env=False) as client:
        return [await run_case(client, url, case, canaries) for case in cases]
