"""``wxpay-local``: the command line (click commands, rich tables).

``main`` is the console script's entry point and ``python -m wxpay_local``'s; ``root`` is the
click group, for tests that walk every command.
"""

from __future__ import annotations

from wxpay_local.cli.main import main, root

__all__ = ["main", "root"]
