"""The merchant API pipeline: decode → find merchant → verify → validate → handle → encode.

One function, ``process``, runs a request through the steps in the platform's order, inside one
transaction, and returns the bytes to send plus what the request journal needs to explain them.
It is synchronous: SQLite runs it on the event loop, PostgreSQL in a worker thread.

The pure checks (field validation; the signature, when this process has the merchant's key
cached) run before the transaction opens: on SQLite every process's write transactions take
turns under one commit lock, on PostgreSQL they hold row locks, and neither needs to cover
hashing. Their verdicts are only used in the transaction, where the order of errors is decided.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote

from wxpay_local.api import doctor
from wxpay_local.api.context import PLAIN_HTTP, Call, ClientTls, Download, Handler, Platform
from wxpay_local.api.validation import validate
from wxpay_local.codes import ErrCode, Fault, Rejected, ReturnMsg, SignType
from wxpay_local.domain.model import LIVE, SANDBOX, Merchant
from wxpay_local.domain.ports import MerchantPeek, Merchants, Store
from wxpay_local.spec import ALIASES, ENDPOINTS, SANDBOX_ONLY, SANDBOX_PREFIXES
from wxpay_local.spec.endpoint import Endpoint
from wxpay_local.wire import envelope, signing
from wxpay_local.wire.xml import NotUtf8, XmlError, decode

SANDBOX_KEY_ERROR = "沙箱验证签名失败，请确认沙箱签名key是否正确(通过getsignkey调用生成)"


@dataclass(frozen=True, slots=True)
class Route:
    endpoint: Endpoint
    env: str


def build_routes() -> dict[str, Route]:
    """Every path the platform answers: production paths and their sandbox twins."""
    routes: dict[str, Route] = {}
    for endpoint in ENDPOINTS:
        if endpoint.name not in SANDBOX_ONLY:
            routes[endpoint.path] = Route(endpoint, LIVE)
        for prefix in SANDBOX_PREFIXES:
            routes[prefix + endpoint.path] = Route(endpoint, SANDBOX)
            if endpoint.path.startswith("/secapi/"):  # gopay drops /secapi in the sandbox
                routes[prefix + endpoint.path.removeprefix("/secapi")] = Route(endpoint, SANDBOX)
    by_name = {e.name: e for e in ENDPOINTS}
    for path, name in ALIASES.items():
        routes[path] = Route(by_name[name], LIVE)
    return routes


@dataclass(slots=True)
class Outcome:
    """The answer, and the facts the journal keeps about it."""

    body: bytes
    return_code: str = "SUCCESS"
    result_code: str = ""
    err_code: str = ""
    message: str = ""
    mch_id: str = ""
    explanation: dict[str, object] = field(default_factory=dict)
    #: A file answer to stream instead of ``body``.
    download: Download | None = None


#: How bill downloads word the generic protocol failures (refunds spec §6.8).
BILL_FAULTS = {
    ReturnMsg.SIGN_ERROR: ("sign error", "20001"),
    ReturnMsg.LACK_PARAMS: ("missing parameter", "20001"),
    ReturnMsg.XML_FORMAT_ERROR: ("data format error", "20001"),
    ReturnMsg.POST_DATA_EMPTY: ("empty post data", "20001"),
    ReturnMsg.REQUIRE_POST_METHOD: ("require POST method", "20001"),
    ReturnMsg.NOT_UTF8: ("data format error", "20001"),
    ReturnMsg.BODY_TOO_LARGE: ("data format error", "20001"),
    ReturnMsg.MCHID_NOT_EXIST: ("invalid parameter", "20001"),
    ReturnMsg.SIGN_TYPE_ERROR: ("invalid parameter", "20001"),
}


def bill_fault(exc: Fault) -> Fault:
    """The bill endpoints' wording of a protocol failure."""
    if exc.error_code is not None:
        return exc
    if exc.return_msg.endswith("参数长度有误") or exc.return_msg.endswith("参数格式错误"):
        field = exc.return_msg.removesuffix("参数长度有误").removesuffix("参数格式错误")
        wording = (
            ("nonce_str too long", "20001")
            if field == "nonce_str"
            else (f"invalid {field}", "20001")
        )
    else:
        wording = BILL_FAULTS.get(exc.return_msg, ("invalid parameter", "20001"))
    return Fault(wording[0], detail=exc.detail or exc.return_msg, error_code=wording[1])


