"""Rendering a notification and judging the merchant's answer (refunds spec §4.3–§4.4)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from wxpay_local.dispatch.http_post import ConnectError, Poster, ReadError
from wxpay_local.domain.model import Notification
from wxpay_local.wire import crypto, signing
from wxpay_local.wire.xml import NotUtf8, XmlError, decode, encode

log = logging.getLogger("wxpay_local.dispatch")

EXCERPT_CHARS = 300


def render(notification: Notification, api_key: str) -> bytes:
    """The notification body. Payments: alphabetical fields, strings in CDATA, amounts bare,
    signed. Refunds: unsigned outer fields and ``req_info`` encrypted with the key (§5).

    Every attempt renders the same bytes: the fields (nonce and any ``sign_type`` element
    included) and the algorithm are fixed when the notification is written.
    """
    if notification.kind == "refund":
        return render_refund(notification, api_key)
    fields: dict[str, str | int] = dict(notification.fields)
    fields["sign"] = signing.sign(fields, api_key, notification.sign_type)
    return encode(dict(sorted(fields.items())))


def render_refund(notification: Notification, api_key: str) -> bytes:
    outer = notification.fields
    plaintext = crypto.root_document(outer["req_info"])
    req_info = crypto.encrypt_req_info(plaintext, api_key)
    return (
        "<xml>\n<return_code>SUCCESS</return_code>\n"
        f"<appid><![CDATA[{outer['appid']}]]></appid>\n"
        f"<mch_id><![CDATA[{outer['mch_id']}]]></mch_id>\n"
        f"<nonce_str><![CDATA[{outer['nonce_str']}]]></nonce_str>\n"
        f"<req_info><![CDATA[{req_info}]]></req_info>\n</xml>"
    ).encode()


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    reason: str
    http_status: int | None
    latency_ms: int
    excerpt: str


def judge(status: int, body: bytes) -> tuple[bool, str]:
    """Success means HTTP 200 and an ``<xml>`` whose return_code is SUCCESS; nothing else."""
    if status != 200:
        return False, f"HTTP status {status}"
    text = body.strip().removeprefix(b"\xef\xbb\xbf").strip()
    if not text:
        return False, "empty body"
    try:
        fields = decode(text)
    except NotUtf8:
        return False, "answer is not UTF-8"
    except XmlError as exc:
        return False, f"answer is not a v2 XML document ({exc})"
    code = fields.get("return_code")
    if code is None:
        return False, "answer has no return_code"
    if code != "SUCCESS":
        msg = fields.get("return_msg", "")
        return False, f"return_code={code}" + (f" ({msg})" if msg else "")
    return True, "acknowledged"


async def deliver(client: Poster, url: str, body: bytes, timeout: float) -> Verdict:
    started = time.perf_counter()
    try:
        response = await client.post(url, body, b"text/xml", timeout)
    except TimeoutError:
        return Verdict(False, f"timed out after {timeout:g} s", None, _ms(started), "")
    except (ConnectError, ReadError) as exc:
        return Verdict(
            False, f"connection failed: {exc.__class__.__name__}: {exc}", None, _ms(started), ""
        )
    except Exception as exc:  # our bug: an attempt that failed, never a tick that leaves its
        # claimed notifications leased until the lease runs out
        log.exception("delivering to %s failed", url)
        return Verdict(False, f"delivery failed: {exc.__class__.__name__}", None, _ms(started), "")
    ok, reason = judge(response.status, response.body)
    excerpt = response.body[:EXCERPT_CHARS].decode("utf-8", "replace")
    return Verdict(ok, reason, response.status, _ms(started), excerpt)


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
