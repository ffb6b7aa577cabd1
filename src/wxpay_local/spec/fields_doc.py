"""docs/fields.md, generated from the endpoint catalogue: per API, the request fields accepted
and the fields each answer carries, so a difference from the spec shows up in review.

Regenerate with ``python -m wxpay_local.spec.fields_doc > docs/fields.md``;
tests/unit/test_fields_doc.py fails when the committed file is stale.
"""

from __future__ import annotations

import sys

from wxpay_local.spec import ALIASES, ENDPOINTS, SANDBOX_ONLY
from wxpay_local.spec.endpoint import Endpoint

HEADER = """\
# Fields, API by API

Generated from the endpoint catalogue (`src/wxpay_local/spec/`) by
`python -m wxpay_local.spec.fields_doc > docs/fields.md`; a test fails when this file is stale.
Choices where the spec is silent are in [behaviour.md](behaviour.md).

Every answer is HTTP 200 XML. `return_code=FAIL` answers carry `return_code` and `return_msg`
only, unsigned (downloadbill adds `error_code`). A signed `return_code=SUCCESS` answer carries
the envelope `return_code`, `return_msg`, `appid`, `mch_id`, `device_info` (when the request
had one), `nonce_str`, `sign` and `result_code`, signed with the request's sign type and without
a `sign_type` element; with `result_code=FAIL` it adds `err_code` and `err_code_des`, with
`result_code=SUCCESS` the business fields below. Values are trimmed of surrounding
whitespace; empty values are left out.
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|") or " "


def _endpoint(endpoint: Endpoint) -> list[str]:
    paths = [endpoint.path, *(p for p, name in ALIASES.items() if name == endpoint.name)]
    where = "sandbox prefix only" if endpoint.name in SANDBOX_ONLY else "also under /sandboxnew"
    lines = [
        f"## {endpoint.name}",
        "",
        f"{endpoint.title}. `POST {'`, `'.join(paths)}` ({where}).",
        "",
        "| | |",
        "|---|---|",
        f"| Client certificate | {'required' if endpoint.needs_cert else 'no'} |",
        f"| Sign types | {', '.join(str(t) for t in endpoint.sign_types)} |",
        f"| Answer signed | {'yes' if endpoint.signed_response else 'no'} |",
    ]
    if endpoint.checks:
        rules = ", ".join(f"`{c.__name__.strip('_')}`" for c in endpoint.checks)
        lines.append(f"| Cross-field rules | {rules} |")
    if endpoint.errors:
        lines.append(f"| err_code | {', '.join(f'`{e}`' for e in endpoint.errors)} |")
    if endpoint.refusal_fields:
        extra = ", ".join(f"`{k}={v}`" for k, v in endpoint.refusal_fields)
        lines.append(f"| Every refusal adds | {extra} |")
    lines += ["", "Request:", "", "| Field | Required | Kind | Meaning |", "|---|---|---|---|"]
    for f in endpoint.request:
        lines.append(
            f"| `{f.name}` | {'Y' if f.required else 'N'} | {_cell(f.kind.describe())}"
            f" | {_cell(f.doc)} |"
        )
    lines += ["", "Answer (`result_code=SUCCESS`):", "", "| When | Fields |", "|---|---|"]
    for answer in endpoint.answers:
        names = ", ".join(_name(n) for n in answer.fields) or "(none)"
        lines.append(f"| {_cell(answer.when)} | {names} |")
    if endpoint.int_fields:
        bare = ", ".join(f"`{n}`" for n in sorted(endpoint.int_fields))
        lines += ["", f"Written bare (integers): {bare}."]
    return [*lines, ""]


def _name(field: str) -> str:
    """``name (condition)`` → `name` (condition)."""
    name, _, condition = field.partition(" (")
    return f"`{name}`" + (f" ({condition}" if condition else "")


def render() -> str:
    body = [HEADER]
    for endpoint in ENDPOINTS:
        body.extend(_endpoint(endpoint))
    return "\n".join(body).rstrip("\n") + "\n"


def main() -> None:
    sys.stdout.write(render())


if __name__ == "__main__":
    main()
