"""Native mode 1 (spec §6.3): a static product QR, the merchant's scan callback, the cashier.

A mode-1 URL names a product, not an order. When a payer scans it the platform verifies the
URL's ``sign`` (§3 MD5 over its five fields), checks the appid is bound to the merchant and a
scan callback URL is configured, POSTs the callback XML with the payer's openid under that
appid, and expects a signed reply naming the ``prepay_id`` of a NATIVE order the merchant has
just created; the cashier then pays that order as in mode 2.

No store transaction is held while the merchant is called: the merchant calls unifiedorder
on this same platform from inside its callback, which on SQLite needs the write lock.
Every failure is a ``ScanError``: a platform-style message for the person, the exact reason
for the developer (shown in the page's details, logged, and journaled when the callback ran).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from wxpay_local.codes import SignType, TradeState, TradeType
from wxpay_local.domain import merchant_config, setup
from wxpay_local.domain.model import LIVE, Order
from wxpay_local.domain.orders import effective_state
from wxpay_local.domain.ports import JournalEntry, Tx
from wxpay_local.web.boundary import HIDDEN_SIGNATURE, reveals_secrets
from wxpay_local.web.pages.common import PageError, qr_code_of
from wxpay_local.web.pages.native_scan import (
    BAD_QR,
    BAD_SIGN,
    MERCHANT_BUSY,
    MERCHANT_ERROR,
    NO_CALLBACK,
    ORDER_CLOSED,
    ORDER_EXPIRED,
    ORDER_PAID,
    Mode1Url,
    ScanError,
    Scanned,
    Target,
)
from wxpay_local.wire import signing
from wxpay_local.wire.xml import NotUtf8, XmlError, decode, encode

if TYPE_CHECKING:
    from wxpay_local.web.app import AsgiApp

log = logging.getLogger("wxpay_local.pages.native")

SHORT_PREFIX = "weixin://wxpay/s/"
#: The signed fields of a mode-1 URL and their lengths (spec §6.3 table).
URL_FIELDS = {"appid": 32, "mch_id": 32, "product_id": 32, "time_stamp": 10, "nonce_str": 32}
#: Long enough for a merchant that calls unifiedorder before answering, short enough that a
#: person is not left looking at a spinner (the real client gives up after a few seconds).
CALLBACK_TIMEOUT = 5.0
MAX_REPLY_BYTES = 64 * 1024
JOURNAL_ENDPOINT = "native_scan_callback"


def expand(tx: Tx, code_url: str) -> str:
    """The long URL behind a /tools/shorturl link, or the code_url itself."""
    code_url = code_url.strip()
    if code_url.startswith(SHORT_PREFIX):
        long_url = tx.long_url_of(code_url.removeprefix(SHORT_PREFIX))
        if not long_url:
            raise ScanError("NO_SHORT_URL", 404, BAD_QR, f"no short URL {code_url}")
        return long_url
    return code_url


def parse(code_url: str) -> Mode1Url | None:
    """The mode-1 fields of a ``weixin://wxpay/bizpayurl`` URL without ``pr``; None otherwise
    (a mode-2 code_url, or something else the mode-2 reader explains)."""
    parts = urlsplit(code_url.strip())
    if parts.scheme != "weixin" or parts.netloc != "wxpay" or parts.path != "/bizpayurl":
        return None
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    names = [name for name, _ in pairs]
    if "pr" in names:
        return None
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise ScanError("BAD_URL", 400, BAD_QR, f"the URL repeats {', '.join(twice)}")
    fields = dict(pairs)
    missing = [n for n in (*URL_FIELDS, "sign") if not fields.get(n)]
    if missing:
        raise ScanError(
            "BAD_URL",
            400,
            BAD_QR,
            "a mode-1 URL needs sign, appid, mch_id, product_id, time_stamp and nonce_str;"
            f" missing or empty: {', '.join(missing)}",
        )
    for name, limit in (*URL_FIELDS.items(), ("sign", 64)):
        if len(fields[name]) > limit:
            raise ScanError("BAD_URL", 400, BAD_QR, f"{name} is longer than {limit} characters")
    return Mode1Url({name: fields[name] for name in (*URL_FIELDS, "sign")})


def check_url(tx: Tx, url: Mode1Url) -> Target:
    """Verify the URL as the platform does: merchant, sign, bound appid, callback configured."""
    merchant = tx.merchant(url.mch_id, LIVE)
    if merchant is None:
        raise ScanError("NO_MERCHANT", 404, MERCHANT_ERROR, f"no merchant {url.mch_id}")
    if not signing.verify(url.fields, merchant.api_key, SignType.MD5):
        why = signing.explain_mismatch(url.fields, merchant.api_key, SignType.MD5)
        hints = "".join(f"; {h}" for h in why.hints)
        detail = (
            f"the platform signed {why.signed_string!r} and got {why.expected}"
            if reveals_secrets()
            else HIDDEN_SIGNATURE
        )
        raise ScanError(
            "BAD_SIGN",
            400,
            BAD_SIGN,
            f"sign {why.received!r} does not match MD5 over the five URL fields: {detail}{hints}",
        )
    if not tx.is_bound(url.mch_id, url.appid):
        raise ScanError(
            "APPID_NOT_BOUND",
            400,
            MERCHANT_ERROR,
            f"appid {url.appid} is not bound to merchant {url.mch_id}",
        )
    config = merchant_config.load(tx, url.mch_id)
    if not config.native_callback_url:
        raise ScanError(
            "NO_CALLBACK_URL",
            400,
            NO_CALLBACK,
            f"merchant {url.mch_id} has no Native scan callback URL: set native_callback_url"
            f" with POST /_local/merchants/{url.mch_id}/config",
        )
    return Target(url, merchant.name, merchant.api_key, config.native_callback_url)


def callback_body(target: Target, openid: str, nonce: str) -> bytes:
    """The XML the platform POSTs to the scan callback (spec §6.3 step 3), signed MD5."""
    fields: dict[str, str | int] = {
        "appid": target.url.appid,
        "openid": openid,
        "mch_id": target.url.mch_id,
        "is_subscribe": "N",
        "nonce_str": nonce,
        "product_id": target.url.product_id,
    }
    fields["sign"] = signing.sign(fields, target.api_key, SignType.MD5)
    return encode(fields)


async def post_callback(url: str, body: bytes, timeout: float) -> tuple[int, bytes]:
    """POST the callback; the status and the (capped) reply, or why it could not be had."""
    try:
        async with (
            httpx.AsyncClient(timeout=timeout, trust_env=False) as client,
            client.stream(
                "POST", url, content=body, headers={"content-type": "text/xml; charset=utf-8"}
            ) as response,
        ):
            raw = b""
            async for chunk in response.aiter_bytes():
                raw += chunk
                if len(raw) > MAX_REPLY_BYTES:
                    raise ScanError(
                        "CALLBACK_NOT_XML",
                        424,
                        MERCHANT_BUSY,
                        f"the callback answered more than {MAX_REPLY_BYTES} bytes",
                    )
            return response.status_code, raw
    except httpx.TimeoutException:
        raise ScanError(
            "CALLBACK_TIMEOUT",
            424,
            MERCHANT_BUSY,
            f"the scan callback {url} did not answer within {timeout:g} s",
        ) from None
    except httpx.HTTPError as exc:
        raise ScanError(
            "CALLBACK_UNREACHABLE",
            424,
            MERCHANT_BUSY,
            f"the scan callback {url} could not be reached: {type(exc).__name__}: {exc}",
        ) from None


def check_reply(target: Target, status: int, raw: bytes) -> str:
    """The prepay_id of a correct callback reply (spec §6.3 step 4), or why it is not one."""
    url = target.callback_url
    if status != 200:
        raise ScanError(
            "CALLBACK_HTTP_STATUS", 424, MERCHANT_BUSY, f"the callback {url} answered HTTP {status}"
        )
    try:
        reply = decode(raw)
    except (XmlError, NotUtf8) as exc:
        raise ScanError(
            "CALLBACK_NOT_XML", 424, MERCHANT_BUSY, f"the callback reply is not v2 XML: {exc}"
        ) from None
    if reply.get("return_code") != "SUCCESS":
        said = reply.get("return_msg", "")
        raise ScanError(
            "CALLBACK_FAIL",
            424,
            reply.get("err_code_des") or said or MERCHANT_BUSY,
            f"the callback answered return_code={reply.get('return_code', '')!r}"
            f" return_msg={said!r}",
        )
    sign_type = SignType.HMAC_SHA256 if reply.get("sign_type") == "HMAC-SHA256" else SignType.MD5
    if not signing.verify(reply, target.api_key, sign_type):
        why = signing.explain_mismatch(reply, target.api_key, sign_type)
        hints = "".join(f"; {h}" for h in why.hints)
        raise ScanError(
            "CALLBACK_BAD_SIGN",
            424,
            MERCHANT_BUSY,
            f"the callback reply's sign {why.received!r} does not verify: expected"
            f" {why.expected} over {why.signed_string!r}{hints}",
        )
    if reply.get("result_code") != "SUCCESS":
        des = reply.get("err_code_des", "")
        raise ScanError(
            "CALLBACK_RESULT_FAIL",
            424,
            des or MERCHANT_BUSY,
            f"the merchant answered result_code={reply.get('result_code', '')!r}"
            f" err_code_des={des!r}",
        )
    for name in ("appid", "mch_id"):
        expected = getattr(target.url, name)
        if reply.get(name) != expected:
            raise ScanError(
                "CALLBACK_MISMATCH",
                424,
                MERCHANT_BUSY,
                f"the reply's {name} {reply.get(name, '')!r} is not the QR's {expected!r}",
            )
    prepay_id = reply.get("prepay_id", "")
    if not prepay_id:
        raise ScanError("CALLBACK_MISMATCH", 424, MERCHANT_BUSY, "the reply has no prepay_id")
    return prepay_id


def check_order(tx: Tx, app: AsgiApp, target: Target, prepay_id: str) -> Order:
    """The payable NATIVE order of that merchant behind the reply's prepay_id."""
    now = app.clock.now()
    found = tx.order_by_prepay_id(prepay_id)
    if found is None:
        stale = tx.order_by_stale_handle(prepay_id)
        if stale is not None and stale.mch_id == target.url.mch_id:
            raise ScanError(
                "ORDER_EXPIRED", 409, ORDER_EXPIRED, f"prepay_id {prepay_id} has expired"
            )
        raise ScanError(
            "UNKNOWN_PREPAY_ID", 424, MERCHANT_BUSY, f"no order has the prepay_id {prepay_id}"
        )
    if found.mch_id != target.url.mch_id or found.trade_type is not TradeType.NATIVE:
        raise ScanError(
            "UNKNOWN_PREPAY_ID",
            424,
            MERCHANT_BUSY,
            f"prepay_id {prepay_id} is a {found.trade_type} order of merchant {found.mch_id},"
            f" not a NATIVE order of {target.url.mch_id}",
        )
    order = effective_state(found, now)
    if order.trade_state in (TradeState.SUCCESS, TradeState.REFUND):
        raise ScanError("ORDER_PAID", 409, ORDER_PAID, f"order {order.out_trade_no} is paid")
    if order.trade_state is not TradeState.NOTPAY:
        raise ScanError(
            "ORDER_CLOSED", 409, ORDER_CLOSED, f"order {order.out_trade_no} is {order.trade_state}"
        )
    if order.prepay_expires_at is not None and now >= order.prepay_expires_at:
        raise ScanError("ORDER_EXPIRED", 409, ORDER_EXPIRED, f"prepay_id {prepay_id} has expired")
    return order


