"""The request journal in the console: every merchant API call, and for a failure why.

The list reads the store's journal newest first with an id cursor (``before_id``); the endpoint
filter is applied here over bounded batches, so a page never scans more than ``SCAN_LIMIT``
entries. A merchant sees only entries carrying its own mch_id (calls whose mch_id could not
be read belong to nobody but the operator).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from wxpay_local.timefmt import SHANGHAI, from_millis
from wxpay_local.web.console.auth import Viewer
from wxpay_local.web.console.choose import requested_mch_id
from wxpay_local.web.console.common import console_page, render
from wxpay_local.web.pages.common import PageError, int_param, param

if TYPE_CHECKING:
    from wxpay_local.web.app import AsgiApp

PAGE_SIZE = 50
BATCH = 200
#: An endpoint filter that matches rarely must not read the whole journal for one page.
SCAN_LIMIT = 5000
MAX_ID = 10**15


def _when(millis: int) -> str:
    return from_millis(millis).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def pretty_xml(text: str) -> str:
    """One element per line, children indented: the body as sent otherwise (no reparsing, so a
    malformed body is shown as it came, and CDATA stays CDATA)."""
    if not text.lstrip().startswith("<"):
        return text
    lines = re.sub(r">\s*<", ">\n<", text.strip()).split("\n")
    if len(lines) > 2 and lines[0].startswith("<xml") and lines[-1].startswith("</xml"):
        lines = [lines[0], *("  " + line for line in lines[1:-1]), lines[-1]]
    return "\n".join(lines)


def _failed(entry: dict[str, Any]) -> bool:
    return bool(entry["return_code"] != "SUCCESS" or entry["result_code"] not in ("SUCCESS", ""))


def _row(entry: dict[str, Any]) -> dict[str, Any]:
    return {**entry, "when": _when(entry["at"]), "failed": _failed(entry)}


async def journal_list(app: AsgiApp, request: Request, viewer: Viewer) -> Response:
    q = request.query_params
    failures = param(q, "failures") == "1"
    endpoint = param(q, "endpoint").strip()
    before = int_param(q, "before_id")
    scope = viewer.scope(requested_mch_id(q))
    await app.journal.flush()

    def work() -> tuple[list[dict[str, Any]], bool]:
        found: list[dict[str, Any]] = []
        cursor = None if before is None else min(before, MAX_ID)
        scanned = 0
        with app.store.begin(write=False) as tx:
            while len(found) <= PAGE_SIZE and scanned < SCAN_LIMIT:
                batch = tx.journal(scope, BATCH, cursor, failures)
                scanned += len(batch)
                found += [e for e in batch if not endpoint or e["endpoint"] == endpoint]
                if len(batch) < BATCH:
                    break
                cursor = batch[-1]["id"]
        return found, scanned >= SCAN_LIMIT

    found, clipped = await app.store.run(work, write=False)
    entries = [_row(e) for e in found[:PAGE_SIZE]]
    more = len(found) > PAGE_SIZE
    filters = {"failures": "1" if failures else "", "endpoint": endpoint, "mch_id": scope or ""}
    return render(
        request,
        "journal.html",
        entries=entries,
        filters=filters,
        endpoints=sorted(app.handlers),
        next_before=entries[-1]["id"] if (more or clipped) and entries else None,
        clipped=clipped,
        first_page=before is None,
    )


async def journal_entry(app: AsgiApp, request: Request, viewer: Viewer) -> Response:
    text = request.path_params["entry_id"]
    if not (text.isascii() and text.isdigit()) or len(text) > 15:
        raise PageError(404, f"no journal entry {text[:20]}", "找不到")
    entry_id = int(text)
    await app.journal.flush()

    def work() -> dict[str, Any] | None:
        with app.store.begin(write=False) as tx:
            found = tx.journal(None, 1, entry_id + 1, False)
        return found[0] if found and found[0]["id"] == entry_id else None

    entry = await app.store.run(work, write=False)
    if entry is None or not viewer.can_see(entry["mch_id"]):
        raise PageError(404, f"no journal entry {entry_id}", "找不到")
    explanation = entry["explanation"] if isinstance(entry["explanation"], dict) else {}
    signature = explanation.get("signature")
    return render(
        request,
        "journal_entry.html",
        e=_row(entry),
        request_xml=pretty_xml(entry["request"]),
        response_xml=pretty_xml(entry["response"]),
        signature=signature if isinstance(signature, dict) else None,
        detail=str(explanation.get("detail", "")),
        warning=str(explanation.get("warning", "")),
        signed_parts=_split_key(signature),
    )


def _split_key(signature: Any) -> tuple[str, str]:
    """The signed string and its ``&key=…`` tail (masked already), to set the key apart."""
    if not isinstance(signature, dict):
        return "", ""
    text = str(signature.get("signed_string", ""))
    head, sep, tail = text.rpartition("&key=")
    return (head, sep + tail) if sep else (text, "")


def routes(app: AsgiApp) -> list[Route]:
    return [
        Route("/console/journal", console_page(app, journal_list), methods=["GET"]),
        Route("/console/journal/{entry_id}", console_page(app, journal_entry), methods=["GET"]),
    ]
