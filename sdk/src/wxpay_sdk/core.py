"""The sans-IO core both clients drive: what to send for a call, and what an answer means.

No sockets here: ``prepare`` turns a call into an ``Outgoing`` (path, body, whether it needs
the client certificate, its timeout); ``interpret`` turns the bytes that came back into the
answer's fields or an error of the tree in ``errors``. ``Client`` and ``AsyncClient`` only add
the HTTP round trip, failover and retries around these two.
"""

from __future__ import annotations

import gzip
from collections.abc import Mapping
from dataclasses import dataclass

from wxpay_sdk import wire
from wxpay_sdk.errors import ProtocolError, ResultError, ReturnError, SignatureError
from wxpay_sdk.models import INT_FIELDS, INT_PREFIXES
from wxpay_sdk.wire import MD5, SignType

SANDBOX_PREFIX = "/sandboxnew"
#: the platform's return_msg when a sandbox call is signed with a stale sandbox key (spec §1.4)
SANDBOX_KEY_REFUSED = "沙箱验证签名失败"


@dataclass(frozen=True)
class Endpoint:
    name: str
    path: str
    #: mutual TLS with the merchant certificate (spec §1.5)
    cert: bool = False
    #: the SUCCESS answer carries a sign (not: report, getsignkey; spec §1.4)
    signed: bool = True
    #: the answer is a file on success (bills), XML only on error
    file: bool = False
    #: sending it twice is harmless, so a timeout may be retried (queries; refund with the same
    #: out_refund_no, spec refunds §2.6.2; reverse; closeorder)
    idempotent: bool = True
    #: appid is part of the request (not for bills, getsignkey)
    appid: bool = True
    #: seconds; the official PHP SDK's values (spec §1.2): 10 s micropay, 1 s report, 6 s others
    timeout: float = 6.0
    #: only HMAC-SHA256 is accepted (downloadfundflow); only MD5 (getsignkey)
    sign_type: SignType | None = None


ENDPOINTS: dict[str, Endpoint] = {
    e.name: e
    for e in (
        Endpoint("micropay", "/pay/micropay", idempotent=False, timeout=10.0),
        Endpoint("unifiedorder", "/pay/unifiedorder", idempotent=False),
        Endpoint("orderquery", "/pay/orderquery"),
        Endpoint("closeorder", "/pay/closeorder"),
        Endpoint("reverse", "/secapi/pay/reverse", cert=True),
        Endpoint("refund", "/secapi/pay/refund", cert=True),
        Endpoint("refundquery", "/pay/refundquery"),
        Endpoint("downloadbill", "/pay/downloadbill", file=True, appid=True, timeout=30.0),
        Endpoint(
            "downloadfundflow",
            "/pay/downloadfundflow",
            cert=True,
            file=True,
            timeout=30.0,
            sign_type="HMAC-SHA256",
        ),
        Endpoint("report", "/payitil/report", signed=False, timeout=1.0),
        Endpoint("shorturl", "/tools/shorturl"),
        Endpoint("authcodetoopenid", "/tools/authcodetoopenid"),
        Endpoint("getsignkey", "/pay/getsignkey", signed=False, appid=False, sign_type=MD5),
    )
}


@dataclass(frozen=True)
class Config:
    """A merchant's credentials. ``api_key`` is the 32-character API v2 key."""

    mch_id: str
    api_key: str
    appid: str = ""
    sign_type: SignType = MD5
    #: send every call to the /sandboxnew/ twin, signed with the sandbox key (spec §1.6)
    sandbox: bool = False


@dataclass(frozen=True)
class Outgoing:
    endpoint: Endpoint
    path: str
    body: bytes
    sign_type: SignType
    key: str
    fields: dict[str, str]


def prepare(
    config: Config,
    endpoint: Endpoint,
    fields: Mapping[str, object],
    *,
    key: str | None = None,
    nonce: str | None = None,
) -> Outgoing:
    """The signed request of a call. ``key`` overrides the API key (the sandbox key)."""
    sign_type: SignType = endpoint.sign_type or config.sign_type
    if config.sandbox:
        sign_type = MD5  # the sandbox only knows MD5 (spec §1.6)
    data: dict[str, str] = {"mch_id": config.mch_id, "nonce_str": nonce or wire.nonce()}
    if endpoint.appid and config.appid:
        data["appid"] = config.appid
    if sign_type != MD5:
        data["sign_type"] = sign_type
    for name, value in fields.items():
        if value is not None and str(value) != "":
            data[name] = str(value)
    signing_key = key or config.api_key
    data["sign"] = wire.sign(data, signing_key, sign_type)
    path = endpoint.path
    if config.sandbox or endpoint.name == "getsignkey":
        path = SANDBOX_PREFIX + path
    return Outgoing(endpoint, path, wire.encode(data), sign_type, signing_key, data)


def _typed(fields: dict[str, str]) -> dict[str, object]:
    out: dict[str, object] = {}
    for name, value in fields.items():
        numeric = name in INT_FIELDS or name.startswith(INT_PREFIXES)
        out[name] = int(value) if numeric and value.lstrip("-").isdigit() else value
    return out


def interpret(outgoing: Outgoing, body: bytes) -> dict[str, object]:
    """The answer's fields (amounts as int), or ReturnError / SignatureError / ResultError."""
    try:
        fields = wire.decode(body)
    except wire.WireError as exc:
        raise ProtocolError(f"{outgoing.path}: {exc}") from None
    if "return_code" not in fields:
        raise ProtocolError(f"{outgoing.path}: the answer has no return_code")
    if fields["return_code"] != "SUCCESS":
        raise ReturnError(fields.get("return_msg", ""), fields)
    if outgoing.endpoint.signed and not wire.verify(fields, outgoing.key, outgoing.sign_type):
        raise SignatureError(f"the answer to {outgoing.path} does not verify with our key")
    if fields.get("result_code") == "FAIL":
        raise ResultError(fields.get("err_code", ""), fields.get("err_code_des", ""), fields)
    return _typed(fields)


def interpret_file(outgoing: Outgoing, body: bytes) -> bytes:
    """A bill's bytes (gunzipped when GZIP was asked for); an XML body is the platform's error."""
    if body[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(body)
        except (OSError, EOFError) as exc:
            raise ProtocolError(f"{outgoing.path}: a broken GZIP body: {exc}") from None
    if body.lstrip().startswith(b"<"):
        interpret(outgoing, body)  # raises: a bill never comes back as XML on success
        raise ProtocolError(f"{outgoing.path}: an XML answer where a bill was expected")
    return body
