"""Does the test suite notice a typo in a platform message? Plant one in each, run the tests.

Every message text in ``src/wxpay_local/codes.py`` (``ReturnMsg``, the ``err_code_des`` and
``trade_state_desc`` tables, the two ``<field>参数…`` patterns) gets, one at a time, a character
inserted before its last one. The tests that could notice run (``pytest -x`` over the test files
holding that text as a literal, since no test imports it from codes); the planted file is then
restored. A message no test file holds is reported as never asserted.

Run from a copy of the tree, so that the working tree is never left planted:

    rsync -a --exclude .venv --exclude .git ./ /tmp/plant/ &&
        PYTHONPATH=/tmp/plant/src .venv/bin/python tests/plant_typos.py /tmp/plant

It prints one line per message: ``caught``, ``MISSED`` or ``NOT ASSERTED``. Names after the
root (``ORDERREVERSED``, ``ReturnMsg``) narrow the run to the messages whose name holds one.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

TYPO = "ㄨ"  # a character no platform message contains


@dataclass(frozen=True)
class Message:
    name: str
    text: str  # what a test holds literally
    start: int  # offset of the literal's text in codes.py
    end: int


def messages(source: str) -> list[Message]:
    """Each message literal of codes.py with its place (offsets into the source)."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line.encode()))
    raw = source.encode()

    def place(node: ast.Constant) -> tuple[int, int]:
        # The text inside the node's span (an f-string's part reports the whole f-string's).
        span_start = offsets[node.lineno - 1] + node.col_offset
        span_end = offsets[node.end_lineno - 1] + node.end_col_offset  # type: ignore[operator]
        start = raw.index(str(node.value).encode(), span_start, span_end)
        return start, start + len(str(node.value).encode())

    found: list[Message] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == "ReturnMsg":
            for item in node.body:
                if isinstance(item, ast.Assign) and isinstance(item.value, ast.Constant):
                    name = item.targets[0].id  # type: ignore[attr-defined]
                    start, end = place(item.value)
                    found.append(Message(f"ReturnMsg.{name}", item.value.value, start, end))
                if isinstance(item, ast.FunctionDef):
                    for sub in ast.walk(item):
                        if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
                            if "参数" in sub.value:
                                start, end = place(sub)
                                found.append(
                                    Message(f"ReturnMsg.{item.name}", sub.value, start, end)
                                )
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict):
            table = node.targets[0].id  # type: ignore[attr-defined]
            for key, value in zip(node.value.keys, node.value.values, strict=True):
                assert isinstance(key, ast.Attribute) and isinstance(value, ast.Constant)
                start, end = place(value)
                found.append(Message(f"{table}[{key.attr}]", value.value, start, end))
    for m in found:  # the offsets must point at the text itself
        assert raw[m.start : m.end].decode() == m.text, (m, raw[m.start : m.end].decode())
    return found


def files_holding(root: Path, text: str) -> list[str]:
    found = subprocess.run(
        ["grep", "-rlF", "--include=*.py", text, "tests"],
        cwd=root,
        capture_output=True,
        text=True,
    ).stdout.split()
    return sorted(f for f in found if Path(f).name.startswith("test_"))


def main(root: Path, only: list[str]) -> int:
    codes = root / "src" / "wxpay_local" / "codes.py"
    original = codes.read_bytes()
    results: list[tuple[str, str, str]] = []
    env = {k: v for k, v in os.environ.items() if k != "WXPAY_TEST_PG_URL"}  # SQLite is enough
    env["PYTHONPATH"] = str(root / "src")
    try:
        for m in messages(original.decode()):
            if only and not any(name in m.name for name in only):
                continue
            files = files_holding(root, m.text)
            if not files:
                results.append((m.name, m.text, "NOT ASSERTED"))
                print(f"{'NOT ASSERTED':12} {m.name} {m.text}", flush=True)
                continue
            text = m.text[:-1] + TYPO + m.text[-1]
            codes.write_bytes(original[: m.start] + text.encode() + original[m.end :])
            run = subprocess.run(
                [sys.executable, "-m", "pytest", "-x", "-q", "-n", "2", "-p", "no:cacheprovider"]
                + files,
                cwd=root,
                env=env,
                capture_output=True,
                text=True,
            )
            # -x under xdist ends "Interrupted" (status 2): read the summary line instead.
            summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else ""
            if re.search(r"\d+ failed", summary):
                verdict = "caught"
            elif run.returncode == 0:
                verdict = "MISSED"
            else:
                verdict = f"rc={run.returncode}: {summary}"
            results.append((m.name, m.text, verdict))
            print(f"{verdict:12} {m.name} {m.text}  ({' '.join(files)})", flush=True)
    finally:
        codes.write_bytes(original)
    missed = [r for r in results if r[2] != "caught"]
    print(f"{len(results) - len(missed)} of {len(results)} planted typos caught", flush=True)
    return 1 if missed else 0


if __name__ == "__main__":
    args = sys.argv[1:]
    sys.exit(main(Path(args[0] if args else ".").resolve(), args[1:]))
