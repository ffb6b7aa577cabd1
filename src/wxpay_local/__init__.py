"""wxpay-local: a self-hostable, wire-compatible WeChat Pay API v2 platform."""

__version__ = "0.1.0"
