"""``serve --workers 2``: a change of platform state is seen by every process on the next request.

Each read goes through a fresh connection, so the kernel hands them to either worker; before
the shared-state check, most reads right after an advance came from the process that had not
yet refreshed its clock and showed the old day.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from wxpay_local.testing.harness import free_port, wait_for

PG_URL = os.environ.get("WXPAY_TEST_PG_URL", "")
PG_SKIP = "PostgreSQL tier skipped: set WXPAY_TEST_PG_URL=postgresql://… to run it"
READS = 20
DEMO_MCH_ID = "1900000109"

pytestmark = pytest.mark.e2e


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'wxpay.sqlite3'}"
        return
    if not PG_URL:
        pytest.skip(PG_SKIP)
    import psycopg

    schema = f"wxpay_shared_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{separator}options={quote(f'-csearch_path={schema}', safe='')}"
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "wxpay_local", "serve", "--workers", "2"]
            + ["--data-dir", str(tmp_path / "data"), "--database-url", database_url]
            + ["--port", str(port), "--tls-port", str(free_port()), "--log-level", "info"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if process.poll() is not None:
            return True
        return log.read_text(errors="replace").count("Application startup complete.") == 2

    try:
        wait_for(ready, timeout=60, interval=0.1)
        assert process.poll() is None, log.read_text(errors="replace")
        yield url
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def _fresh(method: str, url: str, **kwargs: object) -> httpx.Response:
    """One request on a connection of its own (either worker may accept it)."""
    with httpx.Client(trust_env=False, timeout=10) as client:
        answer = client.request(method, url, **kwargs)  # type: ignore[arg-type]
    assert answer.status_code == 200, answer.text
    return answer


def _day(url: str) -> str:
    now = datetime.fromisoformat(_fresh("GET", url + "/_local/clock").json()["now"])
    return now.date().isoformat()


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_a_clock_advance_is_seen_by_every_worker_at_once(server: str) -> None:
    _fresh("POST", server + "/_local/clock", json={"now": "2031-03-04T10:00:00+08:00"})
    assert {_day(server) for _ in range(READS)} == {"2031-03-04"}
    for day in ("2031-03-05", "2031-03-06"):
        _fresh("POST", server + "/_local/clock/advance", json={"seconds": 86_400})
        assert [_day(server) for _ in range(READS)] == [day] * READS


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_a_reset_is_seen_by_every_worker_at_once(server: str) -> None:
    _fresh("POST", server + "/_local/clock", json={"now": "2031-03-04T10:00:00+08:00"})
    _fresh("POST", server + "/_local/reset", json={})
    days = [_day(server) for _ in range(READS)]
    assert "2031-03-04" not in days, days


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_a_merchant_setting_is_seen_by_every_worker_at_once(server: str) -> None:
    config = f"{server}/_local/merchants/{DEMO_MCH_ID}/config"
    for sign_type in ("ORDER", "MD5"):
        _fresh("POST", config, json={"notify_sign_type": sign_type})
        seen = [_fresh("GET", config).json()["notify_sign_type"] for _ in range(READS)]
        assert seen == [sign_type] * READS
