"""What Client and AsyncClient share besides the core: configuration, hosts, the sandbox key
cache, the 交易保障 report of each call, and how a transport failure is classified."""

from __future__ import annotations

import logging
import os
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Required, TypedDict

import httpx

from wxpay_sdk import tls
from wxpay_sdk.core import SANDBOX_KEY_REFUSED, Config, Endpoint, Outgoing
from wxpay_sdk.errors import ResultError, ReturnError, TransportError, WxPayError
from wxpay_sdk.hosts import PRIMARY, Hosts, Site
from wxpay_sdk.wire import MD5, SignType

log = logging.getLogger("wxpay_sdk")

USER_AGENT = "wxpay-sdk/0.1 (python; httpx)"
#: errors raised before the request left (nothing can have been executed)
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.UnsupportedProtocol)


class Options(TypedDict, total=False):
    """The options of ``Client`` and ``AsyncClient`` (``Base.__init__`` documents them)."""

    mch_id: Required[str]
    api_key: Required[str]
    appid: str
    sign_type: SignType
    base_url: str
    backup_url: str | None
    cert_base_url: str | None
    cert_backup_url: str | None
    cert: str | os.PathLike[str] | None
    key: str | os.PathLike[str] | None
    p12: str | os.PathLike[str] | None
    p12_password: str | None
    ca_file: str | os.PathLike[str] | None
    sandbox: bool
    retries: int
    failover_stay: float
    report: bool
    report_ip: str
    clock: Callable[[], float]


@dataclass(frozen=True)
class Attempt:
    """What one POST to one host gave: the answer's bytes, or why not."""

    content: bytes = b""
    failure: str = ""
    sent: bool = True


class Base:
    def __init__(
        self,
        *,
        mch_id: str,
        api_key: str,
        appid: str = "",
        sign_type: SignType = MD5,
        base_url: str = PRIMARY,
        backup_url: str | None = None,
        cert_base_url: str | None = None,
        cert_backup_url: str | None = None,
        cert: str | os.PathLike[str] | None = None,
        key: str | os.PathLike[str] | None = None,
        p12: str | os.PathLike[str] | None = None,
        p12_password: str | None = None,
        ca_file: str | os.PathLike[str] | None = None,
        sandbox: bool = False,
        retries: int = 1,
        failover_stay: float = 180.0,
        report: bool = False,
        report_ip: str = "127.0.0.1",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``base_url`` is the platform (default the real primary host; wxpay-local's
        ``http://127.0.0.1:8700``); ``backup_url`` the 跨城冗灾 backup (``hosts.BACKUP`` on
        the real platform). ``cert_base_url`` is where calls that need the certificate go when
        that is another URL (wxpay-local: its HTTPS port). The certificate: ``cert`` + ``key``
        PEM files, or ``p12`` (password: the mch_id unless given). ``retries``: extra rounds
        over the hosts for calls that are safe to repeat. ``report``: send 交易保障 report
        after each call (spec §4.6)."""
        self.config = Config(mch_id, api_key, appid, sign_type, sandbox)
        backup = Site(backup_url, cert_backup_url or "") if backup_url else None
        self.hosts = Hosts(
            Site(base_url, cert_base_url or ""), backup, stay=failover_stay, clock=clock
        )
        self.retries = retries
        self.report_calls, self.report_ip = report, report_ip
        self.clock = clock
        self._sandbox_key: str | None = None
        self._verify: ssl.SSLContext | bool = True
        if cert or p12 or ca_file:
            self._verify = tls.context(
                cert=cert,
                key=key,
                p12=p12,
                p12_password=p12_password if p12_password is not None else mch_id,
                ca_file=ca_file,
            )

    # --- shared steps -----------------------------------------------------------------------
    def _tries(self, endpoint: Endpoint) -> list[Site]:
        rounds = 1 + (self.retries if endpoint.idempotent else 0)
        return [site for _ in range(rounds) for site in self.hosts.order()]

    def _failed(self, outgoing: Outgoing, site: Site, exc: Exception) -> Attempt:
        sent = not isinstance(exc, NOT_SENT)
        reason = f"{type(exc).__name__}: {exc}"
        self.hosts.failed(site, reason)
        if sent and not outgoing.endpoint.idempotent:
            # the platform may have executed it: another try could charge twice
            raise TransportError(
                f"{outgoing.path}: no answer ({reason}); query before retrying",
                outcome_unknown=True,
            ) from exc
        return Attempt(failure=reason, sent=sent)

    @staticmethod
    def _give_up(outgoing: Outgoing, attempts: list[Attempt]) -> TransportError:
        reasons = "; ".join(a.failure for a in attempts)
        return TransportError(
            f"{outgoing.path}: no host answered ({reasons})",
            outcome_unknown=any(a.sent for a in attempts),
        )

    def _forget_sandbox_key(self, error: WxPayError) -> None:
        if isinstance(error, ReturnError) and SANDBOX_KEY_REFUSED in error.return_msg:
            log.info("the sandbox key was refused: fetching a new one on the next call")
            self._sandbox_key = None

    def _report_fields(
        self,
        outgoing: Outgoing,
        site: Site,
        started: float,
        error: WxPayError | None,
    ) -> dict[str, object] | None:
        """The report of one call (spec §4.6), or None when reports are off or not due."""
        if not self.report_calls or outgoing.endpoint.name in ("report", "getsignkey"):
            return None
        fields: dict[str, object] = {
            "interface_url": site.url(outgoing.path, cert=outgoing.endpoint.cert),
            "execute_time_": int((self.clock() - started) * 1000),
            "return_code": "SUCCESS",
            "result_code": "SUCCESS",
            "user_ip": self.report_ip,
            "time": time.strftime("%Y%m%d%H%M%S", time.gmtime(time.time() + 8 * 3600)),
            "out_trade_no": outgoing.fields.get("out_trade_no", ""),
        }
        if isinstance(error, ReturnError):
            fields.update(return_code="FAIL", result_code="FAIL", return_msg=error.return_msg)
        elif isinstance(error, ResultError):
            fields.update(result_code="FAIL", err_code=error.err_code)
            fields["err_code_des"] = error.err_code_des
        elif error is not None:
            fields.update(return_code="FAIL", result_code="FAIL", return_msg=str(error)[:120])
        return fields
