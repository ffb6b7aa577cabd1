"""跨城冗灾 (refunds file §9.3, protocol §1.1): a primary and a backup host, with a memory.

The "failure retry" strategy of the platform's guide: when a request cannot reach a host
(connection refused, DNS, connect timeout, read timeout, HTTP 5xx) the same request goes to the
other host. The failed host is remembered for ``stay`` seconds (the official Java SDK keeps to
the backup for 3 minutes), during which the backup is tried first; then the primary is tried
first again (the way back), or at once with ``back_to_primary()``. Sans-IO: the clock is
injectable, nothing here sends anything.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("wxpay_sdk.hosts")

PRIMARY = "https://api.mch.weixin.qq.com"
BACKUP = "https://api2.mch.weixin.qq.com"


@dataclass(frozen=True)
class Site:
    """One host: its base URL, and where calls that need the client certificate go (the same
    host on the real platform; wxpay-local serves them on its HTTPS port)."""

    base_url: str
    cert_url: str = ""

    def url(self, path: str, *, cert: bool) -> str:
        base = self.cert_url if cert and self.cert_url else self.base_url
        return base.rstrip("/") + path


class Hosts:
    def __init__(
        self,
        primary: Site,
        backup: Site | None = None,
        *,
        stay: float = 180.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.primary, self.backup = primary, backup
        self.stay, self.clock = stay, clock
        self._primary_failed_at: float | None = None

    @property
    def on_backup(self) -> bool:
        """Whether the backup is tried first now (the primary failed less than stay ago)."""
        if self.backup is None or self._primary_failed_at is None:
            return False
        if self.clock() - self._primary_failed_at >= self.stay:
            log.info("back to the primary host %s after %.0f s", self.primary.base_url, self.stay)
            self._primary_failed_at = None
            return False
        return True

    def order(self) -> list[Site]:
        """The hosts to try, in order."""
        if self.backup is None:
            return [self.primary]
        return [self.backup, self.primary] if self.on_backup else [self.primary, self.backup]

    def failed(self, site: Site, reason: str) -> None:
        if site == self.primary and self.backup is not None:
            if self._primary_failed_at is None:
                log.warning(
                    "primary host %s failed (%s): switching to %s",
                    site.base_url,
                    reason,
                    self.backup.base_url,
                )
            self._primary_failed_at = self.clock()
        else:
            log.warning("host %s failed (%s)", site.base_url, reason)

    def succeeded(self, site: Site) -> None:
        if site == self.primary:
            self._primary_failed_at = None

    def back_to_primary(self) -> None:
        """Forget the failure: the next call tries the primary first."""
        self._primary_failed_at = None
