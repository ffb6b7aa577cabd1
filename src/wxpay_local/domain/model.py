"""The platform's records as frozen values. Field names are the wire names, verbatim."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from wxpay_local.codes import (
    AppKind,
    NotificationStatus,
    RefundStatus,
    SignType,
    TradeState,
    TradeType,
)

LIVE = "live"
SANDBOX = "sandbox"


@dataclass(frozen=True, slots=True)
class Merchant:
    id: int
    mch_id: str
    env: str  # LIVE or SANDBOX: the sandbox is a tenant of its own with its own key
    name: str
    api_key: str
    #: Fee rate in parts per million of the amount (0.6% = 6000).
    fee_rate_ppm: int
    console_password: str = ""
    #: Where refund notifications go when a refund request names no notify_url.
    refund_notify_url: str = ""


@dataclass(frozen=True, slots=True)
class App:
    appid: str
    kind: AppKind
    secret: str
    name: str


@dataclass(frozen=True, slots=True)
class Card:
    id: int
    payer_id: int
    bank_type: str  # e.g. CMB_CREDIT
    last4: str

    @property
    def is_credit(self) -> bool:
        return self.bank_type.endswith("_CREDIT")


@dataclass(frozen=True, slots=True)
class Payer:
    id: int
    name: str
    pay_password: str
    #: Whether micropay asks this payer for the password (see the micropay issue).
    password_policy: str = "platform"


@dataclass(frozen=True, slots=True)
class Order:
    """One order (unifiedorder or micropay) under one merchant tenant."""

    id: int
    merchant_id: int
    mch_id: str
    appid: str
    out_trade_no: str
    trade_type: TradeType
    trade_state: TradeState
    total_fee: int
    body: str
    spbill_create_ip: str
    sign_type: SignType
    created_at: datetime
    notify_url: str = ""
    device_info: str = ""
    detail: str = ""
    attach: str = ""
    fee_type: str = "CNY"
    time_start: datetime | None = None
    time_expire: datetime | None = None
    goods_tag: str = ""
    product_id: str = ""
    limit_pay: str = ""
    openid: str = ""  # the openid sent by the merchant (JSAPI)
    receipt: str = ""
    profit_sharing: str = ""
    scene_info: str = ""
    nonce_str: str = ""
    prepay_id: str = ""
    prepay_expires_at: datetime | None = None
    qr_code: str = ""
    transaction_id: str = ""
    payer_openid: str = ""
    payer_id: int | None = None
    bank_type: str = ""
    cash_fee: int = 0
    fee: int = 0
    is_subscribe: str = "N"
    time_end: datetime | None = None
    updated_at: datetime | None = None
    #: micropay: the payment code charged, and until when the payer may enter the password.
    auth_code: str = ""
    password_deadline: datetime | None = None
    password_free: bool = False
    #: The card the order was paid with (None: the wallet).
    card_id: int | None = None


@dataclass(frozen=True, slots=True)
class Refund:
    """One refund of a paid order: PROCESSING, then SUCCESS, CHANGE or REFUNDCLOSE."""

    id: int
    merchant_id: int
    order_id: int
    out_refund_no: str
    refund_id: str
    refund_fee: int
    #: The share of the order's fee given back to the merchant with this refund.
    fee_returned: int
    refund_fee_type: str
    refund_desc: str
    refund_account: str
    notify_url: str
    refund_status: RefundStatus
    refund_channel: str
    recv_account: str
    request_source: str
    sign_type: SignType
    created_at: datetime
    updated_at: datetime
    settle_at: datetime | None = None
    success_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class AuthCode:
    """A payment code (付款码) shown in the payer's app: 18 digits, single use, short-lived."""

    auth_code: str
    payer_id: int
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    order_id: int | None = None
    #: Set by authcodetoopenid: only this merchant may charge the code afterwards.
    reserved_mch_id: str = ""


@dataclass(frozen=True, slots=True)
class MerchantCert:
    """An API client certificate issued to a merchant (CN = mch_id)."""

    id: int
    mch_id: str
    serial: str
    cert_pem: str
    key_pem: str
    not_before: datetime
    not_after: datetime
    created_at: datetime
    revoked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Notification:
    """One notification event in the outbox; every delivery attempt sends the same content."""

    id: int
    kind: str  # "payment" or "refund"
    merchant_id: int
    order_id: int
    url: str
    #: payment: the notification's fields; refund: appid, mch_id, nonce_str and req_info (the
    #: plaintext fields, encrypted when rendered).
    fields: dict[str, Any]
    sign_type: SignType
    status: NotificationStatus
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    first_attempt_at: datetime | None = None
    delivered_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    notification_id: int
    number: int
    at: datetime
    ok: bool
    http_status: int | None
    latency_ms: int
    reason: str
    excerpt: str = ""


@dataclass(frozen=True, slots=True)
class Posting:
    account: str
    amount: int  # fen; positive credits the account, negative debits it


@dataclass(frozen=True, slots=True)
class LedgerTxn:
    kind: str  # payment, topup, refund, reversal...
    ref: str  # transaction_id or similar
    postings: tuple[Posting, ...]
    memo: str = ""
    at: datetime | None = None
