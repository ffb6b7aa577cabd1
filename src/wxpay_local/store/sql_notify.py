"""The notification outbox: enqueue, claim under a lease, record attempts, requeue."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from wxpay_local.codes import SignType
from wxpay_local.domain.model import DeliveryAttempt, Notification
from wxpay_local.store import rows
from wxpay_local.store.base import Statements
from wxpay_local.timefmt import to_millis


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

        Other workers skip rows already locked (PostgreSQL) and rows under a live lease; leases
        run on wall time so that a frozen test clock cannot strand a crashed worker's claim.
        """
        found = self._all(
            "SELECT id FROM notifications WHERE status = 'pending' AND next_attempt_at <= ?"
            " AND (lease_until IS NULL OR lease_until < ?) ORDER BY next_attempt_at LIMIT ?{skip}",
            (to_millis(due_by), to_millis(wall_now), limit),
        )
        claimed: list[Notification] = []
        for (notification_id,) in found:
            row = self._one(
                f"UPDATE notifications SET lease_until = ? WHERE id = ?"
                f" RETURNING {rows.NOTIFICATION_COLUMNS}",
                (to_millis(lease_until), notification_id),
            )
            claimed.append(rows.notification_from_row(row))
        return claimed

    def record_attempt(
        self,
        attempt: DeliveryAttempt,
        status: str,
        next_attempt_at: datetime | None,
        first_attempt_at: datetime,
    ) -> None:
        self._exec(
            "INSERT INTO delivery_attempts (notification_id, number, at, ok, http_status,"
            " latency_ms, reason, excerpt) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                attempt.notification_id,
                attempt.number,
                to_millis(attempt.at),
                int(attempt.ok),
                attempt.http_status,
                attempt.latency_ms,
                attempt.reason,
                attempt.excerpt,
            ),
        )
        self._exec(
            "UPDATE notifications SET status = ?, attempts = attempts + 1, next_attempt_at = ?,"
            " first_attempt_at = COALESCE(first_attempt_at, ?), lease_until = NULL,"
            " delivered_at = CASE WHEN ? = 1 THEN ? ELSE delivered_at END WHERE id = ?",
            (
                status,
                rows.ms(next_attempt_at),
                to_millis(first_attempt_at),
                int(attempt.ok),
                to_millis(attempt.at),
                attempt.notification_id,
            ),
        )

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
