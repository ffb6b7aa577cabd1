"""Namespaces (docs/namespaces.md): isolated platforms on one server under /ns/<name>, driven
over real sockets with the SDK (wxpay_sdk) pointed at the namespace's base URL, on SQLite and
PostgreSQL (the ``live`` fixture runs both)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from wxpay_local.cli import main
from wxpay_local.store import open_store
from wxpay_local.testing import Harness

try:
    from wxpay_sdk import Client, ResultError
except ImportError:  # an environment made before the SDK was installed: its source tree
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "sdk" / "src"))
    from wxpay_sdk import Client, ResultError

pytestmark = pytest.mark.e2e


class Space:
    """One namespace seen from outside: its base URL, its control plane, an SDK client."""

    def __init__(self, h: Harness, name: str) -> None:
        made = h.control("POST", "/_local/namespaces", {"name": name, "seed": 7})
        self.base_url = made["base_url"]
        self.http = h.http
        self.clients: list[Client] = []

    def control(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        response = self.http.request(method, self.base_url + path, json=body)
        assert response.status_code == expect, response.text
        return response.json()

    def client(self, merchant: dict[str, Any]) -> Client:
        client = Client(
            base_url=self.base_url,
            mch_id=merchant["mch_id"],
            api_key=merchant["api_key"],
            appid=merchant["apps"][0]["appid"],
        )
        self.clients.append(client)
        return client

    def close(self) -> None:
        for client in self.clients:
            client.close()


@pytest.fixture
def root(live: Harness) -> Iterator[Harness]:
    """The live platform; its namespaces are dropped afterwards (on PostgreSQL they are
    schemas that outlive the server)."""
    yield live
    for found in live.control("GET", "/_local/namespaces")["namespaces"]:
        live.control("DELETE", f"/_local/namespaces/{found['name']}")


@pytest.fixture
def spaces(root: Harness) -> Iterator[tuple[Harness, Space, Space]]:
    a, b = Space(root, "team_a"), Space(root, "team_b")
    yield root, a, b
    a.close()
    b.close()


def order(client: Client, total_fee: int) -> dict[str, Any]:
    return dict(
        client.unifiedorder(
            out_trade_no="SAME-1",
            body="Namespace test",
            total_fee=total_fee,
            spbill_create_ip="203.0.113.10",
            notify_url="http://127.0.0.1:9/notify",
            trade_type="NATIVE",
            product_id="P1",
        )
    )


def test_two_namespaces_same_order_number_own_clocks(
    spaces: tuple[Harness, Space, Space],
) -> None:
    root, a, b = spaces
    a.control("POST", "/_local/clock", {"now": "2030-01-02T10:00:00+08:00", "freeze": True})
    b.control("POST", "/_local/clock", {"now": "2031-07-08T15:30:00+08:00", "freeze": True})
    shop_a = a.control("POST", "/_local/merchants", {"name": "Shop A"})
    shop_b = b.control("POST", "/_local/merchants", {"name": "Shop B"})
    payer_a = a.control("POST", "/_local/payers", {"name": "Ann", "balance": 10_000})
    payer_b = b.control("POST", "/_local/payers", {"name": "Bob", "balance": 10_000})
    client_a, client_b = a.client(shop_a), b.client(shop_b)

    made_a, made_b = order(client_a, 101), order(client_b, 202)
    a.control(
        "POST", "/_local/pay", {"code_url": made_a["code_url"], "payer_id": payer_a["payer_id"]}
    )
    b.control(
        "POST", "/_local/pay", {"code_url": made_b["code_url"], "payer_id": payer_b["payer_id"]}
    )

    seen_a = client_a.orderquery(out_trade_no="SAME-1")
    seen_b = client_b.orderquery(out_trade_no="SAME-1")
    assert (seen_a["total_fee"], seen_a["time_end"]) == (101, "20300102100000")
    assert (seen_b["total_fee"], seen_b["time_end"]) == (202, "20310708153000")
    assert a.control("GET", "/_local/clock")["now"].startswith("2030-01-02T10:00:00")
    assert b.control("GET", "/_local/clock")["now"].startswith("2031-07-08T15:30:00")

    # Neither sees the other's merchants, and the server's own platform sees neither.
    listed_a = [m["mch_id"] for m in a.control("GET", "/_local/merchants")["merchants"]]
    assert listed_a == [shop_a["mch_id"]]
    assert root.control("GET", "/_local/merchants")["merchants"] == []
    assert root.control("GET", "/_local/orders")["orders"] == []
    journal_a = a.control("GET", "/_local/journal")["entries"]
    assert {e["endpoint"] for e in journal_a} >= {"unifiedorder", "orderquery"}
    assert all(e["mch_id"] in ("", shop_a["mch_id"]) for e in journal_a)

    # Dropping one leaves the other whole.
    root.control("DELETE", "/_local/namespaces/team_a")
    gone = root.http.post(a.base_url + "/pay/orderquery", content=b"<xml></xml>")
    assert gone.status_code == 404 and gone.json()["error"] == "NO_NAMESPACE"
    assert client_b.orderquery(out_trade_no="SAME-1")["total_fee"] == 202
    names = {n["name"] for n in root.control("GET", "/_local/namespaces")["namespaces"]}
    # (on PostgreSQL the session's schema may hold namespaces other tests made)
    assert "team_b" in names and "team_a" not in names


def test_snapshot_and_restore_bring_back_the_fixture_state(
    spaces: tuple[Harness, Space, Space],
) -> None:
    root, a, _ = spaces
    a.control("POST", "/_local/clock", {"now": "2030-01-02T10:00:00+08:00", "freeze": True})
    shop = a.control("POST", "/_local/merchants", {"name": "Shop A"})
    client = a.client(shop)
    root.control("POST", "/_local/namespaces/team_a/snapshots/fixture")

    order(client, 300)
    a.control("POST", "/_local/clock/advance", {"seconds": 86_400})
    assert client.orderquery(out_trade_no="SAME-1")["trade_state"] == "NOTPAY"

    answer = root.control("POST", "/_local/namespaces/team_a/snapshots/fixture/restore")
    assert answer == {"namespace": "team_a", "restored": "fixture"}
    with pytest.raises(ResultError) as refused:
        client.orderquery(out_trade_no="SAME-1")
    assert refused.value.err_code == "ORDERNOTEXIST"
    assert a.control("GET", "/_local/clock")["now"].startswith("2030-01-02T10:00:00")
    # The merchant of the fixture is still there: the same order number can be made again.
    assert order(client, 400)["return_code"] == "SUCCESS"


def test_refusals_are_json_4xx(root: Harness) -> None:
    live = root
    live.control("POST", "/_local/namespaces", {"name": "dup"})
    again = live.control("POST", "/_local/namespaces", {"name": "dup"}, expect=409)
    assert again["error"] == "NAMESPACE_EXISTS"
    assert (
        live.control("POST", "/_local/namespaces", {"name": "No/Slash"}, expect=400)["error"]
        == "BAD_FIELD"
    )
    missing = live.control("POST", "/_local/namespaces/dup/snapshots/nope/restore", expect=404)
    assert missing["error"] == "NOT_FOUND"
    assert live.control("DELETE", "/_local/namespaces/nobody", expect=404)["error"] == "NOT_FOUND"
    # Inside a namespace there are no namespaces of namespaces.
    inner = live.http.get("/ns/dup/_local/namespaces")
    assert inner.status_code == 404 and inner.json()["error"] == "NOT_FOUND"


def test_namespace_control_plane_keeps_the_boundary(root: Harness) -> None:
    """A cross-site page cannot drive a namespace's control plane either."""
    live = root
    live.control("POST", "/_local/namespaces", {"name": "guarded"})
    forged = httpx.post(
        live.base_url + "/ns/guarded/_local/reset",
        json={},
        headers={"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"},
        trust_env=False,
    )
    assert forged.status_code == 403 and forged.json()["error"] == "CROSS_SITE"


