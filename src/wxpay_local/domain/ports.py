"""What the domain needs from storage: one transaction at a time, typed reads and writes.

One narrow port per use-case family (``Merchants``, ``Payers``, ``Orders``, ``Refunds``,
``Notifications``, ``Bills``, ``AdminQueries``); a use case declares the ports it touches (or one
of the named sums at the end), and ``Tx``, their sum, is what a request's transaction offers.
Every use case runs inside one transaction; the store commits it whole or not at all. ``lock=True``
reads take the row for the rest of the transaction (``FOR UPDATE`` on PostgreSQL; SQLite's write
transactions are serialised already).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

from wxpay_local.codes import SignType
from wxpay_local.domain.bills import BillReads
from wxpay_local.domain.faults import FaultRule
from wxpay_local.domain.fundflow import FundReads
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
    Refund,
)
from wxpay_local.domain.oauth_grants import Grant
from wxpay_local.domain.payers import PaymentKey, PaymentLine, WalletMovement

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Keyset:
    """One page of a newest-first console list, by position rather than by OFFSET.

    ``after``: rows older than this (created_at epoch ms, id); ``before``: newer ones (the
    previous page). ``since``/``until``: a created_at range in epoch ms (until excluded).
    Lists ordered by id alone read only the id of the cursor.
    """

    limit: int
    after: tuple[int, int] | None = None
    before: tuple[int, int] | None = None
    since: int | None = None
    until: int | None = None


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One journaled call as it is written: the merchant API's requests and the platform's
    own calls to merchants (the Native scan callback). ``at`` is epoch ms."""

    at: int
    method: str
    path: str
    endpoint: str
    mch_id: str
    request: str
    response: str
    return_code: str
    result_code: str
    err_code: str
    message: str
    explanation: Mapping[str, object]
    duration_us: int


@dataclass(frozen=True, slots=True)
class PayerProfile:
    """A payer as the admin lists show it: wallet balance (fen), openids by appid, cards."""

    payer: Payer
    balance: int
    openids: dict[str, str]
    cards: list[Card]


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One posting with its ledger transaction, as the console's order page shows it."""

    txn_id: int
    kind: str
    ref: str
    at: datetime
    account: str
    amount: int


class Merchants(Protocol):
    """Merchants, their apps, API certificates and settings: read on every merchant API request."""

    def merchant(self, mch_id: str, env: str) -> Merchant | None:
        """The merchant, possibly from the per-process cache (``store.identity``)."""
        ...

    def merchant_uncached(self, mch_id: str, env: str) -> Merchant | None:
        """The merchant as the database has it now."""
        ...

    def merchant_by_id(self, merchant_id: int) -> Merchant: ...
    def merchants(self) -> list[Merchant]: ...
    def insert_merchant(
        self,
        mch_id: str,
        env: str,
        name: str,
        api_key: str,
        fee_rate_ppm: int,
        console_password: str,
    ) -> Merchant: ...
    def update_merchant_key(self, merchant_id: int, api_key: str) -> None: ...
    def app(self, appid: str) -> App | None: ...
    def insert_app(self, app: App) -> None: ...
    def bind_app(self, mch_id: str, appid: str) -> None: ...
    def is_bound(self, mch_id: str, appid: str) -> bool: ...
    def apps_of(self, mch_id: str) -> list[App]: ...

    def insert_merchant_cert(self, cert: MerchantCert) -> MerchantCert: ...
    def merchant_cert(self, serial: str) -> MerchantCert | None: ...
    def merchant_certs(self, mch_id: str) -> list[MerchantCert]: ...
    def revoke_merchant_certs(self, mch_id: str, at: datetime) -> None: ...

    def mch_ids_of_app(self, appid: str) -> list[str]: ...

    # settings: each merchant's configuration (``domain.merchant_config``) and the platform's
    def get_setting(self, key: str) -> str | None: ...
    def put_setting(self, key: str, value: str) -> None: ...


