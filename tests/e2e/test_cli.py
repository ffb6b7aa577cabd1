"""``wxpay-local`` commands against a live platform over a real socket: a table by default,
JSON with ``--json`` on every command (enumerated from the click group), one-line errors,
durations, ``reset`` asking first, certificates under the data directory.

Most commands run in this process through ``main`` (the console script's own entry point, so
its exit codes and error lines are what a person sees); the ones that must prove "no
traceback" or run a server run as subprocesses, the way a person starts them.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import click
import pytest

from wxpay_local.cli import main, root
from wxpay_local.sdk.client import RejectedError
from wxpay_local.settings import Settings
from wxpay_local.store import open_store
from wxpay_local.testing import Harness, MerchantSink
from wxpay_local.testing.harness import free_port

pytestmark = pytest.mark.e2e

BEIJING = timezone(timedelta(hours=8))
ISO_MILLIS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+08:00")


@dataclass
class Ran:
    code: int
    out: str
    err: str


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., Ran]:
    """``wxpay-local ARGV`` in this process; ``stdin``: what the person types."""

    def invoke(*argv: str, stdin: str = "") -> Ran:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        capsys.readouterr()
        with pytest.raises(SystemExit) as done:
            main(list(argv))
        captured = capsys.readouterr()
        code = done.value.code
        return Ran(code if isinstance(code, int) else 0, captured.out, captured.err)

    return invoke


def subprocess_cli(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wxpay_local", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=cwd,
        env={**os.environ, "WXPAY_URL": "", "WXPAY_ADMIN_TOKEN": ""},
    )


@pytest.fixture
def wxpay(tmp_path: Path) -> Iterator[Harness]:
    store = open_store(str(tmp_path / "wxpay.sqlite3"))
    settings = Settings(notify_timeout_seconds=2.0, require_client_cert=False)
    try:
        with Harness.start(store, live=True, settings=settings) as harness:
            yield harness
    finally:
        store.close()


def leaves(group: click.Group, path: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    """Every runnable command of the group, hidden aliases included."""
    found: set[tuple[str, ...]] = set()
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found |= leaves(command, (*path, name))
        else:
            found.add((*path, name))
    return found


@dataclass
class World:
    """What the sample commands refer to: a merchant, a paid order, a refund, a payer."""

    mch_id: str
    out_trade_no: str
    code_url: str
    refund_id: str
    payer_id: str


def _world(wxpay: Harness) -> World:
    shop = wxpay.merchant()
    client = wxpay.client(shop)
    payer = str(wxpay.payer(balance=10_000)["payer_id"])
    paid = client.unifiedorder(
        body="Shop-Latte",
        out_trade_no="CLI-1",
        total_fee=1000,
        spbill_create_ip="127.0.0.1",
        trade_type="NATIVE",
        product_id="latte",
        notify_url="http://127.0.0.1:9/notify",
    )
    wxpay.pay(int(payer), code_url=paid["code_url"])
    refunded = client.call(
        "/secapi/pay/refund",
        out_trade_no="CLI-1",
        out_refund_no="CLI-R1",
        total_fee=1000,
        refund_fee=300,
    )
    unpaid = client.unifiedorder(
        body="Shop-Mocha",
        out_trade_no="CLI-2",
        total_fee=500,
        spbill_create_ip="127.0.0.1",
        trade_type="NATIVE",
        product_id="mocha",
        notify_url="http://127.0.0.1:9/notify",
    )
    return World(shop.mch_id, "CLI-1", unpaid["code_url"], refunded["refund_id"], payer)


def _samples(w: World, tmp: Path) -> dict[tuple[str, ...], tuple[list[str], set[int]]]:
    """One invocation of every remote command, and the exit codes it may end with."""
    ok = {0}
    return {
        ("merchant", "create"): (["--name", "CLI shop"], ok),
        ("merchant", "list"): ([], ok),
        ("merchant", "cert"): ([w.mch_id, "--out", str(tmp / "certs")], ok),
        ("merchant", "rotate-key"): ([w.mch_id], ok),
        ("payer", "create"): (["--name", "Dora", "--balance", "700", "--card", "CMB_CREDIT"], ok),
        ("payer", "list"): ([], ok),
        ("payer", "show"): ([w.payer_id], ok),
        ("payer", "code"): ([w.payer_id], ok),
        # nothing waits for a password: the answer says so, and the exit status is 1
        ("payer", "confirm"): ([w.payer_id, "--password", "123456"], {1}),
        ("pay",): ([w.code_url, "--payer", w.payer_id], ok),
        ("refund", "list"): ([w.mch_id, w.out_trade_no], ok),
        ("refund", "outcome"): ([w.refund_id, "success"], ok),
        ("bill",): ([w.mch_id, "20240430", "--out", str(tmp / "bill.csv")], {1}),
        ("clock", "show"): ([], ok),
        ("clock", "advance"): (["90s"], ok),
        ("clock", "set"): (["2030-01-02T10:00:00+08:00"], ok),
        ("clock", "freeze"): ([], ok),
        ("clock", "reset"): ([], ok),
        ("clock", "real"): ([], ok),
        ("ledger",): ([], ok),
        ("notifications",): ([], ok),
        ("journal",): ([], ok),
        ("fault", "add"): (["delay", "--delay-ms", "1", "--endpoint", "nothing"], ok),
        ("fault", "list"): ([], ok),
        ("fault", "remove"): (["1"], ok),  # the rule just added: the first of this database
        ("fault", "clear"): ([], ok),
        ("trigger",): (["payment", "--mch-id", w.mch_id], ok),
        # nothing listens on port 9: every check fails, the report still is JSON, exit 1
        ("acceptance",): ([w.mch_id], ok),  # starts a run: arms rules for ACC* orders only
        ("probe",): (["--mch-id", w.mch_id, "http://127.0.0.1:9/notify"], {1}),
        ("namespace", "create"): (["cli_ns"], ok),
        ("namespace", "snapshot"): (["cli_ns", "s1"], ok),
        ("namespace", "restore"): (["cli_ns", "s1"], ok),
        ("namespace", "list"): ([], ok),
        ("namespace", "drop"): (["cli_ns"], ok),
        ("payer-outcome",): (["never", "--out-trade-no", "nothing"], ok),
        ("reset",): (["--yes"], ok),  # last: it deletes everything the others use
    }


def test_every_remote_command_prints_json_with_json(
    wxpay: Harness, tmp_path: Path, run: Callable[..., Ran]
) -> None:
    samples = _samples(_world(wxpay), tmp_path)
    local = {("serve",), ("worker",)}  # they start servers: test_serve_and_worker_print_json
    local |= {("tail",), ("listen",)}  # streams, a JSON line each: test_streams_print_json_lines
    assert set(samples) | local == leaves(root), "a new command needs a sample here"
    for path, (args, codes) in samples.items():
        done = run(*path, *args, "--json", "--url", wxpay.base_url)
        assert done.code in codes, (path, done)
        if path == ("bill",):  # no bill that day: the platform's reason, one line, no JSON
            assert done.out == "" and done.err.count("\n") == 1
            assert done.err.startswith(
                "wxpay-local: error: no bill (400): BAD_FIELD invalid bill_date"
            )
            continue
        assert isinstance(json.loads(done.out), dict), (path, done.out)


def test_bill_json_names_the_saved_file(
    wxpay: Harness, tmp_path: Path, run: Callable[..., Ran]
) -> None:
    w = _world(wxpay)
    [order] = [
        o
        for o in wxpay.control("GET", "/_local/orders", mch_id=w.mch_id)["orders"]
        if o["out_trade_no"] == "CLI-1"
    ]
    day = datetime.fromisoformat(order["created_at"]).astimezone(BEIJING).date()
    next_morning = datetime.combine(day + timedelta(days=1), time(10), BEIJING)
    wxpay.control("POST", "/_local/clock", {"now": next_morning.isoformat()})
    out = tmp_path / "day.csv"
    done = run(
        "bill",
        w.mch_id,
        day.strftime("%Y%m%d"),
        "--out",
        str(out),
        "--json",
        "--url",
        wxpay.base_url,
    )
    assert done.code == 0, done
    saved = json.loads(done.out)
    assert saved["saved"] == str(out) and saved["bytes"] == out.stat().st_size > 0
    assert "CLI-1" in out.read_text(encoding="utf-8")


def test_tables_by_default(wxpay: Harness, run: Callable[..., Ran]) -> None:
    w = _world(wxpay)
    url = ("--url", wxpay.base_url)
    merchants = run("merchant", "list", *url)
    assert merchants.code == 0
    header = merchants.out.splitlines()[0].split()
    assert header == ["mch_id", "name", "api_key", "apps"]
    assert w.mch_id in merchants.out and "Test shop" in merchants.out
    with pytest.raises(json.JSONDecodeError):
        json.loads(merchants.out)

    ledger = run("ledger", *url)
    rows = dict(line.split(None, 1) for line in ledger.out.splitlines()[2:] if line.strip())
    assert rows["total"].strip() == "0 fen"

    refunds = run("refund", "list", w.mch_id, w.out_trade_no, *url)
    assert w.refund_id in refunds.out and "CLI-R1" in refunds.out and "300 fen" in refunds.out


def test_the_journal_gives_iso_times(wxpay: Harness, run: Callable[..., Ran]) -> None:
    w = _world(wxpay)
    raw = wxpay.journal(mch_id=w.mch_id)
    as_json = json.loads(
        run("journal", "--mch-id", w.mch_id, "--json", "--url", wxpay.base_url).out
    )
    assert [e["id"] for e in as_json["entries"]] == [e["id"] for e in raw]
    for shown, stored in zip(as_json["entries"], raw, strict=True):
        assert ISO_MILLIS.fullmatch(shown["at"]), shown["at"]
        moment = datetime.fromisoformat(shown["at"])
        assert moment == datetime.fromtimestamp(stored["at"] / 1000, BEIJING)
    table = run("journal", "--mch-id", w.mch_id, "--url", wxpay.base_url).out
    assert "/pay/unifiedorder" in table and "/secapi/pay/refund" in table
    assert len(ISO_MILLIS.findall(table)) == len(raw)
    assert str(raw[0]["at"]) not in table


def test_clock_advance_takes_compound_durations(wxpay: Harness, run: Callable[..., Ran]) -> None:
    url = ("--url", wxpay.base_url)
    moved = run("clock", "advance", "1h30m", "--json", *url)
    assert moved.code == 0, moved
    assert json.loads(moved.out)["offset_seconds"] == 5400
    for amount, total in (("90s", 5490), ("5m", 5790), ("2d", 178_590), ("30", 178_620)):
        assert (
            json.loads(run("clock", "advance", amount, "--json", *url).out)["offset_seconds"]
            == total
        )
    shown = run("clock", "show", *url).out
    assert re.search(r"offset\s+\+2d1h37m$", shown, re.MULTILINE), shown
    back = json.loads(run("clock", "reset", "--json", *url).out)
    assert back["offset_seconds"] == 0 and back["frozen"] is False
    run("clock", "advance", "1m", *url)
    assert json.loads(run("clock", "real", "--json", *url).out)["offset_seconds"] == 0


@pytest.mark.parametrize(
    ("argv", "code", "says"),
    [
        (["clock", "advance", "5x"], 2, "'5x' is not a duration"),
        (["clock", "advance"], 2, "Missing argument 'DURATION'"),
        (["clock", "advance", "-5m"], 2, "No such option"),
        (["payer", "show", "999"], 1, "NOT_FOUND: no payer 999"),
        (["clock", "set", "yesterday"], 1, "BAD_FIELD: now must be an ISO 8601 date-time"),
    ],
)
def test_errors_are_one_line_with_a_non_zero_exit(
    wxpay: Harness, argv: list[str], code: int, says: str
) -> None:
    done = subprocess_cli(*argv, "--url", wxpay.base_url)
    assert done.returncode == code, done
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("wxpay-local: error: ")
    assert says in done.stderr and "Traceback" not in done.stderr


def test_an_unreachable_server_is_one_line() -> None:
    done = subprocess_cli("ledger", "--url", f"http://127.0.0.1:{free_port()}")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "is `wxpay-local serve` running?" in done.stderr


def test_reset_asks_unless_yes(wxpay: Harness, run: Callable[..., Ran]) -> None:
    w = _world(wxpay)
    url = ("--url", wxpay.base_url)
    kept = run("reset", *url, stdin="n\n")
    assert kept.code == 1 and "Delete every merchant" in kept.err
    assert kept.err.splitlines()[-1] == (
        "wxpay-local: error: nothing was deleted (--yes deletes without asking)"
    )
    assert w.mch_id in run("merchant", "list", *url).out
    nothing_typed = run("reset", *url)  # no terminal, nobody answers: nothing is deleted
    assert nothing_typed.code == 1 and w.mch_id in run("merchant", "list", *url).out
    assert run("reset", *url, stdin="y\n").code == 0
    assert run("merchant", "list", *url).out == "no merchants\n"
    wxpay.merchant()
    assert run("reset", "--yes", *url).code == 0
    assert run("merchant", "list", *url).out == "no merchants\n"


def test_merchant_cert_writes_under_the_data_directory(
    wxpay: Harness, tmp_path: Path, run: Callable[..., Ran], monkeypatch: pytest.MonkeyPatch
) -> None:
    mch_id = wxpay.merchant().mch_id
    url = ("--url", wxpay.base_url)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.delenv("WXPAY_DATA_DIR", raising=False)
    assert run("merchant", "cert", mch_id, *url).code == 0
    assert (work / "wxpay-data" / "certs" / mch_id / "apiclient_cert.pem").is_file()
    assert not (work / "wxpay-certs").exists()

    assert run("merchant", "cert", mch_id, "--data-dir", str(tmp_path / "d1"), *url).code == 0
    assert (tmp_path / "d1" / "certs" / mch_id / "apiclient_key.pem").is_file()

    monkeypatch.setenv("WXPAY_DATA_DIR", str(tmp_path / "d2"))
    done = run("merchant", "cert", mch_id, "--json", *url)
    files = json.loads(done.out)["files"]
    assert files["apiclient_cert.p12"] == str(
        tmp_path / "d2" / "certs" / mch_id / "apiclient_cert.p12"
    )
    assert Path(files["apiclient_cert.p12"]).is_file()


def _first_json(process: subprocess.Popen[str]) -> Any:
    """The JSON object a starting process prints first (it stops at a ``}`` line)."""
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.rstrip("\n") == "}":
            break
    return json.loads("".join(lines))


def _start(*argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "wxpay_local", *argv, "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _stop(process: subprocess.Popen[str]) -> int:
    process.send_signal(signal.SIGINT)
    try:
        return process.wait(20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)
        assert process.stdout is not None
        process.stdout.close()


def test_serve_and_worker_print_json(tmp_path: Path) -> None:
    data = tmp_path / "data"
    port = free_port()
    server = _start(
        "serve",
        "--data-dir",
        str(data),
        "--port",
        str(port),
        "--tls-port",
        "0",
        "--log-level",
        "warning",
    )
    try:
        facts = _first_json(server)
        assert facts["url"] == f"http://127.0.0.1:{port}"
        assert facts["first_run"] is True and facts["exposed"] is False
        assert facts["https_url"] is None and facts["admin_token"] is None
        assert facts["database"] == str(data / "wxpay.sqlite3")
        worker = _start("worker", "--data-dir", str(data))
        try:
            assert _first_json(worker) == {
                "worker": "started",
                "database": str(data / "wxpay.sqlite3"),
            }
        finally:
            assert _stop(worker) == 0
    finally:
        _stop(server)


def _stream_cli(*argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "wxpay_local", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "WXPAY_URL": "", "WXPAY_ADMIN_TOKEN": ""},
    )


def _first_line(process: subprocess.Popen[str], act: Callable[[], object]) -> dict[str, object]:
    """Do ``act`` until the streaming command prints its line (it may connect after the first
    act), then the line as JSON; the command stops by itself after ``--count 1``."""
    try:
        for _ in range(20):
            act()
            try:
                out, err = process.communicate(timeout=3)
            except subprocess.TimeoutExpired:
                continue
            assert process.returncode == 0, err
            found = json.loads(out.splitlines()[0])
            assert isinstance(found, dict)
            return found
        raise AssertionError("the stream printed nothing")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_streams_print_json_lines(wxpay: Harness) -> None:
    """``tail`` and ``listen`` over a real socket, as a person runs them: one JSON object per
    event with --json, and --count ends them."""
    shop = wxpay.merchant()
    client = wxpay.client(shop)
    tail = _stream_cli("tail", "--count", "1", "--json", "--url", wxpay.base_url)

    def query_unknown() -> None:
        with contextlib.suppress(RejectedError):  # ORDERNOTEXIST: still a journal entry
            client.orderquery(out_trade_no="NOPE-1")

    entry = _first_line(tail, query_unknown)
    assert entry["path"] == "/pay/orderquery"

    with MerchantSink() as local:
        listen = _stream_cli(
            "listen", "--mch-id", shop.mch_id, "--forward-to", local.url, "--count", "1",
            "--json", "--url", wxpay.base_url,
        )  # fmt: skip

        def pay_and_deliver() -> None:
            wxpay.control("POST", "/_local/trigger", {"mch_id": shop.mch_id, "kind": "payment"})
            wxpay.dispatch()

        delivery = _first_line(listen, pay_and_deliver)
    assert delivery["url"] == local.url and delivery["ok"] is True
    assert delivery["kind"] == "payment" and len(local.received) >= 1
