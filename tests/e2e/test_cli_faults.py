"""``wxpay-local fault``: add, list, remove and clear rules on a running server."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from wxpay_local.cli import main
from wxpay_local.settings import Settings
from wxpay_local.store import open_store
from wxpay_local.testing import Harness

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Harness]:
    store = open_store(str(tmp_path / "wxpay.sqlite3"))
    try:
        with Harness.start(store, live=True, settings=Settings()) as harness:
            yield harness
    finally:
        store.close()


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    sys.stdin = io.StringIO("")
    capsys.readouterr()
    with pytest.raises(SystemExit) as done:
        main(list(argv))
    out = capsys.readouterr()
    code = done.value.code
    return (code if isinstance(code, int) else 0), out.out, out.err


def test_add_list_remove(server: Harness, capsys: pytest.CaptureFixture[str]) -> None:
    url = ("--url", server.base_url)
    code, out, _ = cli(
        capsys, "fault", "add", "err_code", "--err-code", "SYSTEMERROR", "--when", "after",
        "--endpoint", "micropay", "--times", "1", "--json", *url,
    )  # fmt: skip
    assert code == 0
    rule = json.loads(out)
    assert rule["describes"] == f"rule #{rule['id']}: SYSTEMERROR after commit"
    assert server.fault_rule(rule["id"])["times"] == 1
    code, out, _ = cli(capsys, "fault", "list", *url)
    assert code == 0 and "SYSTEMERROR after commit" in out and "micropay" in out
    code, out, _ = cli(capsys, "fault", "remove", str(rule["id"]), *url)
    assert code == 0 and out.strip() == f"rule #{rule['id']} removed"
    code, _, err = cli(capsys, "fault", "remove", str(rule["id"]), *url)
    assert code != 0 and err.startswith("wxpay-local: error:") and "NOT_FOUND" in err
    code, out, _ = cli(capsys, "fault", "list", "--json", *url)
    assert json.loads(out) == {"rules": []}


def test_a_bad_err_code_is_the_platforms_one_line_refusal(
    server: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(
        capsys, "fault", "add", "err_code", "--err-code", "NOPE", "--url", server.base_url
    )
    assert code != 0 and out == "" and err.count("\n") == 1 and "BAD_FIELD" in err


def test_payer_outcome_scripts_the_next_micropay(
    server: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    url = ("--url", server.base_url)
    code, out, _ = cli(
        capsys, "payer-outcome", "pays", "--at", "20", "--out-trade-no", "T-*", "--json", *url
    )
    assert code == 0
    rule = json.loads(out)
    assert rule["describes"] == f"rule #{rule['id']}: payer enters the password after 20 s"
    assert (rule["action"], rule["endpoint"], rule["times"]) == ("payer_pays", "micropay", 1)
    code, out, _ = cli(capsys, "payer-outcome", "bankerror", *url)
    assert code == 0 and "payer's bank refuses (BANKERROR)" in out
    code, out, _ = cli(capsys, "fault", "list", *url)
    assert "payer enters the password after 20 s" in out
    code, _, err = cli(capsys, "payer-outcome", "maybe", *url)
    assert code != 0 and "maybe" in err
