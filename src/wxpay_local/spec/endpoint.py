"""What an endpoint is, as data: its path, request fields, conditional rules and error codes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from wxpay_local.codes import ErrCode, SignType
from wxpay_local.wire.fields import Kind


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    kind: Kind
    required: bool = False
    doc: str = ""


@dataclass(frozen=True, slots=True)
class Answer:
    """The business fields a ``result_code=SUCCESS`` answer carries in one situation, besides
    the envelope (return_code, return_msg, appid, mch_id, device_info echo, nonce_str, sign,
    result_code). ``$n`` stands for 0, 1, …; ``file`` answers are not XML."""

    when: str
    fields: tuple[str, ...]


#: A cross-field rule over the typed request: returns a return_msg when violated, else None.
Check = Callable[[Mapping[str, Any]], str | None]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One v2 API: everything routing, validation, the docs and the tests need to know."""

    name: str
    path: str
    title: str
    request: tuple[Field, ...]
    errors: tuple[ErrCode, ...] = ()
    checks: tuple[Check, ...] = ()
    needs_cert: bool = False
    #: Whether the request may change state (a read-only transaction is used otherwise).
    writes: bool = True
    #: Bill downloads answer protocol failures in their own words, with an ``error_code``
    #: (``sign error``/20001 rather than 签名错误): see ``api.pipeline.BILL_FAULTS``.
    bill_faults: bool = False
    #: Fields every refusal of this endpoint carries unless the refusal sets them (reverse's
    #: ``recall``, present in every return_code=SUCCESS answer).
    refusal_fields: tuple[tuple[str, str], ...] = ()
    #: Fields clients may sign raw but send URL-encoded (shorturl's long_url, spec §3.1).
    url_encoded_fields: tuple[str, ...] = ()
    signed_response: bool = True
    sign_types: tuple[SignType, ...] = (SignType.MD5, SignType.HMAC_SHA256)
    #: What a success answer carries, per situation (docs/fields.md is generated from it).
    answers: tuple[Answer, ...] = ()
    #: Response fields written bare (integers) rather than in CDATA.
    int_fields: frozenset[str] = field(default_factory=frozenset)

    def field(self, name: str) -> Field | None:
        for candidate in self.request:
            if candidate.name == name:
                return candidate
        return None
