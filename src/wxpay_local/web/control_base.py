"""How a control-plane operation is declared, validated, answered and documented.

One ``Op`` per operation says its parameters (``Param``), its JSON body (JSON Schema
properties, required names, alternatives) and its 200 body; the same declaration validates
each request and writes the operation's OpenAPI entry, so the two cannot drift apart.

Every refusal is ``{"error": CODE, "message": text}`` with a 4xx status (docs/control-plane.md
lists the codes). The validator is ours rather than a JSON Schema library's: the schemas use a
handful of keywords (type, enum, bounds, lengths, items), each refusal needs a stable code and
a message naming the field, and a local tool should not carry a validator dependency for that.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from wxpay_local.codes import Rejected
from wxpay_local.domain.model import LIVE, Order
from wxpay_local.domain.ports import Tx

if TYPE_CHECKING:
    from wxpay_local.web.app import AsgiApp

#: The largest whole number the control plane takes (10^11: far below BIGINT and 2^53).
MAX_INT = 10**11
#: The longest text a field or parameter takes.
MAX_TEXT = 4096
MAX_ITEMS = 100

JsonSchema = dict[str, Any]
Scalar = str | int | bool

S: JsonSchema = {"type": "string", "maxLength": MAX_TEXT}
B: JsonSchema = {"type": "boolean"}


def integer(minimum: int = 0, maximum: int = MAX_INT) -> JsonSchema:
    return {"type": "integer", "minimum": minimum, "maximum": maximum}


def text(max_length: int = MAX_TEXT, min_length: int = 0, pattern: str = "") -> JsonSchema:
    schema: JsonSchema = {"type": "string", "maxLength": max_length}
    if min_length:
        schema["minLength"] = min_length
    if pattern:
        schema["pattern"] = pattern
    return schema


def one_of(*values: str) -> JsonSchema:
    return {"type": "string", "enum": list(values)}


def array(items: JsonSchema, max_items: int = MAX_ITEMS) -> JsonSchema:
    return {"type": "array", "items": items, "maxItems": max_items}


ID: JsonSchema = integer(1)


class ControlError(Exception):
    """A refusal: ``status`` (4xx), a stable ``error`` code and a message for a person."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error, self.message = status, error, message


def not_found(message: str) -> ControlError:
    return ControlError(404, "NOT_FOUND", message)


def live_order(tx: Tx, mch_id: str, out_trade_no: str) -> Order:
    """A live merchant's order by out_trade_no, or the control plane's 404."""
    merchant = tx.merchant(mch_id, LIVE)
    order = None if merchant is None else tx.order_by_out_trade_no(merchant.id, out_trade_no)
    if order is None:
        raise not_found(f"no order {out_trade_no} at {mch_id}")
    return order


@dataclass(frozen=True)
class Param:
    """A path or query parameter: its JSON Schema (string, integer or boolean) and default."""

    name: str
    schema: JsonSchema = field(default_factory=lambda: dict(S))
    where: Literal["path", "query"] = "query"
    default: Scalar | None = None
    description: str = ""
    #: A value that names a record of the demo data (``wxpay-local serve`` seeds it).
    example: Scalar | None = None


@dataclass(frozen=True)
class Call:
    """One validated request: the parameters (typed by their declarations) and the body."""

    request: Request
    body: dict[str, Any]
    args: dict[str, Scalar | None]

    def text(self, name: str) -> str:
        value = self.args.get(name)
        return "" if value is None else str(value)

    def opt(self, name: str) -> str | None:
        value = self.args.get(name)
        return None if value is None or value == "" else str(value)

    def whole(self, name: str) -> int:
        value = self.args[name]
        assert isinstance(value, int), name  # the declaration made it one (or its default)
        return value

    def opt_whole(self, name: str) -> int | None:
        value = self.args.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def flag(self, name: str) -> bool:
        return self.args.get(name) is True


Handler = Callable[["AsgiApp", Call], Awaitable[Any]]

#: An mch_id is digits (it is also the CN of the merchant's certificate: at most 64).
MCH_ID = text(32, 1, r"^[0-9]+$")
#: Path parameters many operations share; the examples name the demo data's records.
MCH_ID_PATH = Param("mch_id", MCH_ID, "path", example="1900000109")
PAYER_ID = Param("payer_id", ID, "path", example=1)
OUT_TRADE_NO_PATH = Param("out_trade_no", text(32, 1), "path", example="T1")


@dataclass(frozen=True)
class Op:
    method: str
    path: str
    summary: str
    handler: Handler
    body: dict[str, JsonSchema] = field(default_factory=dict)  # JSON Schema properties
    required: tuple[str, ...] = ()
    #: Query parameters, and path parameters that are not plain text (undeclared: text).
    params: tuple[Param, ...] = ()
    #: Groups of body fields of which exactly one must be given.
    exactly_one: tuple[tuple[str, ...], ...] = ()
    #: Groups of body fields of which at least one must be given.
    at_least_one: tuple[tuple[str, ...], ...] = ()
    #: The 200 body's JSON Schema; ``media`` other than JSON (bills) have no schema.
    response: JsonSchema = field(default_factory=lambda: {"type": "object"})
    media: tuple[str, ...] = ("application/json",)
    #: Refusals besides 400 (any parameter or body) and 404 (any path parameter).
    errors: tuple[int, ...] = ()

    def parameters(self) -> list[Param]:
        declared = {p.name: p for p in self.params}
        found = [
            declared.get(name, Param(name, where="path"))
            for name in re.findall(r"\{([^}]+)\}", self.path)
        ]
        return found + [p for p in self.params if p.where == "query"]


