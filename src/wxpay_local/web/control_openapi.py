"""``/_local/openapi.json``: written from the ``Op`` declarations, with the JSON bodies the
control plane answers (``web.views``) as schemas, and the one error body.

A test drives every operation from this document and checks each answer against it
(tests/api/test_control_schemathesis.py), so a view that changes shape fails there.
"""

from __future__ import annotations

from typing import Any

from wxpay_local.codes import TradeState, TradeType
from wxpay_local.domain.merchant_config import NOTIFY_SIGN_TYPES
from wxpay_local.domain.payer import PayOutcome
from wxpay_local.web.control_base import JsonSchema, Op

_S: JsonSchema = {"type": "string"}
_I: JsonSchema = {"type": "integer"}
_B: JsonSchema = {"type": "boolean"}
_N: JsonSchema = {"type": "number"}
_ANY_OBJECT: JsonSchema = {"type": "object"}


def nullable(schema: JsonSchema) -> JsonSchema:
    return {**schema, "type": [schema["type"], "null"]}


def obj(**properties: JsonSchema) -> JsonSchema:
    """An object with exactly these (all present) properties; more may be added later."""
    return {"type": "object", "properties": properties, "required": list(properties)}


def listing(name: str, item: JsonSchema) -> JsonSchema:
    return obj(**{name: {"type": "array", "items": item}})


_TIME = nullable(_S)  # ISO 8601 with offset, or null when it has not happened
_OPT = nullable(_S)

ERROR = {
    "type": "object",
    "properties": {
        "error": {"type": "string", "description": "a stable code, e.g. BAD_FIELD, NOT_FOUND"},
        "message": {"type": "string", "description": "what is wrong, for a person"},
    },
    "required": ["error", "message"],
}

MERCHANT = obj(
    mch_id=_S,
    name=_S,
    api_key=_S,
    fee_rate_ppm=_I,
    console_password=_S,
    apps={"type": "array", "items": obj(appid=_S, kind=_S, secret=_S, name=_S)},
)
CARD = obj(card_id=_I, bank_type=_S, last4=_S, credit=_B)
PAYER = obj(
    payer_id=_I,
    name=_S,
    pay_password=_S,
    balance=_I,
    openids={"type": "object", "additionalProperties": _S},
    cards={"type": "array", "items": CARD},
)
ORDER = obj(
    mch_id=_S,
    appid=_S,
    out_trade_no=_S,
    transaction_id=_OPT,
    trade_type={"enum": list(TradeType)},
    trade_state={"enum": list(TradeState)},
    trade_state_desc=_S,
    total_fee=_I,
    cash_fee=_I,
    fee=_I,
    body=_S,
    attach=_S,
    notify_url=_S,
    prepay_id=_OPT,
    prepay_expires_at=_TIME,
    code_url=_OPT,
    openid=_OPT,
    bank_type=_OPT,
    created_at=_TIME,
    time_expire=_TIME,
    time_end=_TIME,
)
ATTEMPT = obj(
    number=_I,
    at=_TIME,
    ok=_B,
    http_status=nullable(_I),
    latency_ms=_I,
    reason=_S,
    excerpt=_S,
)
NOTIFICATION = obj(
    id=_I,
    kind=_S,
    url=_S,
    status=_S,
    out_trade_no=_OPT,
    transaction_id=_OPT,
    refund_id=_OPT,
    sign_type=_S,
    attempts={"type": "array", "items": ATTEMPT},
    created_at=_TIME,
    next_attempt_at=_TIME,
    delivered_at=_TIME,
)
REFUND = obj(
    refund_id=_S,
    out_refund_no=_S,
    refund_fee=_I,
    fee_returned=_I,
    refund_status=_S,
    refund_account=_S,
    refund_recv_accout=_S,
    refund_desc=_S,
    notify_url=_OPT,
    created_at=_TIME,
    settle_at=_TIME,
    success_time=_TIME,
)
ORDER_DETAIL: JsonSchema = {
    **ORDER,
    "properties": {
        **ORDER["properties"],
        "refunds": {"type": "array", "items": REFUND},
        "notifications": {"type": "array", "items": NOTIFICATION},
    },
    "required": [*ORDER["required"], "refunds", "notifications"],
}
#: An order in the /_local/orders list: with its id, the cursor of the next page (before_id).
LISTED_ORDER: JsonSchema = {
    **ORDER,
    "properties": {**ORDER["properties"], "order_id": _I},
    "required": [*ORDER["required"], "order_id"],
}
PENDING_ORDER: JsonSchema = {
    **ORDER,
    "properties": {**ORDER["properties"], "order_id": _I, "password_deadline": _TIME},
    "required": [*ORDER["required"], "order_id", "password_deadline"],
}
PAY_RESULT = obj(
    outcome={"enum": list(PayOutcome)}, message=_S, order={"oneOf": [ORDER, {"type": "null"}]}
)
CLOCK = obj(now=_S, frozen=_B, offset_seconds=_N)
HEALTH = obj(status=_S, version=_S, database={"enum": ["sqlite", "postgresql"]}, now=_S)
LEDGER = obj(accounts={"type": "object", "additionalProperties": _I}, total=_I)
JOURNAL_ENTRY = obj(
    id=_I,
    at=_I,
    method=_S,
    path=_S,
    endpoint=_S,
    mch_id=_S,
    request=_S,
    response=_S,
    return_code=_S,
    result_code=_S,
    err_code=_S,
    message=_S,
    explanation={},
    duration_us=_I,
)
CERT = obj(
    **{
        "mch_id": _S,
        "serial": _S,
        "not_before": _TIME,
        "not_after": _TIME,
        "apiclient_cert.pem": _S,
        "apiclient_key.pem": _S,
        "apiclient_cert.p12": _S,
        "p12_password": _S,
        "rootca.pem": _S,
        "https_url": _S,
    }
)
CONFIG = obj(
    native_callback_url=_S,
    h5_domains={"type": "array", "items": _S},
    jsapi_directories={"type": "array", "items": _S},
    oauth_domains={"type": "array", "items": _S},
    h5_ip_check=_B,
    h5_wechat_check=_B,
    h5_one_account_check=_B,
    notify_sign_type={"enum": list(NOTIFY_SIGN_TYPES)},
)
REPORT = obj(id=_I, at=_S, interface_url=_S, fields=_ANY_OBJECT)

