"""Loopback endpoints a test stands up for the platform to call, and polling.

``MerchantSink`` is a merchant's notify_url: it records what arrives and answers as told;
``xml_endpoint`` is any other merchant endpoint (the Native mode 1 scan callback). Split out of
harness.py to keep both modules short; harness.py re-exports the names.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], timeout: float = 20.0, interval: float = 0.02) -> T:
    """Poll until predicate returns something truthy; fail loudly after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


@contextmanager
def xml_endpoint(
    answer: Callable[[bytes], tuple[int, bytes]], path: str = "/wxpay/callback"
) -> Iterator[str]:
    """A merchant endpoint the platform calls (e.g. the Native mode 1 scan callback) on a
    loopback port: each POSTed body goes to ``answer``, whose (status, XML) is sent back.
    Yields the endpoint's URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            status, body = answer(self.rfile.read(int(self.headers.get("content-length", "0"))))
            self.send_response(status)
            self.send_header("content-type", "text/xml")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{path}"
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class MerchantSink:
    """A merchant's notify endpoint on loopback: records requests, answers from a script."""

    #: Answers to give, in order (status, body); the last one repeats.
    answers: list[tuple[int, bytes]] = field(
        default_factory=lambda: [
            (
                200,
                b"<xml><return_code><![CDATA[SUCCESS]]></return_code>"
                b"<return_msg><![CDATA[OK]]></return_msg></xml>",
            )
        ]
    )
    received: list[Received] = field(default_factory=list)
    delay: float = 0.0

    def __post_init__(self) -> None:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                index = len(sink.received)
                sink.received.append(Received(self.path, dict(self.headers), body))
                if sink.delay:
                    time.sleep(sink.delay)
                status, answer = sink.answers[min(index, len(sink.answers) - 1)]
                self.send_response(status)
                self.send_header("content-type", "text/xml")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            request_queue_size = 128  # notifications arrive in bursts
            daemon_threads = True

        self._server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/wxpay/notify"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def answer_fail_then_success(self, failures: int) -> None:
        fail = (
            b"<xml><return_code><![CDATA[FAIL]]></return_code><return_msg>busy</return_msg></xml>"
        )
        self.answers = [(200, fail)] * failures + [self.answers[-1]]

    def __enter__(self) -> MerchantSink:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
