"""`wxpay-local serve --host 0.0.0.0`: reachable from the network, so the control plane wants
the admin token, the banner says so, the CLI sends the token, the console keeps its logins."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import httpx
import pytest
from serve_support import DEMO_MCH_ID, cli, serve

pytestmark = pytest.mark.e2e

BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def _operations(url: str, token: str) -> list[tuple[str, str]]:
    """Every control-plane operation the server's own OpenAPI document lists, reset last."""
    auth = {"authorization": f"Bearer {token}"}
    doc = httpx.get(url + "/_local/openapi.json", headers=auth, trust_env=False).json()
    found = [
        (method.upper(), re.sub(r"\{[^}]+\}", "1", path))
        for path, item in doc["paths"].items()
        for method in item
        if method.upper() in {"GET", *BODY_METHODS}
    ]
    found.append(("GET", "/_local/openapi.json"))
    return sorted(found, key=lambda op: op[1] == "/_local/reset")


def test_on_all_interfaces_every_control_operation_wants_the_token(tmp_path: Path) -> None:
    with serve(tmp_path / "data", "--host", "0.0.0.0", "--admin-token", "T", token="T") as served:
        url = served.url  # connect over loopback: the token is still required
        banner = served.banner
        assert "REACHABLE FROM THE NETWORK" in banner, banner
        assert "Authorization: Bearer T" in banner
        assert f"WXPAY_URL={url}" in banner and "WXPAY_ADMIN_TOKEN=T" in banner
        assert f"--payer 1 --url {url}" in banner  # the hint names the port it listens on

        operations = _operations(url, "T")
        assert len(operations) >= 20 and ("POST", "/_local/reset") in operations
        for method, path in operations:
            body = {} if method in BODY_METHODS else None
            bare = httpx.request(method, url + path, json=body, trust_env=False)
            assert bare.status_code == 401, (method, path, bare.status_code)
            assert bare.json()["error"] == "UNAUTHORIZED"
            assert "api_key" not in bare.text and "PRIVATE KEY" not in bare.text
        # none of those did anything: the demo merchant is still there
        for method, path in operations:
            body = {} if method in BODY_METHODS else None
            headers = {"authorization": "Bearer T"}
            answer = httpx.request(method, url + path, json=body, headers=headers, trust_env=False)
            assert answer.status_code not in (401, 403, 415), (method, path, answer.text)
            if path == f"/_local/merchants/{DEMO_MCH_ID}":
                assert answer.json()["api_key"]

        token = {"WXPAY_ADMIN_TOKEN": "T"}
        created = cli("merchant", "create", "--name", "Net shop", url=url, env=token)
        assert created.returncode == 0, created.stderr
        listed = cli("merchant", "list", url=url, env=token)
        assert listed.returncode == 0 and "Net shop" in listed.stdout, listed.stderr
        refused = cli("merchant", "list", url=url, env={"WXPAY_ADMIN_TOKEN": ""})
        assert refused.returncode != 0 and "Net shop" not in refused.stdout
        assert "WXPAY_ADMIN_TOKEN" in refused.stderr
        by_option = cli(
            "ledger", "--json", "--admin-token", "T", url=url, env={"WXPAY_ADMIN_TOKEN": ""}
        )
        assert by_option.returncode == 0 and '"total": 0' in by_option.stdout

        with httpx.Client(base_url=url, trust_env=False) as browser:
            console = browser.get("/console")
            assert console.status_code == 303 and "/console/login" in console.headers["location"]
            wrong = browser.post("/console/login", data={"account": "operator", "password": "x"})
            assert wrong.status_code == 401
            assert browser.get("/console/orders").status_code == 303


def test_exposed_without_a_token_generates_one_into_the_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "data"
    public = ("--public-url", "http://wxpay.team.example:8700")
    with serve(data, *public) as served:
        saved = data / "admin-token"
        token = saved.read_text().strip()
        assert len(token) >= 24
        assert stat.S_IMODE(saved.stat().st_mode) == 0o600
        assert f"Bearer {token}" in served.banner and "published at" in served.banner
        assert httpx.get(served.url + "/_local/ledger", trust_env=False).status_code == 401
    with serve(data, *public, token=token) as again:
        assert f"Bearer {token}" in again.banner  # kept across restarts
        auth = {"authorization": f"Bearer {token}"}
        assert httpx.get(again.url + "/_local/ledger", headers=auth, trust_env=False).is_success
        named = {"host": "wxpay.team.example:8700"}
        assert httpx.get(again.url + "/pages", headers=named, trust_env=False).status_code == 200
        foreign = {"host": "attacker.example"}
        assert httpx.get(again.url + "/pages", headers=foreign, trust_env=False).status_code == 400
