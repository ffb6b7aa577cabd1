"""A ``Harness`` on a namespace of an already-running server (docs/namespaces.md).

The pytest plugin's ``--wxpay-url`` mode: instead of starting a platform of its own, a test
session (each xdist worker, or each test) gets a namespace of a shared server, made through the
server's control plane and dropped afterwards. Everything a test does goes over HTTP to
``<server>/ns/<name>``; there is no app object in this process.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from wxpay_local.testing.harness import Harness

_counter = itertools.count(1)


def namespace_name(kind: str) -> str:
    """A name no other process picks: the xdist worker, the process id, a counter."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    raw = f"pytest_{worker}_{os.getpid()}_{kind}{next(_counter)}".lower()
    return re.sub(r"[^a-z0-9_]", "_", raw)[:32]


@contextmanager
def namespace_harness(server_url: str, admin_token: str = "", name: str = "") -> Iterator[Harness]:
    """A harness on a fresh namespace of the server at ``server_url`` (dropped at the end)."""
    name = name or namespace_name("w")
    headers = {"authorization": f"Bearer {admin_token}"} if admin_token else {}
    server = server_url.rstrip("/")
    with httpx.Client(base_url=server, timeout=30, trust_env=False, headers=headers) as root:
        made = root.post("/_local/namespaces", json={"name": name})
        if made.status_code != 200:
            raise RuntimeError(f"could not create namespace {name!r} on {server}: {made.text}")
        base = f"{server}/ns/{name}"
        try:
            with httpx.Client(base_url=base, timeout=30, trust_env=False, headers=headers) as http:
                yield Harness(None, http, base)
        finally:
            root.delete(f"/_local/namespaces/{name}")
