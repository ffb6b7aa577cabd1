"""The CLI's help says where its commands go and how they authenticate (no server needed)."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from wxpay_local.cli import root

pytestmark = pytest.mark.unit


def _leaves(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += _leaves(command, (*path, name))
        else:
            found.append((*path, name))
    return found


def _help(*path: str) -> str:
    shown = CliRunner().invoke(root, [*path, "--help"])
    assert shown.exit_code == 0, shown.output
    return " ".join(shown.output.split())


@pytest.mark.parametrize(
    "path", [("pay",), ("merchant", "list"), ("ledger",), ("clock", "advance"), ("bill",)]
)
def test_remote_commands_document_url_and_token(path: tuple[str, ...]) -> None:
    text = _help(*path)
    assert "--url" in text and "WXPAY_URL" in text and "http://127.0.0.1:8700" in text
    assert "--admin-token" in text and "WXPAY_ADMIN_TOKEN" in text


def test_serve_documents_exposure_options() -> None:
    text = _help("serve")
    for option in ("--host", "--public-url", "--allowed-host", "--admin-token"):
        assert option in text
    assert "docs/security.md" in text


@pytest.mark.parametrize("path", _leaves(root), ids=" ".join)
def test_every_option_and_command_has_help(path: tuple[str, ...]) -> None:
    command = root
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    assert command.help, f"{' '.join(path)} has no help"
    undocumented = [p.name for p in command.params if isinstance(p, click.Option) and not p.help]
    assert not undocumented, f"{' '.join(path)}: options without help: {undocumented}"


@pytest.mark.parametrize("path", [(), ("clock",), ("merchant", "cert"), ("serve",)], ids=str)
def test_help_shows_no_module_docstring(path: tuple[str, ...]) -> None:
    assert "Imports:" not in _help(*path)


def test_clock_help_lists_reset_and_hides_the_old_name_real() -> None:
    shown = CliRunner().invoke(root, ["clock", "--help"])
    listed = [line.split()[0] for line in shown.output.split("Commands:")[1].splitlines() if line]
    assert "reset" in listed and "real" not in listed
