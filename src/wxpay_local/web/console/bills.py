"""Bills in the console: a day's trade bill and fund flow, previewed and downloaded.

Both come from the code behind ``/pay/downloadbill``, ``/pay/downloadfundflow`` and
``/_local/bills`` (``api.bills``), so the downloads are the API's bytes, plain or GZIP, sent
to the signed-in session instead of a signed request. The availability rule is spelled out on
the page: a day's bill exists from the generation hour of the next day unless the platform
serves bills at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from wxpay_local.api import bills
from wxpay_local.codes import Fault
from wxpay_local.domain.bills import BILL_TYPES, BOM, OLDEST_DAYS, availability, parse_day
from wxpay_local.domain.model import Merchant
from wxpay_local.timefmt import SHANGHAI
from wxpay_local.web.console.auth import Viewer
from wxpay_local.web.console.choose import Choice, choose, requested_mch_id
from wxpay_local.web.console.common import console_page, render
from wxpay_local.web.control_bills import _streamed
from wxpay_local.web.pages.common import PageError, param

if TYPE_CHECKING:
    from wxpay_local.web.app import AsgiApp

PREVIEW_ROWS = 100
ACCOUNTS = ("Basic", "Operation", "Fees")
KINDS = ("trade", "fund")
_FAULT_STATUS = {"No Bill Exist": 404, "Bill Creating": 409}
_REFUSAL_STATUS = {"NO_BILL_EXIST": 404, "BILL_CREATING": 409}


@dataclass
class Preview:
    """The first rows of a bill file and its totals, read in one pass in flat memory."""

    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    total_rows: int = 0
    summary_header: list[str] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)


def _cells(line: str) -> list[str]:
    return line.removeprefix("`").split(",`")


def preview(chunks: Iterator[bytes]) -> Preview:
    """Keep the header, the first ``PREVIEW_ROWS`` rows and the last two lines (the totals)."""
    lines: list[str] = []
    kept = Preview()
    pending = b""
    for chunk in chunks:
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for raw in complete:
            lines.append(raw.decode("utf-8"))
            if len(lines) > 3:  # the line three back is surely a detail row (or the header)
                _take(kept, lines.pop(0))
    tail = [*lines, pending.decode("utf-8")] if pending else lines
    for line in tail[:-2]:
        _take(kept, line)
    if len(tail) >= 2:
        kept.summary_header, kept.summary = tail[-2].split(","), _cells(tail[-1])
    return kept


def _take(kept: Preview, line: str) -> None:
    if not kept.header:
        kept.header = line.removeprefix(BOM).split(",")
        return
    kept.total_rows += 1
    if len(kept.rows) < PREVIEW_ROWS:
        kept.rows.append(_cells(line))


def _when_ready(app: AsgiApp, day: date) -> tuple[str, str]:
    """(state, a sentence saying when this day's bill exists) under the platform's rule."""
    now = app.clock.now().astimezone(SHANGHAI)
    hour = app.platform.bill_generation_hour
    immediate = app.platform.bills_available_immediately
    state = availability(day, now, generation_hour=hour, immediate=immediate)
    next_morning = f"{day + timedelta(days=1)} {hour:02d}:00"
    if state == "ready":
        rule = "served at once (--bills-available-immediately)" if immediate else "generated"
        return state, f"The bill of {day} exists ({rule})."
    if state == "creating":
        return state, f"The bill of {day} is being generated: it exists from {next_morning}."
    if day > now.date():
        return state, f"{day} has not happened yet (platform time {now:%Y-%m-%d %H:%M})."
    if day == now.date():
        return state, f"{day} is today: its bill exists from {next_morning} (platform time)."
    return state, f"{day} is more than {OLDEST_DAYS} days ago: bills are kept three months."


@dataclass(frozen=True, slots=True)
class Ask:
    """What the page or a download asks for, checked."""

    kind: str
    bill_date: str
    bill_type: str
    account_type: str
    gzip: bool

    @property
    def query(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "date": self.bill_date,
            "bill_type": self.bill_type,
            "account_type": self.account_type,
        }


def _ask(app: AsgiApp, values: Any) -> Ask:
    default = (app.clock.now().astimezone(SHANGHAI) - timedelta(days=1)).strftime("%Y%m%d")
    bill_date = param(values, "date").strip().replace("-", "") or default
    kind = param(values, "kind") or "trade"
    bill_type = param(values, "bill_type") or "ALL"
    account_type = param(values, "account_type") or "Basic"
    if kind not in KINDS or bill_type not in BILL_TYPES or account_type not in ACCOUNTS:
        raise PageError(400, "kind, bill_type or account_type is not one the platform knows")
    if parse_day(bill_date) is None:
        raise PageError(400, f"{bill_date[:20]!r} is not a date (yyyy-mm-dd)")
    return Ask(kind, bill_date, bill_type, account_type, param(values, "tar_type") == "GZIP")


async def _prepare(
    app: AsgiApp, viewer: Viewer, requested: str, ask: Ask
) -> tuple[Choice, Any, Exception | None]:
    """The merchant choice, and the prepared ``BillFile`` or the platform's refusal (both None
    before the operator has chosen a merchant)."""

    def work() -> tuple[Choice, Any, Exception | None]:
        with app.store.begin(write=False) as tx:
            choice = choose(tx, viewer, requested)
            merchant: Merchant | None = choice.merchant
            if merchant is None:
                return choice, None, None
            tar = "GZIP" if ask.gzip else ""
            try:
                if ask.kind == "trade":
                    file = bills.trade_bill(
                        tx, app.platform, merchant, ask.bill_date, ask.bill_type, tar
                    )
                else:
                    file = bills.fund_flow(
                        tx, app.platform, merchant, ask.bill_date, ask.account_type, tar
                    )
            except (Fault, bills.FundFlowRefused) as exc:
                return choice, None, exc
            return choice, file, None

    return await app.store.run(work, write=False)


def _refusal(exc: Exception) -> tuple[int, str]:
    if isinstance(exc, Fault):
        return _FAULT_STATUS.get(exc.return_msg, 400), f"{exc.return_msg}: {exc.detail}"
    assert isinstance(exc, bills.FundFlowRefused)
    return _REFUSAL_STATUS.get(exc.err_code, 400), f"{exc.err_code}: {exc.err_code_des}"


async def bills_page(app: AsgiApp, request: Request, viewer: Viewer) -> Response:
    q = request.query_params
    requested = requested_mch_id(q)
    ask = _ask(app, q)
    day = parse_day(ask.bill_date)
    assert day is not None
    state, when = _when_ready(app, day)
    status, problem, shown = 200, "", Preview()
    choice, file, refused = await _prepare(app, viewer, requested, ask)
    if refused is not None:
        status, problem = _refusal(refused)
        if status == 404 and state == "ready":
            # one message, not "exists" in green beside "No Bill Exist" in red: the day is
            # generated but had nothing of this type, which the API says as No Bill Exist
            state = "empty"
            when = f"The bill of {day} is generated, but it has no rows of this type."
    if file is not None:
        chunks = file.download.chunks
        shown = await app.store.run(lambda: preview(chunks), write=False)
    m = choice.merchant
    links = {}
    if m is not None and file is not None:
        for tar in ("", "GZIP"):
            query = {"mch_id": m.mch_id, **ask.query, "tar_type": tar}
            links[tar or "PLAIN"] = "/console/bills/download?" + urlencode(query)
    return render(
        request,
        "bills.html",
        status if status != 404 else 200,  # no rows that day is an answer, not a broken page
        choice=choice,
        m=m,
        ask=ask,
        day=day.isoformat(),
        bill_types=BILL_TYPES,
        accounts=ACCOUNTS,
        state=state,
        when=when,
        problem=problem,
        p=shown,
        links=links,
        preview_rows=PREVIEW_ROWS,
        hour=app.platform.bill_generation_hour,
        immediate=app.platform.bills_available_immediately,
        oldest=OLDEST_DAYS,
    )


async def download(app: AsgiApp, request: Request, viewer: Viewer) -> Response:
    q = request.query_params
    ask = _ask(app, q)
    choice, file, refused = await _prepare(app, viewer, requested_mch_id(q), ask)
    if refused is not None:
        raise PageError(*_refusal(refused), "没有账单")
    if file is None or choice.merchant is None:
        raise PageError(400, "choose a merchant first", "请选择商户")
    response = _streamed(app, file)
    name = f"{ask.kind}_{choice.merchant.mch_id}_{ask.bill_date}"
    name += ".csv.gz" if ask.gzip else ".csv"
    response.headers["content-disposition"] = f'attachment; filename="{name}"'
    return response


def routes(app: AsgiApp) -> list[Route]:
    return [
        Route("/console/bills", console_page(app, bills_page), methods=["GET"]),
        Route("/console/bills/download", console_page(app, download), methods=["GET"]),
    ]