def describe(tx: Tx, code_url: str) -> Target | None:
    """For the QR page: the verified mode-1 target of a code_url, or None for mode 2."""
    url = parse(expand(tx, code_url))
    return None if url is None else check_url(tx, url)


async def scan(app: AsgiApp, payer_id: int, code_url: str) -> Scanned:
    """What a payer's scan of code_url leads to; mode 1 runs the merchant's scan callback."""

    def prepare() -> tuple[Target, str] | Scanned:
        with app.store.begin() as tx:
            if tx.payer(payer_id) is None:
                raise ScanError("NO_PAYER", 404, "用户不存在", f"no payer {payer_id}")
            long_url = expand(tx, code_url)
            url = parse(long_url)
            if url is None:
                return _mode2(app, tx, long_url)
            target = check_url(tx, url)
            return target, setup.openid_for(tx, app.ids, payer_id, url.appid)

    prepared = await app.store.run(prepare)
    if isinstance(prepared, Scanned):
        return prepared
    target, openid = prepared
    body = callback_body(target, openid, app.ids.nonce(32))
    started = time.perf_counter()
    status, raw = 0, b""
    try:
        status, raw = await post_callback(
            target.callback_url, body, min(CALLBACK_TIMEOUT, app.settings.notify_timeout_seconds)
        )
        prepay_id = check_reply(target, status, raw)

        def load() -> Order:
            with app.store.begin(write=False) as tx:
                return check_order(tx, app, target, prepay_id)

        order = await app.store.run(load, write=False)
    except ScanError as exc:
        _journal(app, target, body, raw, exc, started)
        raise
    _journal(app, target, body, raw, None, started)
    return Scanned(1, order, target.merchant_name)


