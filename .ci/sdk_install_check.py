"""The SDK installs alone: ``pip install ./sdk`` into a fresh virtual environment pulls no
server dependency, and ``from wxpay_sdk import Client, AsyncClient`` works there (issue 13).

Run by .ci/run; about 10-30 s (a venv, httpx and cryptography from the pip cache).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SERVER_ONLY = {
    "starlette",
    "uvicorn",
    "psycopg",
    "psycopg-binary",
    "psycopg-pool",
    "jinja2",
    "segno",
}


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="wxpay-sdk-venv-") as folder:
        venv.create(folder, with_pip=True)
        python = str(Path(folder, "bin", "python"))
        subprocess.run(
            [
                python,
                "-m",
                "pip",
                "install",
                "-q",
                "--disable-pip-version-check",
                str(ROOT / "sdk"),
            ],  # noqa: E501
            check=True,
            timeout=300,
        )
        listed = subprocess.run(
            [python, "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        )
        installed = {p["name"].lower() for p in json.loads(listed.stdout)}
        leaked = sorted(installed & SERVER_ONLY)
        leaked += sorted(n for n in installed if n.startswith("wxpay-local"))
        if leaked:
            print(f"pip install ./sdk pulled server dependencies: {leaked}", file=sys.stderr)
            return 1
        probe = "from wxpay_sdk import AsyncClient, Client; import wxpay_sdk, sys; "
        probe += "assert 'wxpay_local' not in sys.modules; print(wxpay_sdk.__version__)"
        subprocess.run([python, "-c", probe], check=True, timeout=60)
        print(f"pip install ./sdk: {len(installed)} packages, none of the server's")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
