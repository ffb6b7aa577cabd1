#!/usr/bin/env python3
"""Prove the install a new user makes: the wheel, in a fresh virtual environment, no extras.

1. Build the wheel from the files a commit holds (tracked and not ignored: no stale build/).
2. The wheel holds every file under src/wxpay_local (templates, styles, scripts, migrations).
3. Install it into a fresh venv with no extras; ``wxpay-local --version`` is pyproject's.
4. ``wxpay-local serve`` on free ports with a temporary data dir: health, the console's login
   page, ``/pages``, every stylesheet and script those two pages link, and one order paid with
   ``wxpay-local pay … --url``. Then SIGTERM: it must exit by itself.
5. With pytest added (nothing else of the test extra): README's pytest example, extracted from
   README.md verbatim, passes in a fresh directory; README's Harness snippet runs; an unrelated
   trivial test suite passes with the plugin installed.

Any failure prints what happened and exits 1. Standard library only: it runs before and outside
any environment of ours. Usage: python3 .ci/install_check.py [--keep]  (--keep: leave the
temporary folder for a look).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START_SECONDS = 60


class CheckFailed(Exception):
    pass


def step(text: str) -> None:
    print(f"-- {text}", flush=True)


def run(*args: str | Path, cwd: Path | None = None, timeout: float = 300) -> str:
    command = [str(a) for a in args]
    done = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise CheckFailed(
            f"`{shlex.join(command)}` exited {done.returncode}:\n{done.stdout}{done.stderr}"
        )
    return done.stdout


def pip_quiet(venv: Path, *args: str | Path) -> None:
    # the pip warnings of unreachable extra indexes are noise; failures still raise
    run(venv / "bin" / "python", "-m", "pip", "install", "-q", *args)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Accept": "text/html,application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


def post(url: str, body: bytes) -> str:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(urllib.request.Request(url, data=body, method="POST"), timeout=10) as r:
        return str(r.read().decode("utf-8"))


# 1-2: the wheel --------------------------------------------------------------------------------
def copy_sources(target: Path) -> None:
    """The files a commit of this tree holds: tracked or new, never ignored (build/, .venv/)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, listed):
        source = ROOT / name.decode()
        if source.is_file():  # a tracked file deleted in the work tree is not listed here
            (target / name.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name.decode())


def build_wheel(sources: Path, dist: Path) -> Path:
    run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", dist, sources)
    [wheel] = dist.glob("wxpay_local-*.whl")
    return wheel


