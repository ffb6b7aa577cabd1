"""The injected clock. Domain code asks a Clock for the time, never the system."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from wxpay_local.timefmt import SHANGHAI


class Clock(Protocol):
    def now(self) -> datetime:
        """The current platform time, an aware datetime in Asia/Shanghai."""
        ...


class TestClock:
    """Wall time shifted by an offset, or frozen at one instant: what the control plane moves."""

    __test__ = False  # not a pytest test class

    def __init__(self, offset: timedelta = timedelta(0), frozen: datetime | None = None) -> None:
        self.offset = offset
        self.frozen = frozen

    def now(self) -> datetime:
        if self.frozen is not None:
            return self.frozen
        return datetime.now(SHANGHAI) + self.offset

    def advance(self, delta: timedelta) -> datetime:
        if self.frozen is not None:
            self.frozen += delta
        else:
            self.offset += delta
        return self.now()

    def set(self, moment: datetime, *, freeze: bool) -> datetime:
        if freeze:
            self.frozen = moment.astimezone(SHANGHAI)
            self.offset = timedelta(0)
        else:
            self.frozen = None
            self.offset = moment - datetime.now(SHANGHAI)
        return self.now()