def _fault(exc: Fault, mch_id: str = "", **explanation: object) -> Outcome:
    if exc.detail:
        explanation.setdefault("detail", exc.detail)
    return Outcome(
        envelope.fault(exc.return_msg, exc.error_code),
        return_code="FAIL",
        message=exc.return_msg,
        mch_id=mch_id,
        explanation=explanation,
    )


def _sign_type(raw: Mapping[str, str], endpoint: Endpoint) -> SignType:
    value = raw.get("sign_type", "")
    if value == "":
        sign_type = SignType.MD5
    else:
        try:
            sign_type = SignType(value)
        except ValueError:
            raise Fault(
                ReturnMsg.SIGN_TYPE_ERROR, detail=f"sign_type {value!r} is not MD5 or HMAC-SHA256"
            ) from None
    if sign_type not in endpoint.sign_types:
        allowed = ", ".join(endpoint.sign_types)
        raise Fault(ReturnMsg.SIGN_TYPE_ERROR, detail=f"{endpoint.name} accepts only {allowed}")
    return sign_type


def _merchant(tx: Merchants, raw: Mapping[str, str], env: str) -> Merchant:
    mch_id = raw.get("mch_id", "")
    if mch_id == "":
        raise Fault(ReturnMsg.LACK_PARAMS, detail="required field mch_id is missing")
    merchant = tx.merchant(mch_id, env)
    if merchant is None:
        if env == SANDBOX and tx.merchant(mch_id, LIVE) is not None:
            raise Fault(SANDBOX_KEY_ERROR, detail="no sandbox key issued yet: call getsignkey")
        raise Fault(ReturnMsg.MCHID_NOT_EXIST, detail=f"no merchant with mch_id {mch_id}")
    return merchant


def _verified(endpoint: Endpoint, raw: Mapping[str, str], key: str, sign_type: SignType) -> bool:
    """The signature over the fields as received, or (spec §3.1, shorturl's long_url) over the
    URL-decoded form of fields that travel URL-encoded."""
    if signing.verify(raw, key, sign_type):
        return True
    decoded = {name: unquote(raw[name]) for name in endpoint.url_encoded_fields if name in raw}
    return bool(decoded) and signing.verify({**raw, **decoded}, key, sign_type)


@dataclass(frozen=True, slots=True)
class _Early:
    """What was checked before the transaction: ``validate``'s values or the Fault to raise at
    validation's place in the order; the signature's verdict against ``key`` (None: not cached)."""

    values: dict[str, object] | Fault
    key: str | None = None
    verified: bool = False


def _check_early(
    peek: MerchantPeek, endpoint: Endpoint, raw: Mapping[str, str], env: str, sign: SignType
) -> _Early:
    try:
        values: dict[str, object] | Fault = validate(endpoint, raw)
    except Fault as exc:
        values = exc
    signature = raw.get("sign", "")
    mch_id = raw.get("mch_id", "")
    cached = peek.cached_merchant(mch_id, env) if mch_id and 0 < len(signature) <= 64 else None
    if cached is None:
        return _Early(values)
    return _Early(values, cached.api_key, _verified(endpoint, raw, cached.api_key, sign))


def _verify_fresh(
    tx: Merchants,
    endpoint: Endpoint,
    raw: Mapping[str, str],
    merchant: Merchant,
    env: str,
    sign_type: SignType,
) -> tuple[Merchant, bool]:
    """A signature that does not verify against the (per-process, briefly cached) merchant is
    checked once more against the key the database holds now: a key changed by another process
    works at once."""
    fresh = tx.merchant_uncached(merchant.mch_id, env)
    if fresh is None or fresh.api_key == merchant.api_key:
        return merchant, False
    return fresh, _verified(endpoint, raw, fresh.api_key, sign_type)