def compare_wheel(wheel: Path, sources: Path) -> None:
    package = sources / "src"
    expected = {
        p.relative_to(package).as_posix()
        for p in (package / "wxpay_local").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    shipped = {n for n in zipfile.ZipFile(wheel).namelist() if n.startswith("wxpay_local/")}
    missing = sorted(expected - shipped)
    if missing:
        raise CheckFailed(
            f"the wheel lacks {len(missing)} of the {len(expected)} files under src/:\n  "
            + "\n  ".join(missing)
        )
    extra = sorted(shipped - expected)
    if extra:
        raise CheckFailed("the wheel holds files that src/ does not:\n  " + "\n  ".join(extra))
    non_python = sum(1 for n in expected if not n.endswith(".py"))
    print(f"   {len(expected)} files, {non_python} of them not Python: all in the wheel")


# 4: the server ----------------------------------------------------------------------------------
def start_server(venv: Path, work: Path) -> tuple[subprocess.Popen[bytes], str, Path]:
    port, tls_port = free_port(), free_port()
    log = work / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [
                str(venv / "bin" / "wxpay-local"),
                "serve",
                "--data-dir",
                str(work / "data"),
                "--port",
                str(port),
                "--tls-port",
                str(tls_port),
            ],
            cwd=work,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,  # its own process group, to clean up whatever it started
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise CheckFailed("serve exited at start:\n" + log.read_text(errors="replace"))
        try:
            status, body = get(url + "/_local/health")
            if status == 200 and json.loads(body).get("status") == "ok":
                return server, url, log
        except OSError:
            pass
        time.sleep(0.2)
    raise CheckFailed(
        f"serve did not answer in {START_SECONDS} s:\n" + log.read_text(errors="replace")
    )


def check_page(url: str, path: str, must_contain: str) -> None:
    status, body = get(url + path)
    if status != 200 or must_contain not in body:
        raise CheckFailed(f"GET {path}: HTTP {status}, expected 200 with {must_contain!r}:\n{body}")
    assets = sorted(set(re.findall(r'(?:href|src)="(/[^"]+\.(?:css|js|svg))"', body)))
    for asset in assets:
        asset_status, _ = get(url + asset)
        if asset_status != 200:
            raise CheckFailed(f"{path} links {asset}, which answers HTTP {asset_status}")
    print(f"   {path}: 200, and {len(assets)} linked styles/scripts/images answer 200")


def pay_an_order(venv: Path, url: str, banner: str) -> None:
    """The banner's signed unifiedorder (as a person pastes it), then ``wxpay-local pay``."""
    curl = next((ln.strip() for ln in banner.splitlines() if ln.strip().startswith("curl ")), "")
    if not curl:
        raise CheckFailed("the banner has no curl example:\n" + banner)
    words = shlex.split(curl)
    target = next(w for w in words if w.startswith("http"))
    answer = post(target, words[words.index("-d") + 1].encode())
    code_url = re.search(r"<code_url><!\[CDATA\[(weixin://[^\]]+)\]\]>", answer)
    if not code_url:
        raise CheckFailed("the banner's unifiedorder gave no code_url:\n" + answer)
    cli = venv / "bin" / "wxpay-local"
    paid = run(cli, "pay", code_url.group(1), "--payer", "1", "--url", url)
    if not paid.startswith("SUCCESS"):
        raise CheckFailed("wxpay-local pay: " + paid)
    ledger = json.loads(run(cli, "ledger", "--json", "--url", url))
    print(f"   {paid.splitlines()[-1]}; ledger total {ledger.get('total')}")


def stop_server(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is not None:
        return
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(20)
    except subprocess.TimeoutExpired:
        raise CheckFailed("serve did not exit within 20 s of SIGTERM") from None
    finally:
        try:  # whatever is left of its group
            os.killpg(server.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


# 5: pytest in a fresh project --------------------------------------------------------------------
def readme_block(marker: str) -> str:
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text("utf-8"), re.S)
    found = [b for b in blocks if marker in b]
    if len(found) != 1:
        raise CheckFailed(f"README.md has {len(found)} python blocks with {marker!r}, not 1")
    return str(found[0])


def run_pytest(venv: Path, project: Path, expect: str) -> None:
    out = run(venv / "bin" / "python", "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=project)
    if expect not in out:
        raise CheckFailed(f"pytest in {project.name}: expected {expect!r}:\n{out}")
    print(f"   {project.name}: {expect}")


def main() -> int:
    keep = "--keep" in sys.argv[1:]
    work = Path(tempfile.mkdtemp(prefix="wxpay-install-check-"))
    version = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["version"]
    server: subprocess.Popen[bytes] | None = None
    log: Path | None = None
    started = time.monotonic()
    try:
        step("build the wheel from the committed tree")
        sources = work / "sources"
        copy_sources(sources)
        wheel = build_wheel(sources, work / "dist")
        print(f"   {wheel.name}")
        compare_wheel(wheel, sources)

        step("install it into a fresh venv, no extras")
        venv = work / "venv"
        run(sys.executable, "-m", "venv", venv)
        pip_quiet(venv, wheel)
        shown = run(venv / "bin" / "wxpay-local", "--version").strip()
        same = run(venv / "bin" / "python", "-m", "wxpay_local", "--version").strip()
        if shown != f"wxpay-local {version}" or same != shown:
            raise CheckFailed(f"--version says {shown!r} / {same!r}, pyproject says {version}")
        print(f"   {shown}")

        step("wxpay-local serve: health, console, pages, a paid order, SIGTERM")
        server, url, log = start_server(venv, work)
        check_page(url, "/console", 'type="password"')
        check_page(url, "/pages", "</html>")
        pay_an_order(venv, url, log.read_text(errors="replace"))
        stop_server(server)
        print(f"   stopped by SIGTERM, exit code {server.returncode}")

        step("pytest (alone) added: README's examples in fresh directories")
        pip_quiet(venv, "pytest")
        example = work / "readme-example"
        example.mkdir()
        (example / "test_readme_example.py").write_text(readme_block("def test_"), "utf-8")
        run_pytest(venv, example, "1 passed")
        harness = work / "readme-harness"
        harness.mkdir()
        printed = run(venv / "bin" / "python", "-c", readme_block("Harness.start("), cwd=harness)
        if not printed.startswith("http://127.0.0.1:"):
            raise CheckFailed("README's Harness snippet printed: " + printed)
        print(f"   the Harness snippet: {printed.strip()}")
        unrelated = work / "unrelated-project"
        unrelated.mkdir()
        (unrelated / "test_other.py").write_text("def test_other():\n    assert True\n", "utf-8")
        run_pytest(venv, unrelated, "1 passed")
    except (CheckFailed, subprocess.TimeoutExpired) as exc:
        print(f"\nINSTALL CHECK FAILED: {exc}", file=sys.stderr)
        if log is not None and log.exists():
            print("--- serve's output:\n" + log.read_text(errors="replace"), file=sys.stderr)
        return 1
    finally:
        if server is not None and server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(10)
        if keep:
            print(f"   kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"install check passed in {time.monotonic() - started:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
