"""wxpay-local: a self-hostable, wire-compatible WeChat Pay API v2 platform."""

from importlib.metadata import PackageNotFoundError, version

try:
    # one source of truth: pyproject.toml's version, as the installed package's metadata says
    __version__ = version("wxpay-local")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