def _refusal(
    exc: Rejected,
    merchant: Merchant | None,
    endpoint: Endpoint,
    raw: Mapping[str, str],
    sign_type: SignType,
    platform: Platform,
    mch_id: str,
) -> Outcome:
    if endpoint.refusal_fields:
        exc.fields = {**dict(endpoint.refusal_fields), **exc.fields}
    if merchant is None or not endpoint.signed_response:
        fields = {
            "result_code": "FAIL",
            "err_code": str(exc.err_code),
            "err_code_des": exc.err_code_des,
            **exc.fields,
        }
        body = envelope.unsigned(fields)
    else:
        body = envelope.signed(raw, exc, merchant.api_key, sign_type, platform.ids.nonce())
    return Outcome(
        body,
        result_code="FAIL",
        err_code=str(exc.err_code),
        message=exc.err_code_des,
        mch_id=mch_id,
    )


def check_certificate(
    tx: Merchants, platform: Platform, merchant: Merchant, client: ClientTls
) -> str:
    """Refuse a /secapi/ call without this merchant's live API certificate; returns a warning
    for the journal when the check is relaxed."""
    problem = certificate_problem(tx, platform, merchant, client)
    if problem is None:
        return ""
    if not platform.require_client_cert:
        return f"certificate check relaxed; the real platform would refuse: {problem}"
    raise Fault(ReturnMsg.CERT_ERROR, detail=problem)


def certificate_problem(
    tx: Merchants, platform: Platform, merchant: Merchant, client: ClientTls
) -> str | None:
    if not client.tls:
        return "the request did not come over HTTPS (mutual TLS) — use the HTTPS port"
    peer = client.peer
    if peer is None:
        return "no client certificate was presented (send apiclient_cert.pem + apiclient_key.pem)"
    issued = tx.merchant_cert(peer.serial)
    if issued is None:
        return f"certificate serial {peer.serial} (CN={peer.common_name}) was not issued here"
    if issued.mch_id != merchant.mch_id:
        return (
            f"certificate serial {peer.serial} belongs to merchant {issued.mch_id}, "
            f"not to {merchant.mch_id}"
        )
    if issued.revoked_at is not None:
        return (
            f"certificate serial {peer.serial} was replaced at "
            f"{issued.revoked_at.isoformat()}; use the current one"
        )
    now = platform.clock.now()
    if now > issued.not_after:
        return f"certificate serial {peer.serial} expired at {issued.not_after.isoformat()}"
    if now < issued.not_before:
        return f"certificate serial {peer.serial} is not valid before {issued.not_before}"
    return None


def process(
    store: Store,
    platform: Platform,
    handlers: Mapping[str, Handler],
    route: Route,
    body: bytes,
    client: ClientTls = PLAIN_HTTP,
) -> Outcome:
    """Run one merchant API request; never raises for anything a client can send."""
    return reworded(route.endpoint, _process(store, platform, handlers, route, body, client))


def reworded(endpoint: Endpoint, outcome: Outcome) -> Outcome:
    """A protocol failure in the bill endpoints' own words (``sign error``, ``error_code``)."""
    if (
        endpoint.bill_faults
        and outcome.return_code == "FAIL"
        and b"<error_code>" not in outcome.body
    ):
        fault = bill_fault(Fault(outcome.message))
        outcome.body = envelope.fault(fault.return_msg, fault.error_code)
        outcome.message = fault.return_msg
    return outcome