class Payers(Protocol):
    """Payers, their openids, cards, payment codes, OAuth grants and their own history."""

    def insert_payer(self, name: str, pay_password: str) -> Payer: ...
    def payer(self, payer_id: int) -> Payer | None: ...
    def payers(self, limit: int, after_id: int | None = None) -> list[Payer]: ...
    def merchant_page(
        self, env: str, limit: int, after_id: int | None = None
    ) -> list[Merchant]: ...
    def apps_of_merchants(self, mch_ids: Sequence[str]) -> dict[str, list[App]]: ...
    def payer_profiles(self, payers: Sequence[Payer]) -> list[PayerProfile]: ...
    def insert_openid(self, payer_id: int, appid: str, openid: str) -> None: ...
    def openid_of(self, payer_id: int, appid: str) -> str | None: ...
    def openids_of(self, payer_id: int) -> dict[str, str]: ...
    def payer_by_openid(self, openid: str) -> tuple[Payer, str] | None: ...
    def insert_card(self, payer_id: int, bank_type: str, last4: str) -> Card: ...
    def cards_of(self, payer_id: int) -> list[Card]: ...

    def set_password_policy(self, payer_id: int, policy: str) -> None: ...

    def insert_auth_code(self, code: AuthCode) -> bool:
        """False when the code already exists."""
        ...

    def auth_code(self, auth_code: str, *, lock: bool = False) -> AuthCode | None: ...
    def update_auth_code(self, code: AuthCode) -> None: ...

    def payer_payments(
        self, payer_id: int, before: PaymentKey | None, limit: int
    ) -> list[PaymentLine]:
        """The payer's paid orders, newest ``time_end`` first, older than ``before``."""
        ...

    def refunds_of_orders(self, order_ids: Sequence[int]) -> list[Refund]: ...
    def wallet_movements(
        self, payer_id: int, before_id: int | None, limit: int
    ) -> list[WalletMovement]: ...
    def set_pay_password(self, payer_id: int, password: str) -> None: ...

    def insert_oauth_grant(self, grant: Grant) -> None: ...
    def oauth_grant(self, token: str, *, lock: bool = False) -> Grant | None: ...
    def update_oauth_grant(self, grant: Grant) -> None:
        """Saves ``expires_at``, ``used_at`` and ``pair`` (the rest never changes)."""
        ...


class Orders(Protocol):
    """Orders and the ledger their payments post to."""

    def order_by_out_trade_no(
        self, merchant_id: int, out_trade_no: str, *, lock: bool = False
    ) -> Order | None: ...
    def order_by_transaction_id(
        self, merchant_id: int, transaction_id: str, *, lock: bool = False
    ) -> Order | None: ...
    def order_by_prepay_id(self, prepay_id: str, *, lock: bool = False) -> Order | None: ...
    def order_by_qr_code(self, qr_code: str, *, lock: bool = False) -> Order | None: ...
    def insert_order(self, order: Order) -> Order | None:
        """The order with its id, or None when (merchant, out_trade_no) already exists."""
        ...

    def update_order(self, order: Order) -> None: ...
    def order_by_id(self, order_id: int, *, lock: bool = False) -> Order | None: ...
    def retire_handles(self, order: Order) -> None:
        """Remember the order's prepay_id and code as replaced (they read as expired)."""
        ...

    def order_by_stale_handle(self, handle: str) -> Order | None: ...
    def orders_awaiting_password(self, payer_id: int) -> list[Order]: ...
    def payer_micropay_order(self, payer_id: int, out_trade_no: str) -> Order | None: ...
    def password_free_payments_since(self, payer_id: int, since: datetime) -> int: ...

    def balance(self, account: str, *, lock: bool = False) -> int: ...
    def balances(self, prefix: str = "") -> dict[str, int]: ...
    def post(self, txn: LedgerTxn) -> None: ...


class Refunds(Protocol):
    """Refunds of orders."""

    def insert_refund(self, refund: Refund) -> Refund: ...
    def update_refund(self, refund: Refund) -> None: ...
    def refund_by_out_refund_no(self, merchant_id: int, out_refund_no: str) -> Refund | None: ...
    def refund_by_refund_id(self, merchant_id: int, refund_id: str) -> Refund | None: ...
    def refund_by_any_id(self, refund_id: str) -> Refund | None: ...
    def refunds_of(self, order_id: int) -> list[Refund]: ...
    def due_refunds(self, now: datetime, limit: int) -> list[Refund]: ...
    def set_refund_notify_url(self, merchant_id: int, url: str) -> None: ...


class Notifications(Protocol):
    """The notification outbox: written in the payment's transaction, drained by dispatch."""

    def enqueue_notification(
        self,
        kind: str,
        merchant_id: int,
        order_id: int,
        url: str,
        fields: dict[str, str | int],
        sign_type: SignType,
        at: datetime,
    ) -> int: ...
    def claim_due_notifications(
        self, due_by: datetime, wall_now: datetime, lease_until: datetime, limit: int
    ) -> list[Notification]: ...
    def record_attempts(
        self, attempts: list[tuple[DeliveryAttempt, str, datetime | None, datetime]]
    ) -> None: ...
    def notification(self, notification_id: int) -> Notification | None: ...
    def notifications(
        self, merchant_id: int | None = None, order_id: int | None = None, limit: int = 100
    ) -> list[Notification]: ...
    def attempts(self, notification_id: int) -> list[DeliveryAttempt]: ...
    def requeue_notification(self, notification_id: int, at: datetime) -> None: ...


