"""Reports, short URLs, the request journal and platform settings."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from wxpay_local.domain.ports import JournalEntry
from wxpay_local.store.base import Statements
from wxpay_local.timefmt import from_millis, to_millis

_JOURNAL_INSERT = (
    "INSERT INTO journal (at, method, path, endpoint, mch_id, request, response,"
    " return_code, result_code, err_code, message, explanation, duration_us)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


class AdminStatements(Statements):
    """One statement family of ``SqlTx``."""

    # reports and short URLs ----------------------------------------------------------------
    def insert_report(self, mch_id: str, at: datetime, interface_url: str, fields: str) -> None:
        self._exec(
            "INSERT INTO reports (mch_id, at, interface_url, fields) VALUES (?, ?, ?, ?)",
            (mch_id, to_millis(at), interface_url, fields),
        )

    def reports(self, mch_id: str, limit: int) -> list[dict[str, object]]:
        found = self._all(
            "SELECT id, at, interface_url, fields FROM reports WHERE mch_id = ?"
            " ORDER BY id DESC LIMIT ?",
            (mch_id, limit),
        )
        return [
            {
                "id": r[0],
                "at": from_millis(r[1]).isoformat(),
                "interface_url": r[2],
                "fields": json.loads(r[3]),
            }
            for r in found
        ]

    def short_code_of(self, long_url: str) -> str | None:
        row = self._one("SELECT code FROM short_urls WHERE long_url = ?", (long_url,))
        return None if row is None else str(row[0])

    def long_url_of(self, code: str) -> str | None:
        row = self._one("SELECT long_url FROM short_urls WHERE code = ?", (code,))
        return None if row is None else str(row[0])

    def insert_short_url(self, code: str, long_url: str, mch_id: str, at: datetime) -> None:
        self._exec(
            "INSERT INTO short_urls (code, long_url, mch_id, created_at) VALUES (?, ?, ?, ?)",
            (code, long_url, mch_id, to_millis(at)),
        )

    # journal and settings ------------------------------------------------------------------
    def insert_journal(self, entries: Sequence[JournalEntry]) -> None:
        if not entries:
            return
        self._cur.executemany(
            self._dialect.sql(_JOURNAL_INSERT),
            [
                (
                    entry.at,
                    entry.method,
                    entry.path,
                    entry.endpoint,
                    entry.mch_id,
                    entry.request,
                    entry.response,
                    entry.return_code,
                    entry.result_code,
                    entry.err_code,
                    entry.message,
                    "{}"
                    if not entry.explanation
                    else json.dumps(entry.explanation, ensure_ascii=False),
                    entry.duration_us,
                )
                for entry in entries
            ],
        )

    def journal(
        self, mch_id: str | None, limit: int, before_id: int | None, only_failures: bool
    ) -> list[dict[str, Any]]:
        conditions: list[str] = []
        params: list[Any] = []
        if mch_id:
            conditions.append("mch_id = ?")
            params.append(mch_id)
        if before_id is not None:
            conditions.append("id < ?")
            params.append(before_id)
        if only_failures:
            conditions.append("(return_code <> 'SUCCESS' OR result_code <> 'SUCCESS')")
        where = (" WHERE " + " AND ".join(conditions)) if conditions else ""
        found = self._all(
            "SELECT id, at, method, path, endpoint, mch_id, request, response, return_code,"
            f" result_code, err_code, message, explanation, duration_us FROM journal{where}"
            " ORDER BY id DESC LIMIT ?",
            [*params, limit],
        )
        names = (
            "id",
            "at",
            "method",
            "path",
            "endpoint",
            "mch_id",
            "request",
            "response",
            "return_code",
            "result_code",
            "err_code",
            "message",
            "explanation",
            "duration_us",
        )
        entries = [dict(zip(names, r, strict=True)) for r in found]
        for entry in entries:
            entry["explanation"] = json.loads(entry["explanation"])
        return entries

    def get_setting(self, key: str) -> str | None:
        row = self._one("SELECT value FROM settings WHERE key = ?", (key,))
        return None if row is None else str(row[0])

    def get_settings(self, keys: tuple[str, ...]) -> dict[str, str]:
        """Several settings in one statement (the shared-state check runs it per request batch)."""
        marks = ", ".join("?" * len(keys))
        rows = self._all(f"SELECT key, value FROM settings WHERE key IN ({marks})", keys)
        return {str(k): str(v) for k, v in rows}

    def put_setting(self, key: str, value: str) -> None:
        self._exec(
            "INSERT INTO settings (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )
