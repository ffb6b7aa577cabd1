"""What the browser tests share: headless Debian Chromium via Playwright, a live platform,
phone-sized tabs, screenshots on failure (``artifacts/``) and for the docs, a merchant site.

Without Playwright's Python package or ``/usr/bin/chromium`` the browser fixtures skip with a
one-line reason. Import the helpers (``from browser_support import …``); the fixtures are
registered by ``tests/e2e/conftest.py``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from wxpay_local.store import open_store
from wxpay_local.testing import Harness

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
DOCS_SHOTS = ROOT / "docs" / "screenshots"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 390, "height": 844}

DESKTOP = {"width": 1280, "height": 860}


def _sync_api() -> Any:
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium (apt-get install chromium)")
    return pytest.importorskip(
        "playwright.sync_api", reason="Playwright's Python package is not installed"
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with _sync_api().sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def web(tmp_path: Path) -> Iterator[Harness]:
    store = open_store(str(tmp_path / "wxpay.sqlite3"))
    try:
        with Harness.start(store, live=True) as harness:
            yield harness
            harness.assert_ledger_balanced()
    finally:
        store.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, locale="zh-CN")
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    tab.console_errors = []
    tab.on("console", lambda m: m.type == "error" and tab.console_errors.append(m.text))
    yield tab
    context.close()


@pytest.fixture
def desk(browser: Any) -> Iterator[Any]:
    """A desktop-sized tab (the console is a desktop admin)."""
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    tab.console_errors = []

    def console(message: Any) -> None:
        # a failed load is reported by the response hook, where its URL is known
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            tab.console_errors.append(message.text)

    def response(answer: Any) -> None:
        # Chromium asks for /favicon.ico on its own; the console has none
        if answer.status >= 400 and not answer.url.endswith("/favicon.ico"):
            tab.console_errors.append(f"{answer.status} {answer.url}")

    tab.on("console", console)
    tab.on("response", response)
    yield tab
    context.close()


@contextmanager
def screenshot_on_failure(tab: Any, name: str) -> Iterator[None]:
    try:
        yield
    except BaseException:
        ARTIFACTS.mkdir(exist_ok=True)
        tab.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        raise


def docs_shot(tab: Any, name: str, *, full_page: bool = False) -> None:
    """With ``WXPAY_DOCS_SCREENSHOTS=1`` (``docs/screenshots.py``), the page into the docs;
    never in the default run. A name with a slash goes into that sub-directory."""
    if os.environ.get("WXPAY_DOCS_SCREENSHOTS") == "1":
        path = DOCS_SHOTS / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=str(path), full_page=full_page)


@contextmanager
def merchant_site(pages: dict[str, str], host: str = "127.0.0.1") -> Iterator[str]:
    """A merchant's site on a loopback server of its own (another origin than the platform;
    ``host="127.0.0.2"`` makes it another site as well).

    ``pages`` maps paths to HTML (``*`` for any other path); a test may fill it in after
    learning the site's URL.
    """

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            path = urlsplit(self.path).path
            body = pages.get(path, pages.get("*", "not found")).encode()
            self.send_response(200)
            self.send_header("content-type", "text/html; charset=utf-8")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((host, 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def console_login(
    tab: Any, web: Harness, account: str, password: str, path: str = "/console"
) -> None:
    """Sign in to the merchant console in tab (a merchant's mch_id, or ``operator``)."""
    tab.goto(f"{web.base_url}/console/login?next={path}")
    tab.fill("#account", account)
    tab.fill("#password", password)
    tab.click("#login")
    tab.wait_for_url(f"{web.base_url}{path}*")


def operator_password(web: Harness) -> str:
    return web.operator_password()


AXE = ROOT / "tests" / "node" / "node_modules" / "axe-core" / "axe.min.js"
#: axe-core's "serious" and "critical" violations, and elements sticking out of the viewport.
AXE_RUN = (Path(__file__).parent / "axe_run.js").read_text()
OVERFLOW = (Path(__file__).parent / "overflow.js").read_text()


def axe_violations(tab: Any) -> list[str]:
    """axe-core (npm, ``tests/node``) injected into the page (or frame): its serious and
    critical violations. The tab's context needs ``bypass_csp=True`` for pages with a CSP."""
    if not AXE.exists():
        pytest.skip("axe-core is not installed: npm ci --prefix tests/node")
    tab.add_script_tag(path=str(AXE))
    return list(tab.evaluate(AXE_RUN))


def overflow(tab: Any) -> list[str]:
    """Elements that stick out of the viewport to the right (cut off, or a page scrolling
    sideways): what a person on that screen would not see. Scrolling containers are fine."""
    return list(tab.evaluate(OVERFLOW))
