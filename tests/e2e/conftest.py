"""Browser fixtures for the page tests (defined in browser_support.py, registered here)."""

from browser_support import browser, page, web

__all__ = ["browser", "page", "web"]
