"""Field validation: the typed values of a request's declared fields, or the Fault naming the
first one that breaks its rule. Pure (no database, no clock), so the pipeline runs it before the
request's transaction opens."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from wxpay_local.codes import Fault, ReturnMsg
from wxpay_local.spec.endpoint import Endpoint, Field
from wxpay_local.wire.fields import Json, Str

#: One request field as ``validate`` walks it: name, required, free text (trimmed), parser.
FieldStep = tuple[str, bool, bool, Callable[[str, str], object]]
#: Per endpoint name: the request fields it was built from, and the steps.
_PLANS: dict[str, tuple[tuple[Field, ...], tuple[FieldStep, ...]]] = {}


def _field_plan(endpoint: Endpoint) -> tuple[FieldStep, ...]:
    """The endpoint's fields as flat steps, built once: most of a request's declared fields
    are absent, and each of those then costs one dict lookup."""
    cached = _PLANS.get(endpoint.name)
    if cached is not None and cached[0] is endpoint.request:
        return cached[1]
    steps = tuple(
        (f.name, f.required, type(f.kind) in (Str, Json), f.kind.parse) for f in endpoint.request
    )
    _PLANS[endpoint.name] = (endpoint.request, steps)
    return steps


def validate(endpoint: Endpoint, raw: Mapping[str, str]) -> dict[str, object]:
    """Typed values of the endpoint's fields; unknown fields are signed but otherwise ignored.

    Free text (``Str``, ``Json``) loses surrounding whitespace here, after the signature was
    checked over the text as sent: what is stored, echoed and notified never carries it (spec
    README: clients trim before verifying; docs/behaviour.md). Amounts, times, codes and URLs
    stay strict: `` 100`` is still a format error.
    """
    values: dict[str, object] = {}
    for name, required, trims, parse in _field_plan(endpoint):
        text = raw.get(name)
        if text is not None:
            if trims:
                text = text.strip()
            if text != "":
                values[name] = parse(name, text)
                continue
        if required:
            raise Fault(ReturnMsg.LACK_PARAMS, detail=f"required field {name} is missing")
    for check in endpoint.checks:
        message = check(values)
        if message is not None:
            raise Fault(message, detail=f"rule failed: {check.__name__.strip('_')}")
    return values