class Bills(BillReads, FundReads, Protocol):
    """Trade bills and fund flows, read in keyset batches (``store.sql_bills``)."""


class AdminQueries(Protocol):
    """What the control plane and the console read, and the tools endpoints keep."""

    def orders(
        self, merchant_id: int | None, limit: int, offset: int, before_id: int | None = None
    ) -> list[Order]: ...

    def console_orders(
        self, merchant_ids: Sequence[int], page: Keyset, trade_state: str, trade_type: str
    ) -> list[Order]: ...
    def console_order_search(self, merchant_ids: Sequence[int], text: str) -> list[Order]: ...
    def console_refunds(
        self, merchant_ids: Sequence[int], page: Keyset, refund_status: str, text: str = ""
    ) -> list[tuple[Refund, str, str]]: ...
    def console_notifications(
        self, merchant_id: int | None, page: Keyset, kind: str, status: str
    ) -> list[tuple[Notification, str, str]]: ...
    def attempts_of(self, notification_ids: Sequence[int]) -> dict[int, list[DeliveryAttempt]]: ...
    def ledger_entries(self, refs: Sequence[str], since: int, until: int) -> list[LedgerEntry]: ...

    def insert_report(self, mch_id: str, at: datetime, interface_url: str, fields: str) -> None: ...
    def reports(self, mch_id: str, limit: int) -> list[dict[str, object]]: ...
    def short_code_of(self, long_url: str) -> str | None: ...
    def long_url_of(self, code: str) -> str | None: ...
    def insert_short_url(self, code: str, long_url: str, mch_id: str, at: datetime) -> None: ...

    def insert_journal(self, entries: Sequence[JournalEntry]) -> None: ...
    def journal(
        self, mch_id: str | None, limit: int, before_id: int | None, only_failures: bool
    ) -> list[dict[str, object]]: ...


class Faults(Protocol):
    """Fault rules (``domain.faults``): kept in the database so every server process sees the
    same rules, and "fires N times" is counted once across processes."""

    def insert_fault_rule(self, rule: FaultRule) -> FaultRule: ...
    def fault_rules(self, namespace: str = "") -> list[FaultRule]: ...
    def fault_rule(self, rule_id: int) -> FaultRule | None: ...
    def delete_fault_rule(self, rule_id: int) -> bool: ...
    def delete_fault_rules(self, namespace: str = "") -> int: ...
    def count_fault_match(self, rule_id: int) -> int | None: ...
    def claim_fault_firing(self, rule_id: int) -> bool: ...


class Tx(Merchants, Payers, Orders, Refunds, Notifications, Bills, AdminQueries, Faults, Protocol):
    """One open transaction with every family: what a request's handlers are handed. A use case
    declares the narrow ports it uses; this is their sum, which the store provides."""


class MerchantPeek(Protocol):
    """This process's identity cache, read without a transaction: lets the API verify a
    signature before its write transaction opens (outside SQLite's cross-process commit lock).
    A hint only: the transaction looks the merchant up again and decides."""

    def cached_merchant(self, mch_id: str, env: str) -> Merchant | None:
        """The merchant if the cache holds it now (``store.identity``); never a query."""
        ...


class Store(MerchantPeek, Protocol):
    """A database: transactions, and a way to run blocking work from async code."""

    def begin(self, *, write: bool = True) -> AbstractContextManager[Tx]:
        """A ``Tx``, committed when the block ends, rolled back if it raises."""
        ...

    async def run(self, fn: Callable[[], T], *, write: bool = True) -> T: ...
    def reset(self) -> None: ...
    def close(self) -> None: ...


# What each family of use cases touches: the sums of the ports above they need ----------------
class OrderDesk(Orders, Payers, Merchants, Notifications, Protocol):
    """Placing, paying, closing and querying orders (``domain.orders``, ``.payer``,
    ``.micropay``): a payment posts to the ledger and writes its notification."""


class RefundDesk(Refunds, Orders, Payers, Merchants, Notifications, Protocol):
    """Refunds (``domain.refunds``): they read the order, pay back the payer's wallet or card
    and notify the merchant."""


class Onboarding(Merchants, Payers, Orders, Protocol):
    """Creating merchants, apps and payers, and funding wallets (``domain.setup``)."""
