"""Bill files as streams: rows read batch by batch, formatted, encoded, optionally gzipped.

A file is a chain of generators. Nothing runs until the first ``next()``; every batch of rows is
read in a short transaction of its own (``begin()``), closed before the rows are formatted, so
a file of any size is sent in flat memory while other requests go on between its chunks.
"""

from __future__ import annotations

import heapq
import zlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol, TypeVar

from wxpay_local.api.context import Download
from wxpay_local.domain.bills import (
    PAYMENT,
    REFUND,
    REVOKED,
    BillReads,
    DayQuery,
    Key,
    TradeLine,
    kinds_of,
    trade_file,
)
from wxpay_local.domain.fundflow import FundLine, FundReads, FundTotals, fund_file

#: Rows per database read and per chunk sent (about 0.6 MB of text).
BATCH_ROWS = 2000
#: zlib's level 6 (gzip's default) costs several times level 1 on a million rows for a file
#: only ~15 % smaller; bills are downloaded by machines on a local network: speed wins.
GZIP_LEVEL = 1
PLAIN = "text/plain; charset=utf-8"
GZIP = "application/x-gzip"

R = TypeVar("R", TradeLine, FundLine)


class Reads(BillReads, FundReads, Protocol):
    """Everything bills read (``store.sql_bills``)."""


#: Opens one short read transaction with the bill statements.
Begin = Callable[[], AbstractContextManager[Reads]]


def _batches(begin: Begin, fetch: Callable[[Reads, Key | None], list[R]]) -> Iterator[R]:
    """Every row of a keyset-paginated read, one short transaction per batch."""
    after: Key | None = None
    while True:
        with begin() as tx:
            batch = fetch(tx, after)
        yield from batch
        if len(batch) < BATCH_ROWS:
            return
        last = batch[-1]
        after = (last.at, last.row_id if isinstance(last, TradeLine) else last.txn_id)


def trade_lines(begin: Begin, q: DayQuery, bill_type: str) -> Iterator[TradeLine]:
    """The bill's events in time order: payments, refunds and reversals merged."""
    kinds = kinds_of(bill_type)
    streams: list[Iterator[TradeLine]] = []
    if PAYMENT in kinds:
        streams.append(_batches(begin, lambda tx, after: tx.bill_payments(q, after, BATCH_ROWS)))
    if REFUND in kinds:
        streams.append(_batches(begin, lambda tx, after: tx.bill_refunds(q, after, BATCH_ROWS)))
    if REVOKED in kinds:
        streams.append(_batches(begin, lambda tx, after: tx.bill_reversals(q, after, BATCH_ROWS)))
    if len(streams) == 1:
        return streams[0]
    return heapq.merge(*streams, key=lambda line: line.sort_key)


def trade_text(begin: Begin, q: DayQuery, bill_type: str, mch_id: str, rate: str) -> Iterator[str]:
    """The trade bill (§6.4): BOM and header, the rows, the summary; chunks of text."""
    lines = trade_lines(begin, q, bill_type)
    return trade_file(lines, bill_type, mch_id, rate, chunk_rows=BATCH_ROWS)


def fund_text(
    begin: Begin,
    account: str,
    day: tuple[datetime, datetime],
    upto_txn: int,
    mch_id: str,
    totals: FundTotals | None = None,
) -> Iterator[str]:
    """The fund flow (§7.2) of one account: BOM and header, the movements, the summary."""
    lines = _batches(
        begin, lambda tx, after: tx.fund_lines(account, day, upto_txn, after, BATCH_ROWS)
    )
    return fund_file(lines, mch_id, totals, chunk_rows=BATCH_ROWS)


def encoded(texts: Iterator[str], gzip: bool) -> Iterator[bytes]:
    """UTF-8, and gzip (RFC 1952) when asked; empty chunks are possible and mean nothing."""
    if not gzip:
        for text in texts:
            yield text.encode()
        return
    packer = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)  # 31: a gzip header and trailer
    for text in texts:
        yield packer.compress(text.encode())
    yield packer.flush()


def file_answer(
    texts: Iterator[str], gzip: bool, headers: tuple[tuple[str, str], ...] = ()
) -> Download:
    return Download(encoded(texts, gzip), GZIP if gzip else PLAIN, headers)