def _mode2(app: AsgiApp, tx: Tx, long_url: str) -> Scanned:
    try:
        qr = qr_code_of(long_url)
    except PageError as exc:
        raise ScanError("BAD_URL", 400, BAD_QR, exc.message) from None
    found = tx.order_by_qr_code(qr)
    if found is None:
        if tx.order_by_stale_handle(qr) is not None:
            raise ScanError("ORDER_EXPIRED", 409, ORDER_EXPIRED, "this code_url has expired")
        raise ScanError("NO_ORDER", 404, BAD_QR, f"no order has the code_url {long_url}")
    order = effective_state(found, app.clock.now())
    return Scanned(2, order, tx.merchant_by_id(order.merchant_id).name)


def _journal(
    app: AsgiApp, target: Target, body: bytes, raw: bytes, error: ScanError | None, started: float
) -> None:
    """The callback in the request journal (platform → merchant), and failures in the log."""
    if error is not None:
        log.warning("Native mode 1 scan of %s failed: %s", target.url.mch_id, error.reason)
    reply: dict[str, Any] = {}
    try:
        reply = decode(raw) if raw else {}
    except (XmlError, NotUtf8):
        pass
    app.journal.record(
        JournalEntry(
            at=int(app.clock.now().timestamp() * 1000),
            method="POST",
            path=target.callback_url,
            endpoint=JOURNAL_ENDPOINT,
            mch_id=target.url.mch_id,
            request=body.decode("utf-8", "replace"),
            response=raw.decode("utf-8", "replace").replace("\x00", "\\x00"),
            return_code=str(reply.get("return_code", "")) if error is None else "FAIL",
            result_code=str(reply.get("result_code", "")) if error is None else "FAIL",
            err_code="" if error is None else error.code,
            message="" if error is None else error.reason,
            explanation={} if error is None else {"detail": error.reason},
            duration_us=int((time.perf_counter() - started) * 1_000_000),
        )
    )
