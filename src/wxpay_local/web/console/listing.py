"""What the console's lists share: reading filters and page cursors, the pager links, times.

A cursor is ``<created_at epoch ms>_<id>`` of the last (or first) row shown: plain, so a person
can read it, and checked strictly, so a forged one is a 400 page rather than a database error.
Dates are platform dates (Asia/Shanghai).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import QueryParams

from wxpay_local.domain.model import LIVE, Merchant
from wxpay_local.domain.ports import Keyset, Tx
from wxpay_local.timefmt import SHANGHAI, display_time
from wxpay_local.web.console.auth import Viewer
from wxpay_local.web.pages.common import PageError, param

PAGE_SIZE = 50
MAX_PAGE = 200
_CURSOR = re.compile(r"\A([0-9]{1,15})_([0-9]{1,15})\Z")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MCH_ID = re.compile(r"\A[0-9]{1,32}\Z")


def millis(moment: datetime) -> int:
    """Exact epoch milliseconds (integer arithmetic: the float route can be one ms short)."""
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def beijing(moment: datetime | None) -> str:
    return display_time(moment)


def choice(values: QueryParams, name: str, allowed: tuple[str, ...]) -> str:
    value = param(values, name).strip()
    if value and value not in allowed:
        raise PageError(400, f"{name} must be one of {', '.join(allowed)}", "筛选条件有误")
    return value


def _day(values: QueryParams, name: str) -> date | None:
    text = param(values, name).strip()
    if not text:
        return None
    try:
        day = date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        day = None
    if day is None or not 2000 <= day.year <= 2199:
        raise PageError(400, f"{name} must be a date like 2024-05-01", "筛选条件有误")
    return day


def _cursor(values: QueryParams, name: str) -> tuple[int, int] | None:
    text = param(values, name).strip()
    if not text:
        return None
    found = _CURSOR.match(text)
    if found is None:
        raise PageError(400, f"{name} is not a page position this console made", "翻页参数有误")
    return int(found.group(1)), int(found.group(2))


def keyset(values: QueryParams) -> Keyset:
    """The page asked for: cursor, date range (Beijing dates, ``to`` included), size."""
    since, until = _day(values, "from"), _day(values, "to")
    if since and until and since > until:
        raise PageError(400, "from must not be after to", "筛选条件有误")
    after, before = _cursor(values, "after"), _cursor(values, "before")
    if after and before:
        raise PageError(400, "a page has either after or before, not both", "翻页参数有误")
    limit_text = param(values, "limit").strip()
    if limit_text and not (limit_text.isascii() and limit_text.isdigit() and len(limit_text) < 4):
        raise PageError(400, f"limit must be a number from 1 to {MAX_PAGE}", "筛选条件有误")
    limit = int(limit_text) if limit_text else PAGE_SIZE
    if not 1 <= limit <= MAX_PAGE:
        raise PageError(400, f"limit must be a number from 1 to {MAX_PAGE}", "筛选条件有误")

    def start(day: date) -> int:
        return millis(datetime(day.year, day.month, day.day, tzinfo=SHANGHAI))

    return Keyset(
        limit=limit + 1,  # one more than shown: whether a further page exists
        after=after,
        before=before,
        since=None if since is None else start(since),
        until=None if until is None else start(until + timedelta(days=1)),
    )


def merchants_in_scope(tx: Tx, viewer: Viewer, values: QueryParams) -> list[Merchant]:
    """The live merchants a list covers: the merchant's own, or the operator's pick (or all)."""
    requested = param(values, "mch_id").strip() if viewer.is_operator else ""
    if requested and not _MCH_ID.match(requested):
        raise PageError(400, "mch_id must be digits", "筛选条件有误")
    wanted = viewer.scope(requested)
    if wanted is None:
        return [m for m in tx.merchants() if m.env == LIVE]
    merchant = tx.merchant(wanted, LIVE)
    return [] if merchant is None else [merchant]


@dataclass(frozen=True, slots=True)
class Pager:
    newer: str  # the previous page's URL, or ""
    older: str  # the next page's URL, or ""


def pager(
    path: str, values: QueryParams, page: Keyset, shown: list[Any], cursor_of: Any
) -> tuple[list[Any], Pager]:
    """Trim the extra row fetched and build the previous/next links from the rows shown."""
    going_back = page.before is not None
    more = len(shown) >= page.limit
    if more:
        shown = shown[1:] if going_back else shown[:-1]
    kept = {k: v for k, v in values.items() if k not in ("after", "before", "resent", "wait")}
    has_newer = (page.after is not None) or (going_back and more)
    has_older = (not going_back and more) or going_back
    newer = older = ""
    if shown and has_newer:
        newer = path + "?" + urlencode({**kept, "before": cursor_of(shown[0])})
    if shown and has_older:
        older = path + "?" + urlencode({**kept, "after": cursor_of(shown[-1])})
    return shown, Pager(newer, older)


def filters_of(values: QueryParams, *names: str) -> dict[str, str]:
    return {name: param(values, name).strip() for name in names}
