"""The shapes of a Native mode-1 scan (the URL, its verified target, the scanned order) and how
it fails: ``ScanError`` and the platform-style texts the person sees.
"""

from __future__ import annotations

from dataclasses import dataclass

from wxpay_local.domain.model import Order

# What the person sees (platform-style; the real texts are not documented, docs/behaviour.md).
BAD_QR = "二维码无效，请联系商家"
BAD_SIGN = "二维码签名错误，请联系商家"
MERCHANT_ERROR = "商户参数错误，请联系商家"
NO_CALLBACK = "商户未配置扫码支付回调链接，请联系商家"
MERCHANT_BUSY = "商户系统繁忙，请稍后再试"
ORDER_PAID = "该订单已支付"
ORDER_CLOSED = "该订单已关闭"
ORDER_EXPIRED = "支付请求已失效，请重新发起支付"


class ScanError(Exception):
    """A scan that cannot go on: ``message`` for the person, ``reason`` for the developer."""

    def __init__(self, code: str, status: int, message: str, reason: str) -> None:
        super().__init__(reason)
        self.code, self.status, self.message, self.reason = code, status, message, reason

    def as_json(self) -> dict[str, str]:
        return {"error": self.code, "message": self.reason, "payer_message": self.message}


@dataclass(frozen=True, slots=True)
class Mode1Url:
    """The fields of a mode-1 URL, as decoded from its query (the values that were signed)."""

    fields: dict[str, str]

    @property
    def mch_id(self) -> str:
        return self.fields["mch_id"]

    @property
    def appid(self) -> str:
        return self.fields["appid"]

    @property
    def product_id(self) -> str:
        return self.fields["product_id"]


@dataclass(frozen=True, slots=True)
class Target:
    """A verified mode-1 URL with what the platform knows about its merchant."""

    url: Mode1Url
    merchant_name: str
    api_key: str
    callback_url: str


@dataclass(frozen=True, slots=True)
class Scanned:
    """A successful scan: the order the cashier shows (mode 1: the merchant just made it)."""

    mode: int
    order: Order
    merchant_name: str
