"""The root group and the one place errors are printed: a single line on stderr, a non-zero
exit, never a traceback (``WXPAY_DEBUG=1`` lets unexpected ones through, for us)."""

from __future__ import annotations

import os
import sys

import click
from click.exceptions import NoArgsIsHelpError

from wxpay_local import __version__
from wxpay_local.cli import (
    acceptance,
    bill,
    clock,
    faults,
    merchants,
    namespaces,
    payers,
    probe,
    records,
    serving,
)


@click.group(
    help="Run a local WeChat Pay API v2 platform (serve, worker) and drive a running one.",
    epilog="Every command takes --help and --json. Docs: README.md, docs/cli.md.",
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(
    __version__, "--version", prog_name="wxpay-local", message="%(prog)s %(version)s"
)
def root() -> None:
    pass


for command in (
    serving.serve,
    serving.worker,
    merchants.merchant,
    payers.payer,
    payers.pay,
    payers.refund,
    bill.bill,
    clock.clock,
    records.ledger,
    records.notifications,
    records.journal,
    records.reset,
    faults.fault,
    probe.probe,
    acceptance.acceptance,
    probe.trigger,
    probe.tail,
    probe.listen,
    namespaces.namespace,
    faults.payer_outcome,
):
    root.add_command(command)


def _fail(message: str, code: int) -> None:
    click.echo(f"wxpay-local: error: {message}", err=True)
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Run one command and exit with its status."""
    try:
        result = root.main(argv, prog_name="wxpay-local", standalone_mode=False)
    except NoArgsIsHelpError as exc:  # a group alone: its help, as click shows it
        exc.show()
        sys.exit(exc.exit_code)
    except click.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx is not None else "wxpay-local"
        _fail(f"{exc.format_message()} (see `{where} --help`)", exc.exit_code)
    except click.ClickException as exc:
        _fail(exc.format_message(), exc.exit_code)
    except click.Abort:
        _fail("aborted", 1)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except Exception as exc:  # a bug or the system's refusal: one line all the same
        if os.environ.get("WXPAY_DEBUG"):
            raise
        _fail(f"{type(exc).__name__}: {exc} (WXPAY_DEBUG=1 shows the traceback)", 1)
    sys.exit(result if isinstance(result, int) else 0)