# validation -----------------------------------------------------------------------------------
_PY_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "array": list,
    "object": dict,
}
_WHOLE = re.compile(r"-?[0-9]{1,19}")


def bad(message: str) -> ControlError:
    return ControlError(400, "BAD_FIELD", message)


def check_value(name: str, value: Any, schema: JsonSchema) -> Any:
    """``value`` if it fits ``schema`` (the keywords our declarations use), else BAD_FIELD."""
    kind = schema["type"]
    if kind == "integer" and isinstance(value, float) and value.is_integer():
        value = int(value)  # JSON Schema: 2.0 is an integer
    if not isinstance(value, _PY_TYPES[kind]) or (
        kind in ("integer", "number") and isinstance(value, bool)
    ):
        raise bad(f"{name} must be of type {kind}")
    if "enum" in schema and value not in schema["enum"]:
        raise bad(f"{name} must be one of {', '.join(map(str, schema['enum']))}")
    if isinstance(value, str):
        longest = schema.get("maxLength", MAX_TEXT)
        if "\x00" in value or len(value) > longest:
            raise bad(f"{name} must be text of at most {longest} characters")
        if len(value) < schema.get("minLength", 0):
            raise bad(f"{name} must be at least {schema['minLength']} characters")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            raise bad(f"{name} must match {schema['pattern']}")
        try:
            value.encode()
        except UnicodeEncodeError:  # a lone surrogate from a JSON \ud800 escape
            raise bad(f"{name} must be valid Unicode text") from None
    elif isinstance(value, float) or (kind == "number" and isinstance(value, int)):
        low, high = schema.get("minimum", -MAX_INT), schema.get("maximum", MAX_INT)
        if not low <= value <= high:  # NaN and the infinities fail here too
            raise bad(f"{name} must be between {low} and {high}")
        value = float(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        low, high = schema.get("minimum", -MAX_INT), schema.get("maximum", MAX_INT)
        if not low <= value <= high:
            raise bad(f"{name} must be between {low} and {high}")
    elif isinstance(value, list):
        if len(value) > schema.get("maxItems", MAX_ITEMS):
            raise bad(f"{name} takes at most {schema.get('maxItems', MAX_ITEMS)} items")
        value = [check_value(f"{name}[]", item, schema["items"]) for item in value]
    return value


def check_body(op: Op, data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ControlError(400, "BAD_JSON", "the body must be a JSON object")
    for name in data:
        if name not in op.body:
            raise ControlError(400, "UNKNOWN_FIELD", f"unknown field {name!r}")
    for name in op.required:
        if name not in data:
            raise ControlError(400, "MISSING_FIELD", f"{name} is required")
    checked = {name: check_value(name, value, op.body[name]) for name, value in data.items()}
    for group in op.exactly_one:
        if sum(name in checked for name in group) != 1:
            raise ControlError(400, "MISSING_FIELD", f"give exactly one of {' and '.join(group)}")
    for group in op.at_least_one:
        if not any(name in checked for name in group):
            raise ControlError(400, "MISSING_FIELD", f"give {' or '.join(group)}")
    return checked


def check_param(param: Param, raw: str | None) -> Scalar | None:
    """A path or query parameter's text, typed as its declaration says."""
    if raw is None or (raw == "" and param.where == "query"):  # ?limit= is no limit given
        return param.default
    kind = param.schema["type"]
    if kind == "integer":
        if not _WHOLE.fullmatch(raw):
            raise bad(f"{param.name} must be a whole number")
        return int(check_value(param.name, int(raw), param.schema))
    if kind == "boolean":
        if raw not in ("true", "false", "1", "0"):
            raise bad(f"{param.name} must be true or false")
        return raw in ("true", "1")
    return str(check_value(param.name, raw, param.schema))


async def parse(op: Op, request: Request) -> Call:
    args: dict[str, Scalar | None] = {}
    for param in op.parameters():
        source = request.path_params if param.where == "path" else request.query_params
        args[param.name] = check_param(param, source.get(param.name))
    data: dict[str, Any] = {}
    if op.method in ("POST", "PUT"):
        raw = await request.body()
        if raw.strip():
            try:
                loaded = json.loads(raw)
            except (ValueError, RecursionError):  # not UTF-8, or nested thousands deep
                raise ControlError(400, "BAD_JSON", "the body is not valid JSON") from None
            data = check_body(op, loaded)
        else:
            data = check_body(op, {})
    return Call(request, data, args)


def error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: str
) -> Response:
    """The one error shape; ASCII-escaped so any text a caller sent can be echoed back."""
    body = json.dumps({"error": code, "message": message, **extra}, ensure_ascii=True)
    return Response(body, status, headers, media_type="application/json")


def endpoint(app: AsgiApp, op: Op) -> Callable[[Request], Awaitable[Response]]:
    async def answer(request: Request) -> Response:
        try:
            result = await op.handler(app, await parse(op, request))
        except ControlError as exc:
            return error(exc.status, exc.error, exc.message)
        except Rejected as exc:  # the domain's refusal: the platform's err_code and text
            return error(400, str(exc.err_code), exc.err_code_des)
        return result if isinstance(result, Response) else JSONResponse(result)

    return answer
