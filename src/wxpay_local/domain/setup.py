"""Creating the platform's parties: merchants with their apps, payers with openids and cards."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from wxpay_local.codes import AppKind, ErrCode, Rejected
from wxpay_local.domain import keys, ledger
from wxpay_local.domain.clock import Clock
from wxpay_local.domain.ids import Ids
from wxpay_local.domain.model import LIVE, App, Card, Merchant, Payer
from wxpay_local.domain.ports import Onboarding

API_KEY_LENGTH = 32


@dataclass(frozen=True, slots=True)
class NewMerchant:
    name: str
    mch_id: str | None = None
    api_key: str | None = None
    fee_rate_ppm: int = ledger.DEFAULT_FEE_RATE_PPM
    console_password: str | None = None
    #: One app of each kind when None.
    app_kinds: tuple[AppKind, ...] | None = None
    appids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CreatedMerchant:
    merchant: Merchant
    apps: tuple[App, ...]


def create_merchant(tx: Onboarding, ids: Ids, spec: NewMerchant) -> CreatedMerchant:
    mch_id = spec.mch_id or ids.mch_id()
    if tx.merchant(mch_id, LIVE) is not None:
        raise Rejected(ErrCode.PARAM_ERROR, f"merchant {mch_id} already exists")
    api_key = spec.api_key or ids.api_key()
    if len(api_key) != API_KEY_LENGTH:
        raise Rejected(ErrCode.PARAM_ERROR, "the API key must be exactly 32 characters")
    if not 0 <= spec.fee_rate_ppm <= 1_000_000:
        raise Rejected(ErrCode.PARAM_ERROR, "fee_rate_ppm must be between 0 and 1000000")
    merchant = tx.insert_merchant(
        mch_id,
        LIVE,
        spec.name,
        api_key,
        spec.fee_rate_ppm,
        spec.console_password or ids.password(8),
    )
    kinds = spec.app_kinds if spec.app_kinds is not None else tuple(AppKind)
    apps: list[App] = []
    for index, kind in enumerate(kinds):
        appid = spec.appids[index] if index < len(spec.appids) else ids.appid()
        app = tx.app(appid)
        if app is None:
            app = App(appid, kind, ids.app_secret(), f"{spec.name} {kind.replace('_', ' ')}")
            tx.insert_app(app)
        tx.bind_app(mch_id, appid)
        apps.append(app)
    return CreatedMerchant(merchant, tuple(apps))


@dataclass(frozen=True, slots=True)
class NewPayer:
    name: str
    balance: int = 0
    pay_password: str = "123456"
    cards: tuple[str, ...] = ()  # bank_type of each card, e.g. "CMB_CREDIT"


@dataclass(frozen=True, slots=True)
class CreatedPayer:
    payer: Payer
    openids: dict[str, str]
    cards: tuple[Card, ...]


def create_payer(tx: Onboarding, clock: Clock, ids: Ids, spec: NewPayer) -> CreatedPayer:
    """A WeChat user: an openid under every known appid, a funded wallet, optional cards."""
    if spec.balance < 0:
        raise Rejected(ErrCode.PARAM_ERROR, "balance must not be negative")
    if not (spec.pay_password.isdigit() and len(spec.pay_password) == 6):
        raise Rejected(ErrCode.PARAM_ERROR, "the payment password is six digits")
    payer = tx.insert_payer(spec.name, spec.pay_password)
    openids: dict[str, str] = {}
    for merchant in tx.merchants():
        for app in tx.apps_of(merchant.mch_id):
            if app.appid not in openids:
                openids[app.appid] = ids.openid()
                tx.insert_openid(payer.id, app.appid, openids[app.appid])
    if spec.balance:
        tx.post(ledger.topup(f"topup-{payer.id}", payer.id, spec.balance, clock.now()))
    cards = tuple(tx.insert_card(payer.id, bank_type, ids.password(4)) for bank_type in spec.cards)
    return CreatedPayer(payer, openids, cards)


def openid_for(tx: Onboarding, ids: Ids, payer_id: int, appid: str) -> str:
    """The payer's openid under appid, issued on first use as WeChat does."""
    openid = tx.openid_of(payer_id, appid)
    if openid is None:
        openid = ids.openid()
        tx.insert_openid(payer_id, appid, openid)
    return openid


def top_up(tx: Onboarding, clock: Clock, payer_id: int, amount: int, ref: str) -> int:
    if amount <= 0:
        raise Rejected(ErrCode.PARAM_ERROR, "amount must be positive")
    tx.post(ledger.topup(ref, payer_id, amount, clock.now()))
    return tx.balance(ledger.wallet(payer_id))


def rotate_api_key(tx: Onboarding, ids: Ids, mch_id: str, now: datetime | None = None) -> Merchant:
    """Give a merchant a new 32-character API key; the old one is refused from this commit on.

    Changing the merchant row also empties the store's identity cache (every statement on
    ``merchants`` does), so no request in this process verifies against the old key; other
    processes re-read the key when a signature fails (see ``api.pipeline``). The sandbox key
    is a separate tenant's and is left alone, as getsignkey keeps it. The old key is kept
    (``domain.keys``, when ``now`` is given) so a request still signed with it is named so.
    """
    merchant = tx.merchant(mch_id, LIVE)
    if merchant is None:
        raise Rejected(ErrCode.PARAM_ERROR, f"no merchant {mch_id}")
    api_key = ids.api_key()
    while api_key == merchant.api_key:  # a seeded Ids could repeat itself; never keep the key
        api_key = ids.api_key()
    if now is not None:
        keys.retire(tx, merchant, now)
    tx.update_merchant_key(merchant.id, api_key)
    return replace(merchant, api_key=api_key)