SHARED_SERVER_TESTS = """
import pytest


@pytest.mark.parametrize("n", [1, 2, 3])
def test_same_order_number_in_each_test(wxpay, n):
    assert wxpay.control("GET", "/_local/merchants")["merchants"] == []
    assert "/ns/pytest_" in wxpay.base_url
    merchant = wxpay.merchant(name=f"Shop {n}")
    client = wxpay.client(merchant)
    answer = client.unifiedorder(
        body="Tea", out_trade_no="SAME", total_fee=100 * n, spbill_create_ip="127.0.0.1",
        notify_url="http://127.0.0.1:9/", trade_type="NATIVE", product_id="tea",
    )
    payer = wxpay.payer(balance=5000)
    wxpay.pay(payer["payer_id"], code_url=answer["code_url"])
    assert client.orderquery(out_trade_no="SAME")["total_fee"] == str(100 * n)
"""


@pytest.fixture
def sqlite_root(tmp_path: Path) -> Iterator[Harness]:
    """A live server on SQLite only: the plugin's side does not depend on the database, and a
    pytest in a subprocess costs seconds."""
    store = open_store(str(tmp_path / "wxpay.sqlite3"))
    try:
        with Harness.start(store, live=True) as harness:
            yield harness
    finally:
        store.close()


@pytest.mark.parametrize("per", ["worker", "test"])
def test_pytest_plugin_on_a_shared_server(sqlite_root: Harness, tmp_path: Path, per: str) -> None:
    """A merchant's suite, run by a separate pytest pointed at this server with --wxpay-url:
    its tests run in namespaces, which are gone afterwards; the server's own data is untouched."""
    root = sqlite_root
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_shop.py").write_text(SHARED_SERVER_TESTS, encoding="utf-8")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            f"--wxpay-url={root.base_url}",
            f"--wxpay-namespace-per={per}",
        ],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "3 passed" in run.stdout
    assert root.control("GET", "/_local/namespaces")["namespaces"] == []
    assert root.control("GET", "/_local/merchants")["merchants"] == []


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    with pytest.raises(SystemExit) as done:
        main(list(argv))
    code = done.value.code
    return (code if isinstance(code, int) else 0), capsys.readouterr().out


