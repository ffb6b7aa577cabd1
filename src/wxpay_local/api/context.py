"""What a handler receives, and the platform services it may use."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, TypeVar

from wxpay_local.codes import Rejected, SignType
from wxpay_local.domain.clock import Clock
from wxpay_local.domain.ids import Ids
from wxpay_local.domain.model import Merchant
from wxpay_local.domain.orders import OrderRules
from wxpay_local.domain.ports import Store, Tx
from wxpay_local.spec.endpoint import Endpoint

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

    C = TypeVar("C", bound=DataclassInstance)
else:
    C = TypeVar("C")


@dataclass(frozen=True, slots=True)
class Platform:
    """The services every request shares; built once by the app factory."""

    clock: Clock
    ids: Ids
    order_rules: OrderRules
    base_url: str
    #: /secapi/ paths refuse requests without the merchant's live client certificate.
    require_client_cert: bool = True
    #: How long an accepted refund stays PROCESSING before it succeeds (platform clock).
    refund_settle_seconds: float = 5.0
    #: The store, for file answers that stream after the request's transaction (bills).
    store: Store | None = None
    #: Bills: today's bill and yesterday's before the generation hour are available at once.
    bills_available_immediately: bool = False
    #: Bills: the hour (platform time) at which yesterday's bill becomes available.
    bill_generation_hour: int = 9


@dataclass(frozen=True, slots=True)
class PeerCert:
    """A client certificate that passed the TLS handshake (chained to the platform's CA)."""

    serial: str
    common_name: str


@dataclass(frozen=True, slots=True)
class ClientTls:
    """How the request arrived: over TLS or not, and with which client certificate."""

    tls: bool
    peer: PeerCert | None = None


PLAIN_HTTP = ClientTls(tls=False)


#: Each command class's field names, read once (``dataclasses.fields`` walks them every call).
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type[DataclassInstance]) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in fields(cls))
    return names


@dataclass(frozen=True, slots=True)
class Call:
    """One verified, validated request, inside its open transaction."""

    tx: Tx
    platform: Platform
    endpoint: Endpoint
    merchant: Merchant
    sign_type: SignType
    raw: Mapping[str, str]
    values: Mapping[str, object]

    def command(self, cls: type[C], **overrides: object) -> C:
        """The domain command ``cls`` from the request: its fields are wire names, so each takes
        the validated value of the same name, or its default when the request left it out."""
        values = self.values
        given = {name: values[name] for name in _field_names(cls) if name in values}
        given["sign_type"] = self.sign_type
        return cls(**(given | overrides))

    def text(self, name: str) -> str:
        value = self.values.get(name)
        return "" if value is None else str(value)

    def integer(self, name: str) -> int | None:
        """An integer field's validated value, or None when the request left it out."""
        value = self.values.get(name)
        return value if isinstance(value, int) else None


@dataclass(frozen=True)
class Download:
    """A file answer (bills): sent as it is produced, chunk by chunk, never held whole.

    ``chunks`` is consumed after the request's transaction has ended; each ``next()`` opens
    its own short read, so a million-row day streams in flat memory.
    """

    chunks: Iterator[bytes]
    content_type: str = "text/plain; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()


#: A handler returns the business fields of a SUCCESS answer, raises ``Rejected`` (nothing is
#: written), returns a ``Rejected`` (its writes are kept: e.g. a micropay left USERPAYING), or
#: returns a ``Download``.
Handler = Callable[[Call], Mapping[str, str | int] | Rejected | Download]
