"""A scripted v2 platform for the SDK's failover and micropay tests (wxpay-local has no fault
rules yet): answers per path from a script, signed with an independent signer
(tests/api/reference_wire.py); records every request. An answer may be ``DROP`` (close the
connection unanswered), ``("sleep", seconds, answer)`` or an HTTP status with no XML."""

from __future__ import annotations

import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from reference_wire import signed, to_xml

DROP = "drop"
APPID, MCH_ID, KEY = "wx8888888888888888", "1900000109", "Wh7Qx2LmP9sT4vB8nK3dR6yF1gJ5zC0a"


def ok(**fields: object) -> dict[str, object]:
    """A signed SUCCESS answer's fields (signed when sent)."""
    return {
        "return_code": "SUCCESS",
        "return_msg": "OK",
        "appid": APPID,
        "mch_id": MCH_ID,
        "nonce_str": "IITRi8Iabbblz1Jc",
        "result_code": "SUCCESS",
        **fields,
    }


def refused(err_code: str, err_code_des: str = "") -> dict[str, object]:
    return ok(result_code="FAIL", err_code=err_code, err_code_des=err_code_des or err_code)


@dataclass
class Request:
    path: str
    fields: dict[str, str]
    at: float


@dataclass
class Scripted:
    script: dict[str, list[Any]] = field(default_factory=dict)
    key: str = KEY
    requests: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        platform = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                fields = {c.tag: c.text or "" for c in ET.fromstring(body)}
                platform.requests.append(Request(self.path, fields, time.monotonic()))
                answers = platform.script.get(self.path) or [refused("SYSTEMERROR")]
                seen = sum(1 for r in platform.requests if r.path == self.path) - 1
                answer = answers[min(seen, len(answers) - 1)]
                if isinstance(answer, tuple) and answer[0] == "sleep":
                    time.sleep(answer[1])
                    answer = answer[2]
                if answer == DROP:
                    self.close_connection = True
                    self.connection.close()
                    return
                status = answer if isinstance(answer, int) else 200
                data = b"" if isinstance(answer, int) else self._xml(answer, fields)
                self.send_response(status)
                self.send_header("content-type", "text/xml")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _xml(self, answer: dict[str, object], request: dict[str, str]) -> bytes:
                if answer.get("return_code") != "SUCCESS" or self.path.endswith("report"):
                    return to_xml(answer)
                sign_type = request.get("sign_type", "MD5")
                return to_xml(signed(answer, platform.key, sign_type))

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

        self._server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]

    def __enter__(self) -> Scripted:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
