"""The commands that drive a running server through its control plane (``/_local/``).

``remote_command`` gives each such command ``--url`` (``WXPAY_URL``), ``--admin-token``
(``WXPAY_ADMIN_TOKEN``) and ``--json``, and hands it a ``Remote``: every HTTP failure becomes
one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from typing import Any

import click
import httpx

from wxpay_local.cli.output import Output

DEFAULT_URL = "http://127.0.0.1:8700"
TOKEN_HINT = "give the token the server printed: --admin-token T or WXPAY_ADMIN_TOKEN=T"


class Remote:
    """A running wxpay-local, and how this command prints what it answers."""

    def __init__(self, url: str, admin_token: str | None, out: Output) -> None:
        self.url = url.rstrip("/")
        self.admin_token = admin_token or None
        self.out = out

    @property
    def headers(self) -> dict[str, str]:
        """The control plane's bearer token (needed when the server is not on loopback only)."""
        return {"authorization": f"Bearer {self.admin_token}"} if self.admin_token else {}

    def unreachable(self, exc: Exception) -> click.ClickException:
        return click.ClickException(
            f"cannot reach wxpay-local at {self.url}: {exc} (is `wxpay-local serve` running?)"
        )

    def call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        timeout: float = 30,
    ) -> Any:
        """The control plane's JSON answer; a 4xx/5xx becomes its ``error`` and ``message``."""
        try:
            response = httpx.request(
                method,
                self.url + path,
                json=body,
                params=params,
                headers=self.headers,
                timeout=timeout,
                trust_env=False,
            )
        except httpx.HTTPError as exc:
            raise self.unreachable(exc) from None
        try:
            data = response.json()
        except ValueError:
            raise click.ClickException(
                f"{self.url} answered HTTP {response.status_code} without JSON: is it wxpay-local?"
            ) from None
        if response.status_code >= 400:
            error = data.get("error") if isinstance(data, dict) else None
            message = data.get("message") if isinstance(data, dict) else None
            text = f"{error or response.status_code}: {message or response.reason_phrase}"
            if response.status_code == 401:
                text += f" ({TOKEN_HINT})"
            raise click.ClickException(text)
        return data

    def stream(
        self, path: str, params: dict[str, str] | None = None, body: dict[str, Any] | None = None
    ) -> Iterator[Any]:
        """Each JSON line of a streamed answer, as it arrives (POST when there is a body)."""
        return _stream_lines(self, path, params, body)


def _stream_lines(
    remote: Remote, path: str, params: dict[str, str] | None, body: dict[str, Any] | None
) -> Iterator[Any]:
    try:
        with httpx.stream(
            "POST" if body is not None else "GET",
            remote.url + path,
            params=params,
            json=body,
            headers=remote.headers,
            timeout=httpx.Timeout(30, read=None),
            trust_env=False,
        ) as response:
            if response.status_code >= 400:
                response.read()
                raise click.ClickException(_refusal(response))
            for line in response.iter_lines():
                if line.strip():  # blank lines keep the connection alive
                    yield json.loads(line)
    except httpx.HTTPError as exc:
        raise remote.unreachable(exc) from None


def _refusal(response: httpx.Response) -> str:
    try:
        data = response.json()
        return f"{data['error']}: {data['message']}"
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}: {response.text[:200]}"


def json_option(f: Callable[..., None]) -> Callable[..., None]:
    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        help="Print JSON (for scripts) instead of a table.",
    )(f)


def remote_command(f: Callable[..., None]) -> Callable[..., None]:
    """``f(remote, ...)`` with the options every control-plane command shares."""

    @functools.wraps(f)
    def wrapper(*args: Any, url: str, admin_token: str | None, as_json: bool, **kw: Any) -> None:
        f(Remote(url, admin_token, Output(as_json)), *args, **kw)

    command: Callable[..., None] = json_option(wrapper)
    command = click.option(
        "--admin-token",
        envvar="WXPAY_ADMIN_TOKEN",
        metavar="TOKEN",
        help="The server's admin token, when it is not on loopback only "
        "(env WXPAY_ADMIN_TOKEN; `serve` prints it).",
    )(command)
    command = click.option(
        "--url",
        envvar="WXPAY_URL",
        default=DEFAULT_URL,
        show_default=True,
        help="The running wxpay-local (env WXPAY_URL; `serve` prints it).",
    )(command)
    return command
