"""wxpay_sdk: a typed merchant SDK for the WeChat Pay API v2 (the XML merchant API).

    from wxpay_sdk import Client
    client = Client(mch_id="1900000109", api_key="…", appid="wx…")   # the real platform
    client = Client(..., base_url="http://127.0.0.1:8700")             # wxpay-local

``Client`` (httpx, blocking) and ``AsyncClient`` (asyncio) drive one sans-IO core
(``core.prepare`` / ``core.interpret``). Errors: ``errors``. Notifications: ``notify``. Bills:
``bills``. Payer-side parameters: ``params``. The micropay best practice:
``Client.micropay_best_practice``. Failover: ``backup_url=hosts.BACKUP``.
"""

from __future__ import annotations

from wxpay_sdk import bills, notify, params
from wxpay_sdk.aio import AsyncClient
from wxpay_sdk.client import Client
from wxpay_sdk.errors import (
    ProtocolError,
    ResultError,
    ReturnError,
    SignatureError,
    TransportError,
    WxPayError,
)
from wxpay_sdk.hosts import BACKUP, PRIMARY
from wxpay_sdk.micropay import Outcome, Timings
from wxpay_sdk.models import refunds_of
from wxpay_sdk.wire import HMAC_SHA256, MD5

__version__ = "0.1.0"

__all__ = [
    "BACKUP",
    "HMAC_SHA256",
    "MD5",
    "PRIMARY",
    "AsyncClient",
    "Client",
    "Outcome",
    "ProtocolError",
    "ResultError",
    "ReturnError",
    "SignatureError",
    "Timings",
    "TransportError",
    "WxPayError",
    "bills",
    "notify",
    "params",
    "refunds_of",
]