def test_cli_namespace_commands(sqlite_root: Harness, capsys: pytest.CaptureFixture[str]) -> None:
    url = sqlite_root.base_url
    assert cli(capsys, "namespace", "create", "cli_a", "--url", url) == (0, f"{url}/ns/cli_a\n")
    # Any other command works in it, given the namespace's URL.
    code, _ = cli(capsys, "merchant", "create", "--name", "In A", "--url", f"{url}/ns/cli_a")
    assert code == 0
    assert cli(capsys, "namespace", "snapshot", "cli_a", "one", "--url", url)[0] == 0
    code, _ = cli(capsys, "merchant", "create", "--name", "Later", "--url", f"{url}/ns/cli_a")
    assert code == 0
    assert cli(capsys, "namespace", "restore", "cli_a", "one", "--url", url) == (
        0,
        "cli_a: back to snapshot one\n",
    )
    code, out = cli(capsys, "merchant", "list", "--json", "--url", f"{url}/ns/cli_a")
    assert [m["name"] for m in json.loads(out)["merchants"]] == ["In A"]
    code, out = cli(capsys, "namespace", "list", "--json", "--url", url)
    assert json.loads(out) == {"namespaces": [{"name": "cli_a", "base_url": f"{url}/ns/cli_a"}]}
    assert cli(capsys, "namespace", "drop", "cli_a", "--url", url) == (0, "dropped cli_a\n")
    assert cli(capsys, "namespace", "drop", "cli_a", "--url", url)[0] != 0


def test_another_process_of_the_server_finds_the_namespace(tmp_path: Path) -> None:
    """``serve --workers``: a namespace made through one process is served by another (the
    database is the registry), with the same data and clock."""
    first, second = (open_store(str(tmp_path / "wxpay.sqlite3")) for _ in range(2))
    try:
        with Harness.start(first) as one, Harness.start(second) as two:
            one.control("POST", "/_local/namespaces", {"name": "shared"})
            one.control(
                "POST",
                "/ns/shared/_local/clock",
                {"now": "2030-01-02T10:00:00+08:00", "freeze": True},
            )
            one.control("POST", "/ns/shared/_local/merchants", {"name": "Made in one"})
            seen = two.control("GET", "/ns/shared/_local/merchants")["merchants"]
            assert [m["name"] for m in seen] == ["Made in one"]
            assert two.control("GET", "/ns/shared/_local/clock")["now"].startswith("2030-01-02T10")
            assert [n["name"] for n in two.control("GET", "/_local/namespaces")["namespaces"]] == [
                "shared"
            ]
            one.control("DELETE", "/_local/namespaces/shared")
    finally:
        first.close()
        second.close()


def test_pages_and_console_answer_under_the_prefix(root: Harness) -> None:
    """Served by the namespace's own app (their inner links still use root paths:
    docs/namespaces.md, Limits)."""
    root.control("POST", "/_local/namespaces", {"name": "paged"})
    for path in ("/pages", "/console/login"):
        page = root.http.get(f"/ns/paged{path}")
        assert page.status_code == 200, path
        assert page.headers["content-type"].startswith("text/html")


def test_fault_rules_belong_to_their_namespace(spaces: tuple[Harness, Space, Space]) -> None:
    """A rule made in one namespace (its own database) never fires in another."""
    _, a, b = spaces
    shop_a = a.control("POST", "/_local/merchants", {"name": "Shop A"})
    shop_b = b.control("POST", "/_local/merchants", {"name": "Shop B"})
    a.control(
        "POST",
        "/_local/faults",
        {"action": "err_code", "endpoint": "unifiedorder", "err_code": "SYSTEMERROR"},
    )
    with pytest.raises(ResultError) as refused:
        order(a.client(shop_a), 100)
    assert refused.value.err_code == "SYSTEMERROR"
    assert order(b.client(shop_b), 100)["return_code"] == "SUCCESS"
    assert b.control("GET", "/_local/faults")["rules"] == []
