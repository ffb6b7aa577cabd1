"""Posting a payer page's form as a browser does: with the CSRF token of its payer session.

Every payer page carries the session's token (``<meta name="csrf-token">`` and a hidden
``csrf_token`` field in each form); the cookie comes with the page. ``post_form`` loads a page
first, as the person would, then posts the form with the token.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

TOKEN = re.compile(r'name="csrf-token" content="([0-9a-f]{32})"')


def form_token(http: httpx.Client, page: str = "/pages") -> str:
    """The payer session's CSRF token, as the page at ``page`` shows it (sets the cookie)."""
    response = http.get(page)
    found = TOKEN.search(response.text)
    assert found, (response.status_code, response.text[:300])
    return found.group(1)


def post_form(
    http: httpx.Client, path: str, data: dict[str, Any] | None = None, **kwargs: Any
) -> httpx.Response:
    """POST a payer form after loading a page of this session (the token rides along)."""
    return http.post(path, data={**(data or {}), "csrf_token": form_token(http)}, **kwargs)
