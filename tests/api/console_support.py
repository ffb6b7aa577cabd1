"""A person's browser on the merchant console, over the platform's own transport."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

import httpx

from wxpay_local.testing import Harness

PASSWORD = "console-pw-1"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def console_browser(platform: Harness) -> httpx.Client:
    """A cookie-keeping client on the platform's transport (in-process or a real socket)."""
    return httpx.Client(
        base_url=platform.base_url, transport=platform.http._transport, follow_redirects=False
    )


@contextmanager
def signed_in(platform: Harness, account: str, password: str = PASSWORD) -> Iterator[httpx.Client]:
    with console_browser(platform) as client:
        answer = client.post("/console/login", data={"account": account, "password": password})
        assert answer.status_code == 303, answer.text
        yield client


def as_operator(platform: Harness) -> AbstractContextManager[httpx.Client]:
    return signed_in(platform, "operator", platform.operator_password())
