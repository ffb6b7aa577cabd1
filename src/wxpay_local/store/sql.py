"""``SqlTx``: every statement family in one transaction object, over SQL both databases share.

Each family is a module of its own (``sql_<family>.py``) subclassing ``base.Statements``; the
domain sees them through its narrow ports (``domain.ports``), one per use-case family, and
``SqlTx`` satisfies all of them at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wxpay_local.domain.ports import Tx
from wxpay_local.store.sql_admin import AdminStatements
from wxpay_local.store.sql_bills import BillStatements
from wxpay_local.store.sql_console import ConsoleStatements
from wxpay_local.store.sql_faults import FaultStatements
from wxpay_local.store.sql_identity import IdentityStatements
from wxpay_local.store.sql_notify import NotificationStatements
from wxpay_local.store.sql_oauth import OAuthStatements
from wxpay_local.store.sql_orders import OrderStatements
from wxpay_local.store.sql_payers import PayerStatements
from wxpay_local.store.sql_refunds import RefundStatements


class SqlTx(
    IdentityStatements,
    OrderStatements,
    NotificationStatements,
    AdminStatements,
    RefundStatements,
    BillStatements,
    PayerStatements,
    OAuthStatements,
    ConsoleStatements,
    FaultStatements,
):
    """One open transaction on one connection, with every statement family."""


if TYPE_CHECKING:  # mypy proves here that SqlTx offers every port, method for method
    _offers_every_port: type[Tx] = SqlTx
