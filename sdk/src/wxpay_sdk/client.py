"""``Client``: the synchronous client (httpx). Same methods as ``AsyncClient``, same core."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Unpack, cast

import httpx

from wxpay_sdk import bills
from wxpay_sdk import micropay as best
from wxpay_sdk.base import USER_AGENT, Attempt, Base, Options
from wxpay_sdk.core import ENDPOINTS, Outgoing, interpret, interpret_file, prepare
from wxpay_sdk.errors import WxPayError
from wxpay_sdk.hosts import Site
from wxpay_sdk.models import (
    AuthCodeToOpenidResult,
    CloseOrderArgs,
    CloseOrderResult,
    DownloadBillArgs,
    DownloadFundflowArgs,
    MicropayArgs,
    MicropayResult,
    OrderQueryResult,
    OrderRef,
    RefundArgs,
    RefundQueryArgs,
    RefundQueryResult,
    RefundResult,
    ReportArgs,
    ReportResult,
    ReverseResult,
    ShortUrlResult,
    SignKeyResult,
    UnifiedOrderArgs,
    UnifiedOrderResult,
)


class Client(Base):
    """A merchant's synchronous client. See ``Base.__init__`` for the options.

    >>> client = Client(mch_id="1900000109", api_key="…", appid="wx…",
    ...                 base_url="http://127.0.0.1:8700")          # wxpay-local
    >>> order = client.unifiedorder(body="Latte", out_trade_no="T1", total_fee=1800,
    ...     spbill_create_ip="127.0.0.1", notify_url="https://shop/notify", trade_type="NATIVE",
    ...     product_id="latte")
    >>> order["code_url"]
    """

    def __init__(self, *, http: httpx.Client | None = None, **options: Unpack[Options]) -> None:
        super().__init__(**options)
        self.http = http or httpx.Client(
            verify=self._verify, trust_env=False, headers={"User-Agent": USER_AGENT}
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    # --- the round trip ---------------------------------------------------------------------
    def _post(self, outgoing: Outgoing, timeout: float | None) -> tuple[bytes, Site]:
        attempts: list[Attempt] = []
        for site in self._tries(outgoing.endpoint):
            url = site.url(outgoing.path, cert=outgoing.endpoint.cert)
            try:
                response = self.http.post(
                    url,
                    content=outgoing.body,
                    headers={"Content-Type": "text/xml; charset=utf-8"},
                    timeout=timeout or outgoing.endpoint.timeout,
                )
                if response.status_code >= 500:
                    raise httpx.RemoteProtocolError(f"HTTP {response.status_code}")
            except httpx.HTTPError as exc:
                attempts.append(self._failed(outgoing, site, exc))
                continue
            self.hosts.succeeded(site)
            return response.content, site
        raise self._give_up(outgoing, attempts)

    def _signing_key(self) -> str | None:
        if self.config.sandbox and self._sandbox_key is None:
            self._sandbox_key = self.getsignkey()["sandbox_signkey"]
        return self._sandbox_key

    def _exchange(
        self, name: str, fields: Mapping[str, object], timeout: float | None, *, file: bool
    ) -> dict[str, object] | bytes:
        endpoint = ENDPOINTS[name]
        key = None if name == "getsignkey" else self._signing_key()
        outgoing = prepare(self.config, endpoint, fields, key=key)
        started = self.clock()
        site = self.hosts.primary
        try:
            content, site = self._post(outgoing, timeout)
            answer: dict[str, object] | bytes = (
                interpret_file(outgoing, content) if file else interpret(outgoing, content)
            )
        except WxPayError as error:
            self._forget_sandbox_key(error)
            self._report(self._report_fields(outgoing, site, started, error))
            raise
        if isinstance(answer, dict):
            self._report(self._report_fields(outgoing, site, started, None))
        return answer

    def _report(self, fields: dict[str, object] | None) -> None:
        if fields is not None:
            try:
                self.request("report", fields)
            except WxPayError:
                pass  # reports are telemetry: never fail the merchant's call (spec §4.6)

    def request(
        self, name: str, fields: Mapping[str, object], *, timeout: float | None = None
    ) -> dict[str, object]:
        """Any endpoint of ``core.ENDPOINTS`` by name with raw fields: the verified answer."""
        return cast(dict[str, object], self._exchange(name, fields, timeout, file=False))

    # --- the endpoints ----------------------------------------------------------------------
    def micropay(
        self, *, timeout: float | None = None, **args: Unpack[MicropayArgs]
    ) -> MicropayResult:
        return cast(MicropayResult, self.request("micropay", args, timeout=timeout))

    def unifiedorder(
        self, *, timeout: float | None = None, **args: Unpack[UnifiedOrderArgs]
    ) -> UnifiedOrderResult:
        return cast(UnifiedOrderResult, self.request("unifiedorder", args, timeout=timeout))

    def orderquery(
        self, *, timeout: float | None = None, **args: Unpack[OrderRef]
    ) -> OrderQueryResult:
        return cast(OrderQueryResult, self.request("orderquery", args, timeout=timeout))

    def closeorder(
        self, *, timeout: float | None = None, **args: Unpack[CloseOrderArgs]
    ) -> CloseOrderResult:
        return cast(CloseOrderResult, self.request("closeorder", args, timeout=timeout))

    def reverse(self, *, timeout: float | None = None, **args: Unpack[OrderRef]) -> ReverseResult:
        return cast(ReverseResult, self.request("reverse", args, timeout=timeout))

    def refund(self, *, timeout: float | None = None, **args: Unpack[RefundArgs]) -> RefundResult:
        """Safe to call again with the same out_refund_no (refunds file §2.6.2)."""
        return cast(RefundResult, self.request("refund", args, timeout=timeout))

    def refundquery(
        self, *, timeout: float | None = None, **args: Unpack[RefundQueryArgs]
    ) -> RefundQueryResult:
        return cast(RefundQueryResult, self.request("refundquery", args, timeout=timeout))

    def downloadbill(
        self, *, timeout: float | None = None, **args: Unpack[DownloadBillArgs]
    ) -> bytes:
        """The bill's bytes (gunzipped when ``tar_type="GZIP"``); ``bills.parse`` reads it."""
        return cast(bytes, self._exchange("downloadbill", args, timeout, file=True))

    def bill(self, *, timeout: float | None = None, **args: Unpack[DownloadBillArgs]) -> bills.Bill:
        """Download a trade bill (GZIP on the wire) and parse it into rows and totals."""
        args.setdefault("tar_type", "GZIP")
        return bills.parse(self.downloadbill(timeout=timeout, **args))

    def downloadfundflow(
        self, *, timeout: float | None = None, **args: Unpack[DownloadFundflowArgs]
    ) -> bytes:
        """The fund-flow bill's bytes (HMAC-SHA256 and the certificate, as the platform asks)."""
        return cast(bytes, self._exchange("downloadfundflow", args, timeout, file=True))

    def report(self, *, timeout: float | None = None, **args: Unpack[ReportArgs]) -> ReportResult:
        return cast(ReportResult, self.request("report", args, timeout=timeout))

    def shorturl(self, long_url: str, *, timeout: float | None = None) -> ShortUrlResult:
        return cast(
            ShortUrlResult, self.request("shorturl", {"long_url": long_url}, timeout=timeout)
        )

    def authcodetoopenid(
        self, auth_code: str, *, timeout: float | None = None
    ) -> AuthCodeToOpenidResult:
        fields = {"auth_code": auth_code}
        return cast(
            AuthCodeToOpenidResult, self.request("authcodetoopenid", fields, timeout=timeout)
        )

    def getsignkey(self, *, timeout: float | None = None) -> SignKeyResult:
        """The sandbox key (spec §1.6); the client fetches and caches it by itself when
        ``sandbox=True``, and fetches a new one when the platform refuses the cached one."""
        return cast(SignKeyResult, self.request("getsignkey", {}, timeout=timeout))

    # --- best practice ----------------------------------------------------------------------
    def micropay_best_practice(
        self,
        *,
        timings: best.Timings = best.DEFAULT_TIMINGS,
        sleep: Callable[[float], None] = time.sleep,
        on_step: Callable[[float, str], None] | None = None,
        **args: Unpack[MicropayArgs],
    ) -> best.Outcome:
        """Charge a payment code the way the platform asks (``micropay`` module): query after
        an unclear answer, reverse when still unclear, never within 15 s. ``sleep`` is
        injectable (tests, or an event loop of your own); ``on_step(seconds, text)`` hears
        each step as it happens (a till's screen)."""
        flow = best.flow(args, timings, on_step)
        step = next(flow)
        while True:
            reply: best.Reply | None = None
            if isinstance(step, best.Sleep):
                sleep(step.seconds)
            else:
                try:
                    reply = best.Reply(result=self.request(step.endpoint, step.fields))
                except WxPayError as error:
                    reply = best.Reply(error=error)
            try:
                step = flow.send(reply)
            except StopIteration as stop:
                return cast(best.Outcome, stop.value)