def _process(
    store: Store,
    platform: Platform,
    handlers: Mapping[str, Handler],
    route: Route,
    body: bytes,
    client: ClientTls = PLAIN_HTTP,
) -> Outcome:
    endpoint = route.endpoint
    if not body.strip():
        return _fault(Fault(ReturnMsg.POST_DATA_EMPTY, detail="the request body is empty"))
    try:
        raw = decode(body)
    except NotUtf8 as exc:
        return _fault(Fault(ReturnMsg.NOT_UTF8, detail=f"body is not UTF-8: {exc}"))
    except XmlError as exc:
        return _fault(Fault(ReturnMsg.XML_FORMAT_ERROR, detail=f"bad XML: {exc}"))
    mch_id = raw.get("mch_id", "")
    try:
        sign_type = _sign_type(raw, endpoint)
        if route.env == SANDBOX and sign_type is not SignType.MD5:
            raise Fault(ReturnMsg.SIGN_TYPE_ERROR, detail="the sandbox supports MD5 only")
    except Fault as exc:
        return _fault(exc, mch_id)

    key_env = LIVE if endpoint.name == "getsignkey" else route.env
    merchant: Merchant | None = None
    warning = ""
    early = _check_early(store, endpoint, raw, key_env, sign_type)
    try:
        with store.begin(write=endpoint.writes) as tx:
            merchant = _merchant(tx, raw, key_env)
            if endpoint.needs_cert:
                warning = check_certificate(tx, platform, merchant, client)
            if not raw.get("sign"):
                raise Fault(ReturnMsg.LACK_PARAMS, detail="required field sign is missing")
            if len(raw["sign"]) > 64:
                raise Fault(ReturnMsg.bad_length("sign"), detail="sign has more than 64 characters")
            if merchant.api_key == early.key:  # the key verified before the transaction
                verified = early.verified
            else:  # not cached then, or rotated since
                verified = _verified(endpoint, raw, merchant.api_key, sign_type)
            if not verified:
                merchant, verified = _verify_fresh(tx, endpoint, raw, merchant, key_env, sign_type)
            if not verified:
                others = doctor.alt_keys(tx, merchant)
                mismatch = signing.explain_mismatch(raw, merchant.api_key, sign_type, others)
                sandboxed = route.env == SANDBOX and key_env == SANDBOX
                return _fault(
                    Fault(SANDBOX_KEY_ERROR if sandboxed else ReturnMsg.SIGN_ERROR),
                    mch_id,
                    signature=dataclasses.asdict(mismatch),
                    detail="signature mismatch: compare signed_string with the string you signed",
                )
            values = early.values
            if isinstance(values, Fault):
                raise values
            appid = values.get("appid")
            if isinstance(appid, str) and not tx.is_bound(merchant.mch_id, appid):
                code = ErrCode.APPID_MCHID_NOT_MATCH if tx.app(appid) else ErrCode.APPID_NOT_EXIST
                if endpoint.bill_faults:  # bills refuse in their own protocol words (§6.8)
                    raise Fault("invalid appid", detail=code.desc, error_code="20001")
                raise Rejected(code)
            call = Call(tx, platform, endpoint, merchant, sign_type, raw, values)
            result = handlers[endpoint.name](call)
    except Fault as exc:
        return _fault(exc, mch_id)
    except Rejected as exc:
        return _refusal(exc, merchant, endpoint, raw, sign_type, platform, mch_id)
    if isinstance(result, Download):
        outcome = Outcome(b"", result_code="SUCCESS", mch_id=mch_id, download=result)
    elif isinstance(result, Rejected):
        outcome = _refusal(result, merchant, endpoint, raw, sign_type, platform, mch_id)
    elif not endpoint.signed_response:
        outcome = Outcome(envelope.unsigned(result), result_code="SUCCESS", mch_id=mch_id)
    else:
        body_out = envelope.signed(
            raw,
            result,
            merchant.api_key,
            sign_type,
            platform.ids.nonce(),
            int_fields=endpoint.int_fields,
        )
        outcome = Outcome(body_out, result_code="SUCCESS", mch_id=mch_id)
    if warning:
        outcome.explanation["warning"] = warning
    return outcome
