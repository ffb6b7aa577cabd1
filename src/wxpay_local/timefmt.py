"""The platform's time zone and wire time formats."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

#: China has kept UTC+8 without daylight saving since 1991, so a fixed offset is exact.
SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")


def wire_time(moment: datetime) -> str:
    """``yyyyMMddHHmmss`` in Beijing time."""
    return moment.astimezone(SHANGHAI).strftime("%Y%m%d%H%M%S")


def display_time(moment: datetime | None) -> str:
    """``yyyy-MM-dd HH:mm:ss`` in Beijing time ("" for none): the refund wire fields
    (``success_time``, ``refund_success_time_$n``) and every page and console screen."""
    return "" if moment is None else moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


def to_millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def from_millis(millis: int) -> datetime:
    return datetime.fromtimestamp(millis / 1000, SHANGHAI)
