"""The one implementation of ``domain.ports.Tx``, over SQL that SQLite and PostgreSQL share.

Statements are written with ``?`` placeholders and ``{lock}`` where a row lock is taken; each
dialect rewrites them once (cached). Merchants and app bindings, read on every request, are
cached per process (``IdentityCache``). Imports: domain, store.rows, stdlib.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any, Protocol

from wxpay_local.codes import SignType
from wxpay_local.domain.ledger import is_balanced
from wxpay_local.domain.model import (
    App,
    AuthCode,
    Card,
    DeliveryAttempt,
    LedgerTxn,
    Merchant,
    MerchantCert,
    Notification,
    Order,
    Payer,
)
from wxpay_local.store import rows
from wxpay_local.store.sql_bills import BillStatements
from wxpay_local.store.sql_console import ConsoleStatements
from wxpay_local.store.sql_faults import FaultStatements
from wxpay_local.store.sql_oauth import OAuthStatements
from wxpay_local.store.sql_payers import PayerStatements
from wxpay_local.store.sql_refunds import RefundStatements
from wxpay_local.timefmt import from_millis, to_millis

_ORDER_SELECT = "SELECT " + ", ".join(rows.ORDER_COLUMNS) + " FROM orders"
_ORDER_INSERT_COLUMNS = [c for c in rows.ORDER_COLUMNS if c != "id"]
_ORDER_ID_AT = rows.ORDER_COLUMNS.index("id")
_ORDER_BY: dict[tuple[str, bool], str] = {}
_ORDER_INSERT = (
    f"INSERT INTO orders ({', '.join(_ORDER_INSERT_COLUMNS)})"
    f" VALUES ({', '.join('?' for _ in _ORDER_INSERT_COLUMNS)})"
    " ON CONFLICT (merchant_id, out_trade_no) DO NOTHING RETURNING id"
)
_ORDER_UPDATE = (
    f"UPDATE orders SET {', '.join(f'{c} = ?' for c in _ORDER_INSERT_COLUMNS)} WHERE id = ?"
)
_JOURNAL_INSERT = (
    "INSERT INTO journal (at, method, path, endpoint, mch_id, request, response,"
    " return_code, result_code, err_code, message, explanation, duration_us)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_MERCHANT_BY_MCH_ID = f"SELECT {rows.MERCHANT_COLUMNS} FROM merchants WHERE mch_id = ? AND env = ?"


class Cursor(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ...) -> Any: ...
    def executemany(self, sql: str, params_seq: Any) -> Any: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


#: Statements that change what ``IdentityCache`` holds (merchant rows, app bindings).
_CHANGES_IDENTITY = re.compile(
    r"^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM|REPLACE\s+INTO)\s+(?:merchants|app_bindings)\b",
    re.IGNORECASE,
)


class Dialect:
    """How one database spells placeholders and row locks."""

    def __init__(self, placeholder: str, lock_clause: str, skip_locked: str) -> None:
        self.placeholder = placeholder
        self.lock_clause = lock_clause
        self.skip_locked = skip_locked
        self.sql = lru_cache(maxsize=256)(self._render)
        #: (the statement, whether it changes a merchant or an app binding), cached.
        self.plan = lru_cache(maxsize=512)(self._plan)

    def _render(self, template: str) -> str:
        text = template.replace("{lock}", self.lock_clause).replace("{skip}", self.skip_locked)
        return text.replace("?", self.placeholder) if self.placeholder != "?" else text

    def _plan(self, template: str) -> tuple[str, bool]:
        return self._render(template), _CHANGES_IDENTITY.match(template) is not None


SQLITE = Dialect("?", "", "")
POSTGRES = Dialect("%s", " FOR UPDATE", " FOR UPDATE SKIP LOCKED")


class IdentityCache:
    """Merchants by (mch_id, env) and app bindings (mch_id, appid), read on every merchant API
    request, kept per process for at most ``ttl`` seconds.

    Only what exists is cached (an unknown merchant or an unbound appid is always looked up), so
    a merchant or binding created anywhere is seen at once. A change made in this process
    (any statement on ``merchants`` or ``app_bindings``) empties the cache and turns it off
    until its transaction has ended, then empties it again, before the caller is answered. A
    change made by another process (another worker, the CLI) applies here within ``ttl``;
    a request signed with a key this process has not seen yet is checked again against the
    database (see ``api.pipeline``), so a new key works everywhere at once.
    """

    def __init__(self, ttl: float = 1.0) -> None:
        self.ttl = ttl
        self._merchants: dict[tuple[str, str], tuple[float, Merchant]] = {}
        self._bound: dict[tuple[str, str], float] = {}
        #: Bumped by every change: a lookup that began before one must not fill the cache.
        self._generation = 0
        #: Transactions that changed identity rows and have not ended yet (cache off).
        self._changing = 0
        self._lock = threading.Lock()

    def token(self) -> int | None:
        """Taken before a database lookup, handed to ``put_*`` after it; None: do not cache."""
        return None if self._changing else self._generation

    def merchant(self, key: tuple[str, str]) -> Merchant | None:
        if self._changing:
            return None
        hit = self._merchants.get(key)
        if hit is None:
            return None
        if hit[0] < time.monotonic():
            self._merchants.pop(key, None)
            return None
        return hit[1]

    def put_merchant(self, key: tuple[str, str], merchant: Merchant, token: int | None) -> None:
        with self._lock:
            if token is not None and token == self._generation and not self._changing:
                self._merchants[key] = (time.monotonic() + self.ttl, merchant)

    def bound(self, key: tuple[str, str]) -> bool:
        if self._changing:
            return False
        until = self._bound.get(key)
        if until is None:
            return False
        if until < time.monotonic():
            self._bound.pop(key, None)
            return False
        return True

    def put_bound(self, key: tuple[str, str], token: int | None) -> None:
        with self._lock:
            if token is not None and token == self._generation and not self._changing:
                self._bound[key] = time.monotonic() + self.ttl

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._merchants.clear()
            self._bound.clear()

    def change_begins(self) -> None:
        with self._lock:
            self._changing += 1
            self._generation += 1
            self._merchants.clear()
            self._bound.clear()

    def change_ends(self) -> None:
        with self._lock:
            self._changing -= 1
            self._generation += 1
            self._merchants.clear()
            self._bound.clear()


class Session:
    """One database transaction (shared by the requests of a group commit): whether it changed
    cached identity rows, so that the cache stays off until it has ended."""

    __slots__ = ("changed",)

    def __init__(self) -> None:
        self.changed = False

    def change(self, cache: IdentityCache) -> None:
        if not self.changed:
            self.changed = True
            cache.change_begins()

    def end(self, cache: IdentityCache) -> None:
        """Called once the transaction committed or rolled back."""
        if self.changed:
            self.changed = False
            cache.change_ends()


class SqlTx(
    RefundStatements,
    BillStatements,
    PayerStatements,
    OAuthStatements,
    ConsoleStatements,
    FaultStatements,
):
    """One open transaction on one connection."""

    def __init__(
        self,
        cursor: Cursor,
        dialect: Dialect,
        cache: IdentityCache | None = None,
        session: Session | None = None,
    ) -> None:
        self._cur = cursor
        self._dialect = dialect
        self._cache = cache
        self._session = session

    def _exec(self, template: str, params: Sequence[Any] = ()) -> Cursor:
        sql, changes_identity = self._dialect.plan(template)
        if changes_identity:
            self.changes_identity()
        self._cur.execute(sql, params)
        return self._cur

    def changes_identity(self) -> None:
        """This transaction changes merchants or app bindings: keep the cache out of it."""
        if self._cache is None:
            return
        if self._session is not None:
            self._session.change(self._cache)
        else:
            self._cache.clear()

    def _one(self, template: str, params: Sequence[Any] = ()) -> Any:
        return self._exec(template, params).fetchone()

    def _all(self, template: str, params: Sequence[Any] = ()) -> list[Any]:
        return self._exec(template, params).fetchall()

    # merchants and apps -------------------------------------------------------------------
    def merchant(self, mch_id: str, env: str) -> Merchant | None:
        cache = self._cache
        if cache is not None:
            hit = cache.merchant((mch_id, env))
            if hit is not None:
                return hit
        return self.merchant_uncached(mch_id, env)

    def merchant_uncached(self, mch_id: str, env: str) -> Merchant | None:
        """The merchant as the database has it now (and cached again)."""
        cache = self._cache
        token = None if cache is None else cache.token()
        row = self._one(_MERCHANT_BY_MCH_ID, (mch_id, env))
        if row is None:
            return None
        merchant = rows.merchant_from_row(row)
        if cache is not None:
            cache.put_merchant((mch_id, env), merchant, token)
        return merchant

    def merchant_by_id(self, merchant_id: int) -> Merchant:
        row = self._one(
            f"SELECT {rows.MERCHANT_COLUMNS} FROM merchants WHERE id = ?", (merchant_id,)
        )
        return rows.merchant_from_row(row)

    def merchants(self) -> list[Merchant]:
        found = self._all(f"SELECT {rows.MERCHANT_COLUMNS} FROM merchants ORDER BY id")
        return [rows.merchant_from_row(r) for r in found]

    def insert_merchant(
        self,
        mch_id: str,
        env: str,
        name: str,
        api_key: str,
        fee_rate_ppm: int,
        console_password: str,
    ) -> Merchant:
        row = self._one(
            "INSERT INTO merchants (mch_id, env, name, api_key, fee_rate_ppm, console_password,"
            f" created_at) VALUES (?, ?, ?, ?, ?, ?, 0) RETURNING {rows.MERCHANT_COLUMNS}",
            (mch_id, env, name, api_key, fee_rate_ppm, console_password),
        )
        return rows.merchant_from_row(row)

    def update_merchant_key(self, merchant_id: int, api_key: str) -> None:
        self._exec("UPDATE merchants SET api_key = ? WHERE id = ?", (api_key, merchant_id))

    def app(self, appid: str) -> App | None:
        row = self._one("SELECT appid, kind, secret, name FROM apps WHERE appid = ?", (appid,))
        return None if row is None else rows.app_from_row(row)

    def insert_app(self, app: App) -> None:
        self._exec(
            "INSERT INTO apps (appid, kind, secret, name) VALUES (?, ?, ?, ?)",
            (app.appid, str(app.kind), app.secret, app.name),
        )

    def bind_app(self, mch_id: str, appid: str) -> None:
        self._exec(
            "INSERT INTO app_bindings (mch_id, appid) VALUES (?, ?) ON CONFLICT DO NOTHING",
            (mch_id, appid),
        )

    def is_bound(self, mch_id: str, appid: str) -> bool:
        cache = self._cache
        if cache is not None and cache.bound((mch_id, appid)):
            return True
        token = None if cache is None else cache.token()
        found = self._one(
            "SELECT 1 FROM app_bindings WHERE mch_id = ? AND appid = ?", (mch_id, appid)
        )
        if found is None:
            return False
        if cache is not None:
            cache.put_bound((mch_id, appid), token)
        return True

    def apps_of(self, mch_id: str) -> list[App]:
        found = self._all(
            "SELECT a.appid, a.kind, a.secret, a.name FROM apps a JOIN app_bindings b"
            " ON a.appid = b.appid WHERE b.mch_id = ? ORDER BY a.kind, a.appid",
            (mch_id,),
        )
        return [rows.app_from_row(r) for r in found]

    # payers --------------------------------------------------------------------------------
    def insert_payer(self, name: str, pay_password: str) -> Payer:
        row = self._one(
            "INSERT INTO payers (name, pay_password, password_policy) VALUES (?, ?, 'platform')"
            " RETURNING id, name, pay_password, password_policy",
            (name, pay_password),
        )
        return rows.payer_from_row(row)

    def payer(self, payer_id: int) -> Payer | None:
        row = self._one(
            "SELECT id, name, pay_password, password_policy FROM payers WHERE id = ?", (payer_id,)
        )
        return None if row is None else rows.payer_from_row(row)

    def payers(self) -> list[Payer]:
        found = self._all("SELECT id, name, pay_password, password_policy FROM payers ORDER BY id")
        return [rows.payer_from_row(r) for r in found]

    def insert_openid(self, payer_id: int, appid: str, openid: str) -> None:
        self._exec(
            "INSERT INTO openids (openid, payer_id, appid) VALUES (?, ?, ?)",
            (openid, payer_id, appid),
        )

    def openid_of(self, payer_id: int, appid: str) -> str | None:
        row = self._one(
            "SELECT openid FROM openids WHERE payer_id = ? AND appid = ?", (payer_id, appid)
        )
        return None if row is None else str(row[0])

    def openids_of(self, payer_id: int) -> dict[str, str]:
        found = self._all("SELECT appid, openid FROM openids WHERE payer_id = ?", (payer_id,))
        return {appid: openid for appid, openid in found}

    def payer_by_openid(self, openid: str) -> tuple[Payer, str] | None:
        row = self._one(
            "SELECT p.id, p.name, p.pay_password, p.password_policy, o.appid FROM openids o"
            " JOIN payers p ON p.id = o.payer_id WHERE o.openid = ?",
            (openid,),
        )
        return None if row is None else (rows.payer_from_row(row[:4]), row[4])

    def insert_card(self, payer_id: int, bank_type: str, last4: str) -> Card:
        row = self._one(
            "INSERT INTO cards (payer_id, bank_type, last4) VALUES (?, ?, ?)"
            " RETURNING id, payer_id, bank_type, last4",
            (payer_id, bank_type, last4),
        )
        return rows.card_from_row(row)

    def cards_of(self, payer_id: int) -> list[Card]:
        found = self._all(
            "SELECT id, payer_id, bank_type, last4 FROM cards WHERE payer_id = ? ORDER BY id",
            (payer_id,),
        )
        return [rows.card_from_row(r) for r in found]

    # orders --------------------------------------------------------------------------------
    def _order(self, where: str, params: Sequence[Any], lock: bool) -> Order | None:
        template = _ORDER_BY.get((where, lock))
        if template is None:
            template = f"{_ORDER_SELECT} WHERE {where}" + ("{lock}" if lock else "")
            if len(_ORDER_BY) < 256:  # a handful of fixed conditions: each built once
                _ORDER_BY[(where, lock)] = template
        row = self._one(template, params)
        return None if row is None else rows.order_from_row(row)

    def order_by_out_trade_no(
        self, merchant_id: int, out_trade_no: str, *, lock: bool = False
    ) -> Order | None:
        return self._order(
            "merchant_id = ? AND out_trade_no = ?", (merchant_id, out_trade_no), lock
        )

    def order_by_transaction_id(
        self, merchant_id: int, transaction_id: str, *, lock: bool = False
    ) -> Order | None:
        return self._order(
            "transaction_id = ? AND merchant_id = ?", (transaction_id, merchant_id), lock
        )

    def order_by_prepay_id(self, prepay_id: str, *, lock: bool = False) -> Order | None:
        return self._order("prepay_id = ?", (prepay_id,), lock)

    def order_by_qr_code(self, qr_code: str, *, lock: bool = False) -> Order | None:
        return self._order("qr_code = ?", (qr_code,), lock)

    def insert_order(self, order: Order) -> Order | None:
        values = rows.order_params(order)
        del values[_ORDER_ID_AT]
        row = self._one(_ORDER_INSERT, values)
        return None if row is None else rows.order_with_id(order, row[0])

    def update_order(self, order: Order) -> None:
        values = rows.order_params(order)
        values.append(values.pop(_ORDER_ID_AT))
        self._exec(_ORDER_UPDATE, values)

    def order_by_id(self, order_id: int, *, lock: bool = False) -> Order | None:
        return self._order("id = ?", (order_id,), lock)

    def retire_handles(self, order: Order) -> None:
        for handle in (order.prepay_id, order.qr_code):
            if handle:
                self._exec(
                    "INSERT INTO stale_handles (handle, order_id) VALUES (?, ?)"
                    " ON CONFLICT (handle) DO NOTHING",
                    (handle, order.id),
                )

    def order_by_stale_handle(self, handle: str) -> Order | None:
        row = self._one("SELECT order_id FROM stale_handles WHERE handle = ?", (handle,))
        return None if row is None else self.order_by_id(row[0])

    def payer_micropay_order(self, payer_id: int, out_trade_no: str) -> Order | None:
        return self._order(
            "payer_id = ? AND out_trade_no = ? AND trade_type = 'MICROPAY'"
            " ORDER BY id DESC LIMIT 1",
            (payer_id, out_trade_no),
            False,
        )

    def orders_awaiting_password(self, payer_id: int) -> list[Order]:
        found = self._all(
            f"{_ORDER_SELECT} WHERE payer_id = ? AND trade_state = 'USERPAYING' ORDER BY id DESC",
            (payer_id,),
        )
        return [rows.order_from_row(r) for r in found]

    def password_free_payments_since(self, payer_id: int, since: datetime) -> int:
        row = self._one(
            "SELECT COUNT(*) FROM orders WHERE payer_id = ? AND trade_type = 'MICROPAY'"
            " AND password_free = 1 AND time_end >= ?",
            (payer_id, to_millis(since)),
        )
        return int(row[0])

    # payment codes -------------------------------------------------------------------------
    def insert_auth_code(self, code: AuthCode) -> bool:
        row = self._one(
            "INSERT INTO auth_codes (auth_code, payer_id, created_at, expires_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (auth_code) DO NOTHING RETURNING auth_code",
            (code.auth_code, code.payer_id, to_millis(code.created_at), to_millis(code.expires_at)),
        )
        return row is not None

    def auth_code(self, auth_code: str, *, lock: bool = False) -> AuthCode | None:
        row = self._one(
            "SELECT auth_code, payer_id, created_at, expires_at, used_at, order_id,"
            " reserved_mch_id FROM auth_codes WHERE auth_code = ?" + ("{lock}" if lock else ""),
            (auth_code,),
        )
        if row is None:
            return None
        return AuthCode(
            auth_code=row[0],
            payer_id=row[1],
            created_at=from_millis(row[2]),
            expires_at=from_millis(row[3]),
            used_at=rows.dt(row[4]),
            order_id=row[5],
            reserved_mch_id=row[6] or "",
        )

    def update_auth_code(self, code: AuthCode) -> None:
        self._exec(
            "UPDATE auth_codes SET used_at = ?, order_id = ?, reserved_mch_id = ?"
            " WHERE auth_code = ?",
            (rows.ms(code.used_at), code.order_id, code.reserved_mch_id or None, code.auth_code),
        )

    def orders(self, merchant_id: int | None, limit: int, offset: int) -> list[Order]:
        if merchant_id is None:
            found = self._all(f"{_ORDER_SELECT} ORDER BY id DESC LIMIT ? OFFSET ?", (limit, offset))
        else:
            found = self._all(
                f"{_ORDER_SELECT} WHERE merchant_id = ? ORDER BY id DESC LIMIT ? OFFSET ?",
                (merchant_id, limit, offset),
            )
        return [rows.order_from_row(r) for r in found]

    # the ledger ----------------------------------------------------------------------------
    def balance(self, account: str, *, lock: bool = False) -> int:
        row = self._one(
            "SELECT balance FROM accounts WHERE code = ?" + ("{lock}" if lock else ""), (account,)
        )
        return 0 if row is None else int(row[0])

    def balances(self, prefix: str = "") -> dict[str, int]:
        found = self._all(
            "SELECT code, balance FROM accounts WHERE code LIKE ? ORDER BY code", (prefix + "%",)
        )
        return {code: int(balance) for code, balance in found}

    def post(self, txn: LedgerTxn) -> None:
        if not is_balanced(txn) or txn.at is None:
            raise ValueError(f"unbalanced or undated ledger transaction {txn!r}")
        txn_id = self._one(
            "INSERT INTO ledger_txns (kind, ref, at, memo) VALUES (?, ?, ?, ?) RETURNING id",
            (txn.kind, txn.ref, to_millis(txn.at), txn.memo),
        )[0]
        for posting in txn.postings:
            after = self._one(
                "INSERT INTO accounts (code, balance) VALUES (?, ?) ON CONFLICT (code)"
                " DO UPDATE SET balance = accounts.balance + excluded.balance RETURNING balance",
                (posting.account, posting.amount),
            )[0]
            self._exec(
                "INSERT INTO postings (txn_id, account, amount, balance_after) VALUES (?, ?, ?, ?)",
                (txn_id, posting.account, posting.amount, after),
            )

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

    # reports and short URLs ----------------------------------------------------------------
    def insert_report(self, mch_id: str, at: datetime, interface_url: str, fields: str) -> None:
        self._exec(
            "INSERT INTO reports (mch_id, at, interface_url, fields) VALUES (?, ?, ?, ?)",
            (mch_id, to_millis(at), interface_url, fields),
        )

    def reports(self, mch_id: str, limit: int) -> list[dict[str, Any]]:
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

    # merchant certificates -----------------------------------------------------------------
    _CERT_COLUMNS = (
        "id, mch_id, serial, cert_pem, key_pem, not_before, not_after, created_at, revoked_at"
    )

    @staticmethod
    def _cert(row: Any) -> MerchantCert:
        return MerchantCert(
            id=row[0],
            mch_id=row[1],
            serial=row[2],
            cert_pem=row[3],
            key_pem=row[4],
            not_before=from_millis(row[5]),
            not_after=from_millis(row[6]),
            created_at=from_millis(row[7]),
            revoked_at=rows.dt(row[8]),
        )

    def insert_merchant_cert(self, cert: MerchantCert) -> MerchantCert:
        row = self._one(
            "INSERT INTO merchant_certs (mch_id, serial, cert_pem, key_pem, not_before,"
            f" not_after, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING {self._CERT_COLUMNS}",
            (
                cert.mch_id,
                cert.serial,
                cert.cert_pem,
                cert.key_pem,
                to_millis(cert.not_before),
                to_millis(cert.not_after),
                to_millis(cert.created_at),
            ),
        )
        return self._cert(row)

    def merchant_cert(self, serial: str) -> MerchantCert | None:
        row = self._one(
            f"SELECT {self._CERT_COLUMNS} FROM merchant_certs WHERE serial = ?", (serial,)
        )
        return None if row is None else self._cert(row)

    def merchant_certs(self, mch_id: str) -> list[MerchantCert]:
        found = self._all(
            f"SELECT {self._CERT_COLUMNS} FROM merchant_certs WHERE mch_id = ? ORDER BY id DESC",
            (mch_id,),
        )
        return [self._cert(r) for r in found]

    def revoke_merchant_certs(self, mch_id: str, at: datetime) -> None:
        self._exec(
            "UPDATE merchant_certs SET revoked_at = ? WHERE mch_id = ? AND revoked_at IS NULL",
            (to_millis(at), mch_id),
        )

    def set_password_policy(self, payer_id: int, policy: str) -> None:
        self._exec("UPDATE payers SET password_policy = ? WHERE id = ?", (policy, payer_id))

    # journal and settings ------------------------------------------------------------------
    def insert_journal(self, entries: Sequence[dict[str, Any]]) -> None:
        if not entries:
            return
        self._cur.executemany(
            self._dialect.sql(_JOURNAL_INSERT),
            [
                (
                    entry["at"],
                    entry["method"],
                    entry["path"],
                    entry["endpoint"],
                    entry["mch_id"],
                    entry["request"],
                    entry["response"],
                    entry["return_code"],
                    entry["result_code"],
                    entry["err_code"],
                    entry["message"],
                    "{}"
                    if entry["explanation"] == {}
                    else json.dumps(entry["explanation"], ensure_ascii=False),
                    entry["duration_us"],
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

    def put_setting(self, key: str, value: str) -> None:
        self._exec(
            "INSERT INTO settings (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )
