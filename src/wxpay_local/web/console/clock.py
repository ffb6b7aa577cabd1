"""The test clock: the platform's time for everyone, moved from the console.

Moves go through the control plane's own operations (``web.control.advance_clock`` and
``set_clock``): the state is saved for every server process and the dispatcher is woken, so
notifications and refunds that became due move at once. The clock is platform-wide, so both
merchant and operator logins may move it (it is a test platform; the page says so).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from wxpay_local.timefmt import SHANGHAI, display_time
from wxpay_local.web import control
from wxpay_local.web.console.auth import Viewer
from wxpay_local.web.console.common import console_page, form, render
from wxpay_local.web.control_base import ControlError
from wxpay_local.web.pages.common import PageError, param

if TYPE_CHECKING:
    from wxpay_local.web.app import AsgiApp

PRESETS = (("+1 min", 60), ("+5 min", 300), ("+1 h", 3600), ("+1 day", 86400))
MIN_YEAR, MAX_YEAR = 2000, 2099
ACTIONS = ("advance", "set", "freeze", "unfreeze", "real")


def _duration(seconds: float) -> str:
    """A signed offset a person reads at once: ``+1d 02:03:04`` or ``0``."""
    whole = round(seconds)
    if whole == 0:
        return "0"
    sign, whole = ("-" if whole < 0 else "+"), abs(whole)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    return f"{sign}{f'{days}d ' if days else ''}{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"


def _view(app: AsgiApp) -> dict[str, Any]:
    now = app.clock.now().astimezone(SHANGHAI)
    real = datetime.now(SHANGHAI)  # the page compares with real time; domain code never does
    return {
        "now": display_time(now),
        "iso": now.isoformat(timespec="seconds"),
        "local_input": now.strftime("%Y-%m-%dT%H:%M:%S"),
        "offset": _duration((now - real).total_seconds()),
        "frozen": app.clock.frozen is not None,
        "moved": app.clock.frozen is not None or app.clock.offset != timedelta(0),
    }


async def clock_page(app: AsgiApp, request: Request, viewer: Viewer) -> Response:
    await app.shared.fresh()
    moved = param(request.query_params, "moved") == "1"
    return render(request, "clock.html", c=_view(app), presets=PRESETS, error="", moved=moved)


def _seconds(values: dict[str, str]) -> int:
    text = param(values, "seconds").strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 12:
        raise ControlError(400, "BAD_FIELD", "seconds is a whole number of seconds, 0 or more")
    return int(text)


def _moment(values: dict[str, str]) -> str:
    """An ISO date-time; one without an offset is Beijing time (what the page shows)."""
    text = param(values, "now").strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ControlError(400, "BAD_FIELD", f"{text[:40]!r} is not an ISO 8601 time") from None
    if not MIN_YEAR <= moment.year <= MAX_YEAR:
        # far dates would overflow datetime arithmetic in every later clock reading
        raise ControlError(400, "BAD_FIELD", f"the year is between {MIN_YEAR} and {MAX_YEAR}")
    return (moment if moment.tzinfo else moment.replace(tzinfo=SHANGHAI)).isoformat()


async def move(app: AsgiApp, request: Request, viewer: Viewer) -> Response:
    values = form(request)
    action = param(values, "action")
    if action not in ACTIONS:
        raise PageError(400, f"action is one of {', '.join(ACTIONS)}")
    await app.shared.fresh()
    try:
        if action == "advance":
            await control.invoke(app, request, control.advance_clock, {"seconds": _seconds(values)})
        elif action == "set":
            body = {"now": _moment(values), "freeze": param(values, "freeze") == "1"}
            await control.invoke(app, request, control.set_clock, body)
        elif action == "real":
            await control.invoke(app, request, control.set_clock, {"real": True})
        else:
            await control.invoke(app, request, control.set_clock, {"freeze": action == "freeze"})
    except ControlError as exc:
        view = _view(app)
        return render(
            request, "clock.html", 400, c=view, presets=PRESETS, error=exc.message, moved=False
        )
    return RedirectResponse("/console/clock?moved=1", 303)


def routes(app: AsgiApp) -> list[Route]:
    return [
        Route("/console/clock", console_page(app, clock_page), methods=["GET"]),
        Route("/console/clock", console_page(app, move), methods=["POST"]),
    ]
