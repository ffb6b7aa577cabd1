"""Settings, read once by the CLI or the app factory and passed down; never read at import."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path


def is_loopback(host: str) -> bool:
    """Whether a listen address or host name is this machine only."""
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path = Path("wxpay-data")
    #: ``postgresql://…`` or empty for SQLite in data_dir.
    database_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8700
    #: The HTTPS port (mutual TLS for /secapi/); None: port + 1; 0: no HTTPS listener.
    tls_port: int | None = None
    #: /secapi/ paths demand the merchant's client certificate (the platform's rule).
    require_client_cert: bool = True
    #: Seconds (platform clock) an accepted refund stays PROCESSING before it succeeds.
    refund_settle_seconds: float = 5.0
    #: Public base URL used in code_url / mweb_url pages (defaults to http://host:port).
    public_url: str = ""
    notify_schedule: str = "wechat"
    notify_timeout_seconds: float = 5.0
    #: Run the notification dispatcher inside the server process.
    dispatcher: bool = True
    closeorder_min_age_seconds: int = 300
    journal_flush_seconds: float = 0.2
    #: SQLite: "full" (fsync before answering, with group commit) or "normal".
    durability: str = "full"
    seed: int | None = None
    #: Bills: today's bill (and yesterday's before the generation hour) can be downloaded at once.
    bills_available_immediately: bool = False
    #: Bills: the hour (platform time, Beijing) from which yesterday's bill exists.
    bill_generation_hour: int = 9
    #: The console's operator password; empty: one generated and kept in the database.
    operator_password: str = ""
    #: Bearer token for /_local/; required when ``exposed`` (then made and kept in data_dir
    #: if empty), accepted on loopback. See docs/security.md.
    admin_token: str = ""
    #: More Host names the console, pages and control plane answer (besides loopback, IP
    #: literals and the public_url's host).
    allowed_hosts: tuple[str, ...] = ()
    #: Hosts besides loopback the notification-receiver probe may send to (``serve
    #: --allow-probe-host``); the probe must not become a way to send traffic anywhere.
    probe_hosts: tuple[str, ...] = ()

    @property
    def effective_database_url(self) -> str:
        return self.database_url or str(self.data_dir / "wxpay.sqlite3")

    @property
    def effective_tls_port(self) -> int:
        return self.port + 1 if self.tls_port is None else self.tls_port

    @property
    def tls_base_url(self) -> str:
        return f"https://{self.local_host}:{self.effective_tls_port}"

    @property
    def exposed(self) -> bool:
        """Reachable by others: listening beyond loopback, or published under a public URL."""
        return bool(self.public_url) or not is_loopback(self.host)

    @property
    def local_host(self) -> str:
        """The listen address as a URL host; a wildcard bind (0.0.0.0, ::) means loopback here
        (browsers refuse to open 0.0.0.0)."""
        host = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}.get(self.host, self.host)
        return f"[{host}]" if ":" in host and not host.startswith("[") else host

    @property
    def local_url(self) -> str:
        """Where a program on this machine reaches the server."""
        return f"http://{self.local_host}:{self.port}"

    @property
    def base_url(self) -> str:
        return self.public_url or self.local_url

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Settings from ``WXPAY_*`` environment variables, then explicit overrides."""
        env = os.environ
        values: dict[str, object] = {}
        if "WXPAY_DATA_DIR" in env:
            values["data_dir"] = Path(env["WXPAY_DATA_DIR"])
        if "WXPAY_DATABASE_URL" in env:
            values["database_url"] = env["WXPAY_DATABASE_URL"]
        if "WXPAY_OPERATOR_PASSWORD" in env:
            values["operator_password"] = env["WXPAY_OPERATOR_PASSWORD"]
        if "WXPAY_ADMIN_TOKEN" in env:
            values["admin_token"] = env["WXPAY_ADMIN_TOKEN"]
        if "WXPAY_ALLOWED_HOSTS" in env:  # comma-separated, like --allowed-host repeated
            names = env["WXPAY_ALLOWED_HOSTS"].split(",")
            values["allowed_hosts"] = tuple(n.strip() for n in names if n.strip())
        if "WXPAY_PROBE_HOSTS" in env:  # comma-separated, like --allow-probe-host repeated
            names = env["WXPAY_PROBE_HOSTS"].split(",")
            values["probe_hosts"] = tuple(n.strip() for n in names if n.strip())
        if "WXPAY_PUBLIC_URL" in env:
            values["public_url"] = env["WXPAY_PUBLIC_URL"]
        if "WXPAY_NOTIFY_SCHEDULE" in env:
            values["notify_schedule"] = env["WXPAY_NOTIFY_SCHEDULE"]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
