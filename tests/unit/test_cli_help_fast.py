"""The CLI's help says where its commands go and how they authenticate."""

from __future__ import annotations

import argparse

import pytest

from wxpay_local.cli import parser


def _help(command: str) -> str:
    root = parser()
    sub = next(a for a in root._actions if isinstance(a, argparse._SubParsersAction))
    return " ".join(sub.choices[command].format_help().split())


@pytest.mark.parametrize("command", ["pay", "merchant", "ledger", "clock", "bill"])
def test_remote_commands_document_url_and_token(command: str) -> None:
    text = _help(command)
    assert "--url" in text and "WXPAY_URL" in text and "http://127.0.0.1:8700" in text
    assert "--admin-token" in text and "WXPAY_ADMIN_TOKEN" in text


def test_serve_documents_exposure_options() -> None:
    text = _help("serve")
    for option in ("--host", "--public-url", "--allowed-host", "--admin-token"):
        assert option in text
    assert "docs/security.md" in text
