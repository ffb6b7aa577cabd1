"""The notification outbox: enqueue, claim under a lease, record attempts, requeue."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from wxpay_local.codes import SignType
from wxpay_local.domain.model import DeliveryAttempt, Notification
from wxpay_local.store import rows
from wxpay_local.store.base import Statements, _observers
from wxpay_local.timefmt import to_millis

#: The PostgreSQL channel a process NOTIFYs after committing work for the dispatchers (the
#: payload is the schema, as several schemas, namespaces and tests, share one database).
WAKE_CHANNEL = "wxpay_local_notifications"


class NotificationStatements(Statements):
    """One statement family of ``SqlTx``."""

    # the notification outbox ---------------------------------------------------------------
    def enqueue_notification(
        self,
        kind: str,
        merchant_id: int,
        order_id: int,
        url: str,
        fields: dict[str, str | int],
        sign_type: SignType,
        at: datetime,
    ) -> int:
        row = self._one(
            "INSERT INTO notifications (kind, merchant_id, order_id, url, fields, sign_type,"
            " status, attempts, created_at, next_attempt_at) VALUES"
            " (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?) RETURNING id",
            (
                kind,
                merchant_id,
                order_id,
                url,
                json.dumps(fields, ensure_ascii=False),
                str(sign_type),
                to_millis(at),
                to_millis(at),
            ),
        )
        return int(row[0])

    def claim_due_notifications(
        self, due_by: datetime, wall_now: datetime, lease_until: datetime, limit: int
    ) -> list[Notification]:
        """Take up to ``limit`` notifications due by the platform clock, until ``lease_until``.

        One statement: other workers skip rows already locked (PostgreSQL) and rows under a
        live lease; leases run on wall time so that a frozen test clock cannot strand a crashed
        worker's claim. On SQLite ``{skip}`` is empty (one writer at a time).
        """
        found = self._all(
            "UPDATE notifications SET lease_until = ? WHERE id IN (SELECT id FROM notifications"
            " WHERE status = 'pending' AND next_attempt_at <= ?"
            " AND (lease_until IS NULL OR lease_until < ?)"
            " ORDER BY next_attempt_at LIMIT ?{skip})"
            f" RETURNING {rows.NOTIFICATION_COLUMNS}",
            (to_millis(lease_until), to_millis(due_by), to_millis(wall_now), limit),
        )
        claimed = [rows.notification_from_row(row) for row in found]
        # RETURNING keeps no order: deliver the longest-waiting first
        claimed.sort(key=lambda n: (n.next_attempt_at or n.created_at, n.id))
        return claimed

    def record_attempts(
        self, attempts: list[tuple[DeliveryAttempt, str, datetime | None, datetime]]
    ) -> None:
        """Each (attempt, new status, next attempt's time, first attempt's time): two batched
        statements for a whole tick, not two round trips per delivery."""
        if not attempts:
            return
        self._exec_many(
            "INSERT INTO delivery_attempts (notification_id, number, at, ok, http_status,"
            " latency_ms, reason, excerpt) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    a.notification_id,
                    a.number,
                    to_millis(a.at),
                    int(a.ok),
                    a.http_status,
                    a.latency_ms,
                    a.reason,
                    a.excerpt,
                )
                for a, _, _, _ in attempts
            ],
        )
        self._exec_many(
            "UPDATE notifications SET status = ?, attempts = attempts + 1, next_attempt_at = ?,"
            " first_attempt_at = COALESCE(first_attempt_at, ?), lease_until = NULL,"
            " delivered_at = CASE WHEN ? = 1 THEN ? ELSE delivered_at END WHERE id = ?",
            [
                (
                    status,
                    rows.ms(following),
                    to_millis(first),
                    int(a.ok),
                    to_millis(a.at),
                    a.notification_id,
                )
                for a, status, following, first in attempts
            ],
        )

    def _exec_many(self, template: str, params: list[tuple[object, ...]]) -> None:
        """One statement over many rows (psycopg pipelines them into one round trip)."""
        sql, _ = self._dialect.plan(template)
        for observe in _observers:
            observe(sql)
        self._cur.executemany(sql, params)

    def notification(self, notification_id: int) -> Notification | None:
        row = self._one(
            f"SELECT {rows.NOTIFICATION_COLUMNS} FROM notifications WHERE id = ?",
            (notification_id,),
        )
        return None if row is None else rows.notification_from_row(row)

    def notifications(
        self, merchant_id: int | None = None, order_id: int | None = None, limit: int = 100
    ) -> list[Notification]:
        conditions: list[str] = []
        params: list[Any] = []
        if merchant_id is not None:
            conditions.append("merchant_id = ?")
            params.append(merchant_id)
        if order_id is not None:
            conditions.append("order_id = ?")
            params.append(order_id)
        where = (" WHERE " + " AND ".join(conditions)) if conditions else ""
        found = self._all(
            f"SELECT {rows.NOTIFICATION_COLUMNS} FROM notifications{where}"
            " ORDER BY id DESC LIMIT ?",
            [*params, limit],
        )
        return [rows.notification_from_row(r) for r in found]

    def attempts(self, notification_id: int) -> list[DeliveryAttempt]:
        found = self._all(
            "SELECT notification_id, number, at, ok, http_status, latency_ms, reason, excerpt"
            " FROM delivery_attempts WHERE notification_id = ? ORDER BY number",
            (notification_id,),
        )
        return [rows.attempt_from_row(r) for r in found]

    def requeue_notification(self, notification_id: int, at: datetime) -> None:
        self._exec(
            "UPDATE notifications SET status = 'pending', next_attempt_at = ?, lease_until = NULL"
            " WHERE id = ?",
            (to_millis(at), notification_id),
        )
