"""The pytest plugin: a running wxpay-local for the tests of a merchant's own code.

Installed with the package (entry point ``pytest11``), it adds fixtures and nothing else:

- ``wxpay``: a live platform on a loopback port (real HTTP; HTTPS with client certificates on
  ``wxpay.tls_url``), emptied before each test. Point the code under test at
  ``wxpay.base_url``; create parties with ``wxpay.merchant()``, ``wxpay.payer()``; pay with
  ``wxpay.pay(...)``; move time with ``wxpay.advance(seconds)``; read ``wxpay.journal()``.
- ``wxpay_sink``: a notify_url that records what the platform posts (``.url``, ``.received``).

One server per test session (per xdist worker), on SQLite in a temporary folder, so a test
costs a reset, not a start. ``--wxpay-database-url postgresql://…`` runs it on PostgreSQL
instead (give each xdist worker its own database). After each test the ledger is checked:
all balances still sum to zero.

``--wxpay-url http://host:port`` (or ``WXPAY_URL``) uses an already-running server instead:
each session (each xdist worker) gets a namespace of its own on it, emptied before each test,
or, with ``--wxpay-namespace-per test``, each test a fresh one; ``--wxpay-admin-token`` (or
``WXPAY_ADMIN_TOKEN``) when the server asks for one (docs/namespaces.md).

Every pytest run in an environment where the package is installed loads this module, also
for projects that never use it: so it imports nothing but pytest at load time (the platform is
imported by the fixtures, when a test asks for one) and adds nothing but an option and the
fixtures.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from wxpay_local.testing.harness import Harness, MerchantSink


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("wxpay-local")
    group.addoption(
        "--wxpay-database-url",
        default="",
        help="wxpay-local: run the test platform on this PostgreSQL URL (default: SQLite)",
    )
    group.addoption(
        "--wxpay-url",
        default="",
        help="wxpay-local: use namespaces of the server running at this URL (env WXPAY_URL)",
    )
    group.addoption(
        "--wxpay-admin-token",
        default="",
        help="wxpay-local: that server's admin token (env WXPAY_ADMIN_TOKEN)",
    )
    group.addoption(
        "--wxpay-namespace-per",
        choices=("worker", "test"),
        default="worker",
        help="wxpay-local: with --wxpay-url, one namespace per xdist worker (default) or test",
    )


def _remote(config: pytest.Config) -> tuple[str, str]:
    url = config.getoption("--wxpay-url") or os.environ.get("WXPAY_URL", "")
    token = config.getoption("--wxpay-admin-token") or os.environ.get("WXPAY_ADMIN_TOKEN", "")
    return str(url), str(token)


@pytest.fixture(scope="session")
def wxpay_server(
    pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Harness]:
    """The session's platform (use ``wxpay``, which empties it before each test)."""
    url, token = _remote(pytestconfig)
    if url:
        from wxpay_local.testing.namespace import namespace_harness

        with namespace_harness(url, token) as harness:
            yield harness
        return
    from wxpay_local.settings import Settings
    from wxpay_local.store import open_store
    from wxpay_local.testing.harness import Harness

    url = pytestconfig.getoption("--wxpay-database-url") or str(
        tmp_path_factory.mktemp("wxpay") / "wxpay.sqlite3"
    )
    store = open_store(url, durability="normal")
    try:
        settings = Settings(notify_timeout_seconds=2.0, durability="normal")
        with Harness.start(store, live=True, settings=settings) as harness:
            yield harness
    finally:
        store.close()


@pytest.fixture
def wxpay(request: pytest.FixtureRequest) -> Iterator[Harness]:
    """A clean platform for this test: no merchants, payers or orders; real time."""
    url, token = _remote(request.config)
    if url and request.config.getoption("--wxpay-namespace-per") == "test":
        from wxpay_local.testing.namespace import namespace_harness, namespace_name

        with namespace_harness(url, token, namespace_name("t")) as harness:
            yield harness
            harness.assert_ledger_balanced()
        return
    server: Harness = request.getfixturevalue("wxpay_server")
    server.reset()
    yield server
    server.assert_ledger_balanced()


@pytest.fixture
def wxpay_sink() -> Iterator[MerchantSink]:
    """A merchant notify_url on a loopback port that records each notification."""
    from wxpay_local.testing.harness import MerchantSink

    with MerchantSink() as sink:
        yield sink
