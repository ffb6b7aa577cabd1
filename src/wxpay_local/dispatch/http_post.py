"""The notifications' HTTP client: one POST, an answer, keep-alive connections per origin.

httpx spent most of a dispatcher's time in its own machinery (a profile put ~90 % of it in
httpx/httpcore's pool bookkeeping), so a notification is posted on an asyncio ``Protocol`` with
httptools' C parser (shipped with uvicorn[standard]) reading the answer. It does what the
dispatcher needs and nothing more: HTTP/1.1 POST, no redirects followed (a 3xx is an answer,
judged as such), no proxies from the environment, TLS verified as httpx verifies it by default
(its ``create_ssl_context()``: certifi's roots, hostnames checked), answers framed by
Content-Length, chunked or the end of the connection, read up to ``BODY_CAP``.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field
from typing import cast
from urllib.parse import quote, urlsplit

import httptools
import httpx

#: The most of an answer kept; the rest is dropped and the connection closed. The judge needs
#: a few hundred bytes, and a merchant that streams forever must not fill the memory.
BODY_CAP = 64 * 1024
#: Connections kept open to one origin (idle and busy together).
PER_ORIGIN = 32
USER_AGENT = b"wxpay-local"
#: Characters of a URL's path and query sent as they are (anything else is percent-encoded).
_URL_SAFE = "/?&=%:@!$'()*+,;~[]"


class ConnectError(OSError):
    """The connection could not be made (refused, unreachable, name unknown, TLS refused)."""


class ReadError(OSError):
    """The connection broke, or the answer was not HTTP, before the answer was complete."""


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection; one request at a time on it."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        #: Done when the transport has let its socket go (``Poster.close`` waits for it).
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._parser = httptools.HttpResponseParser(self)
        self._answer: asyncio.Future[Answer] | None = None
        self._body: list[bytes] = []
        self._size = 0
        self._headers_done = False
        self._framed = False  # Content-Length or chunked: the parser knows where it ends

    # asyncio.Protocol ----------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Not an isinstance check: uvloop's TCPTransport (what `serve` runs on) is a transport
        # by behaviour, not a subclass of asyncio.Transport.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self._answer is None or self._answer.done():
            self.close()  # bytes nobody asked for: the connection cannot be trusted again
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(ReadError(f"the answer is not HTTP/1.1 ({exc})"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.lost.done():
            self.lost.set_result(None)
        if self._answer is None or self._answer.done():
            return
        if self._headers_done and not self._framed:  # an answer that ends with the connection
            self._complete()
        else:
            self._fail(ReadError(str(exc) if exc else "the server closed the connection"))

    # httptools callbacks -------------------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        lowered = name.lower()
        if lowered == b"content-length" or (
            lowered == b"transfer-encoding" and b"chunked" in value.lower()
        ):
            self._framed = True

    def on_headers_complete(self) -> None:
        self._headers_done = True

    def on_body(self, body: bytes) -> None:
        room = BODY_CAP - self._size
        if room > 0:
            self._body.append(body[:room])
        self._size += len(body)

    def on_message_complete(self) -> None:
        if not self._parser.should_keep_alive():
            self.close()
        self._complete()

    # the client's side ---------------------------------------------------------------------
    async def post(self, head: bytes, body: bytes) -> Answer:
        assert self.transport is not None
        self._answer = asyncio.get_running_loop().create_future()
        self._body, self._size, self._headers_done, self._framed = [], 0, False, False
        self.transport.write(head + body)
        return await self._answer

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _complete(self) -> None:
        if self._size > BODY_CAP:
            self.close()  # the rest of it was never read
        assert self._answer is not None
        if not self._answer.done():
            status = self._parser.get_status_code()
            self._answer.set_result(Answer(status, b"".join(self._body)))

    def _fail(self, error: Exception) -> None:
        self.close()
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(error)


@dataclass
class _Origin:
    idle: list[_Connection] = field(default_factory=list)
    slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(PER_ORIGIN))


class Poster:
    """POSTs bodies to URLs over kept-alive connections; ``close()`` closes every one."""

    def __init__(self) -> None:
        self._origins: dict[tuple[str, str, int], _Origin] = {}
        #: Every connection still open, idle or busy, so that ``close`` leaves no socket behind.
        self._open: set[_Connection] = set()
        self._tls: ssl.SSLContext | None = None

    async def post(self, url: str, body: bytes, content_type: bytes, timeout: float) -> Answer:
        """The merchant's answer; TimeoutError past ``timeout`` seconds in all (connecting
        included), ConnectError or ReadError when the connection fails."""
        parts = urlsplit(url)
        scheme, host = parts.scheme.lower(), parts.hostname or ""
        if scheme not in ("http", "https") or not host:
            raise ConnectError(f"not an http(s) URL: {url!r}")
        port = parts.port or (443 if scheme == "https" else 80)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        netloc = parts.netloc.rpartition("@")[2]  # never the userinfo
        head = (
            b"POST "
            + quote(target, safe=_URL_SAFE).encode()
            + b" HTTP/1.1\r\n"
            + b"Host: "
            + netloc.encode("idna")
            + b"\r\nUser-Agent: "
            + USER_AGENT
            + b"\r\nAccept: */*\r\nConnection: keep-alive\r\n"
            + b"Content-Type: "
            + content_type
            + b"\r\nContent-Length: "
            + str(len(body)).encode()
            + b"\r\n\r\n"
        )
        origin = self._origins.setdefault((scheme, host, port), _Origin())
        async with asyncio.timeout(timeout), origin.slots:
            connection = self._reuse(origin)
            if connection is None:
                connection = await self._connect(scheme, host, port)
            try:
                answer = await connection.post(head, body)
            except BaseException:  # timed out, cancelled, broken: half a conversation
                connection.close()
                raise
            if not connection.closed:
                origin.idle.append(connection)
            return answer

    @staticmethod
    def _reuse(origin: _Origin) -> _Connection | None:
        while origin.idle:
            connection = origin.idle.pop()
            if not connection.closed:
                return connection
        return None

    async def _connect(self, scheme: str, host: str, port: int) -> _Connection:
        tls = None
        if scheme == "https":
            if self._tls is None:
                self._tls = httpx.create_ssl_context()  # verification exactly as before
            tls = self._tls
        loop = asyncio.get_running_loop()
        try:
            _, connection = await loop.create_connection(
                _Connection, host, port, ssl=tls, server_hostname=host if tls else None
            )
        except (OSError, ssl.SSLError) as exc:
            raise ConnectError(str(exc) or exc.__class__.__name__) from exc
        self._open.add(connection)
        connection.lost.add_done_callback(lambda _: self._open.discard(connection))
        return connection

    async def close(self) -> None:
        """Close every connection and wait (briefly) until their sockets are released."""
        connections = list(self._open)
        for connection in connections:
            connection.close()
        self._origins.clear()
        self._open.clear()
        if connections:
            await asyncio.wait([c.lost for c in connections], timeout=1.0)