#: Schemas the document names in components (and refers to), by identity.
NAMED: dict[str, JsonSchema] = {
    "Merchant": MERCHANT,
    "Payer": PAYER,
    "Order": ORDER,
    "OrderDetail": ORDER_DETAIL,
    "PendingOrder": PENDING_ORDER,
    "PayResult": PAY_RESULT,
    "Notification": NOTIFICATION,
    "Refund": REFUND,
    "Clock": CLOCK,
    "JournalEntry": JOURNAL_ENTRY,
    "Certificate": CERT,
    "MerchantConfig": CONFIG,
}


def _named(schema: Any, inside: str = "") -> Any:
    """The schema with every named schema in it (but ``inside`` itself) as a $ref."""
    for name, named in NAMED.items():
        if schema is named and name != inside:
            return {"$ref": f"#/components/schemas/{name}"}
    if isinstance(schema, dict):
        return {key: _named(value, inside) for key, value in schema.items()}
    if isinstance(schema, list):
        return [_named(value, inside) for value in schema]
    return schema


#: What each media type of a non-JSON answer is (bills).
_MEDIA_SCHEMA: dict[str, JsonSchema] = {
    "text/plain": {"type": "string"},
    "application/x-gzip": {"type": "string", "format": "binary"},
}


def _responses(op: Op, parameters: list[dict[str, Any]]) -> dict[str, Any]:
    ok = {
        media: {
            "schema": _named(op.response) if media == "application/json" else _MEDIA_SCHEMA[media]
        }
        for media in op.media
    }
    answers: dict[str, Any] = {"200": {"description": "OK", "content": ok}}
    statuses = set(op.errors)
    if parameters or op.method == "POST":  # a POST body is checked even when it takes none
        statuses.add(400)
    if any(p["in"] == "path" for p in parameters):
        statuses.add(404)  # no such record (or a path that names none)
    described = {400: "Bad request", 404: "Not found", 409: "Conflict", 424: "Failed dependency"}
    for status in sorted(statuses):
        answers[str(status)] = {
            "description": described.get(status, "Refused"),
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
    return answers


def _body_schema(op: Op) -> JsonSchema:
    schema: JsonSchema = {
        "type": "object",
        "properties": op.body,
        "required": list(op.required),
        "additionalProperties": False,
    }
    groups = [{"oneOf": [{"required": [name]} for name in group]} for group in op.exactly_one] + [
        {"anyOf": [{"required": [name]} for name in group]} for group in op.at_least_one
    ]
    if len(groups) == 1:
        schema.update(groups[0])
    elif groups:
        schema["allOf"] = groups
    return schema


def document(ops: tuple[Op, ...], version: str) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for op in ops:
        parameters = [
            {
                "name": p.name,
                "in": p.where,
                "required": p.where == "path",
                "schema": p.schema,
            }
            | ({"description": p.description} if p.description else {})
            | ({"example": p.example} if p.example is not None else {})
            for p in op.parameters()
        ]
        entry: dict[str, Any] = {
            "summary": op.summary,
            "operationId": op.handler.__name__,
            "responses": _responses(op, parameters),
        }
        if parameters:
            entry["parameters"] = parameters
        if op.method == "POST":
            entry["requestBody"] = {
                "required": bool(op.required or op.exactly_one or op.at_least_one),
                "content": {"application/json": {"schema": _body_schema(op)}},
            }
        paths.setdefault(op.path, {})[op.method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "wxpay-local control plane",
            "version": version,
            "description": "Drive the local WeChat Pay platform: parties, payments, clock."
            ' Every refusal is {"error": CODE, "message": text} with a 4xx status.',
        },
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR} | {name: _named(it, name) for name, it in NAMED.items()}
        },
    }
