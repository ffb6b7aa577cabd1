"""``wxpay-local serve`` as a separate process, the way a person starts it, and the CLI.

``serve(data_dir)`` starts it on free ports, waits for the banner and ``/_local/health``, and
stops it with Ctrl-C (SIGINT) afterwards; ``cli(...)`` runs one ``wxpay-local`` command.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from wxpay_local.testing.harness import free_port

DEMO_MCH_ID = "1900000109"
START_SECONDS = 60


@dataclass
class Served:
    process: subprocess.Popen[str]
    url: str
    tls_port: int
    banner: str

    def _banner(self, pattern: str) -> str:
        found = re.search(pattern, self.banner)
        assert found, self.banner
        return found.group(1)

    @property
    def api_key(self) -> str:
        return self._banner(r"mch_id=" + DEMO_MCH_ID + r"\s+api_key=(\w{32})")

    @property
    def appid(self) -> str:
        return self._banner(r"appid=(wx\w+)\s+kind=official_account")


def cli(
    *args: str, url: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """One ``wxpay-local`` command against ``url``; ``env``: more environment variables."""
    return subprocess.run(
        [sys.executable, "-m", "wxpay_local", *args, "--url", url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **(env or {})},
    )


def _start(data_dir: Path, extra: tuple[str, ...], token: str) -> Served | None:
    """Start ``serve`` on two free ports; None when a port was taken meanwhile (retry)."""
    port, tls_port = free_port(), free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wxpay_local",
            "serve",
            "--data-dir",
            str(data_dir),
            "--port",
            str(port),
            "--tls-port",
            str(tls_port),
            "--log-level",
            "warning",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    url = f"http://127.0.0.1:{port}"
    lines: list[str] = []
    deadline = time.monotonic() + START_SECONDS
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "openapi.json" in line:
            break
    while time.monotonic() < deadline and process.poll() is None:
        try:
            auth = {"authorization": f"Bearer {token}"} if token else {}
            health = httpx.get(url + "/_local/health", headers=auth, timeout=1, trust_env=False)
            if health.status_code == 200 or (health.status_code == 401 and not token):
                return Served(process, url, tls_port, "".join(lines))
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    output = "".join(lines) + process.stdout.read()
    process.wait(5)
    process.stdout.close()
    if "address already in use" in output:
        return None
    pytest.fail("server did not start:\n" + output)


@contextmanager
def serve(data_dir: Path, *extra: str, token: str = "") -> Iterator[Served]:
    """``wxpay-local serve`` with ``extra`` options; ``token``: the admin token it needs (without
    one, a server that wants a token counts as started when it answers 401)."""
    for _ in range(3):
        served = _start(data_dir, extra, token)
        if served is not None:
            break
    else:
        pytest.fail("no free port pair for wxpay-local serve after 3 tries")
    process = served.process
    assert process.stdout is not None
    try:
        yield served
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        process.stdout.close()
