"""Every field of every endpoint in the catalogue (``spec.ENDPOINTS``) is refused one character
past its declared length, with the platform's length message: the catalogue is the one source
of each field's kind and length, and the request path enforces it field by field."""

from __future__ import annotations

from dataclasses import replace

import pytest

from wxpay_local.api.validation import validate
from wxpay_local.codes import Fault
from wxpay_local.spec import ENDPOINTS

CASES = [
    pytest.param(endpoint, field, id=f"{endpoint.name}.{field.name}")
    for endpoint in ENDPOINTS
    for field in endpoint.request
]


@pytest.mark.parametrize(("endpoint", "field"), CASES)
def test_one_character_too_long_is_refused_with_the_length_message(endpoint, field) -> None:
    # Only this field is sent and only it is declared, so no other field or rule answers first.
    alone = replace(endpoint, request=(field,), checks=())
    with pytest.raises(Fault) as refused:
        validate(alone, {field.name: "9" * (field.kind.max_len + 1)})
    assert refused.value.return_msg == field.name + "参数长度有误"


def test_the_catalogue_declares_fields_for_every_endpoint() -> None:
    assert len(CASES) > 100
    assert all(endpoint.request for endpoint in ENDPOINTS)
